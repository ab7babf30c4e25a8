/**
 * The ops portal's page, script and style, kept as strings like the analyst
 * dashboard's (same stack and look: plain browser JavaScript, no build, no
 * framework). The staff key typed into the page stays in sessionStorage (gone
 * when the tab closes); every call carries it, so the API's own roles decide
 * what the person may do. Every POST sends a fresh Idempotency-Key, kept for
 * the form until it succeeds or is refused, so a resubmitted form after a lost
 * answer is replayed, not done twice. Text from the API is only ever set with
 * textContent, never as HTML.
 */

export const OPS_PORTAL_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paystream — ops portal</title>
<link rel="stylesheet" href="/ops/portal/portal.css">
</head>
<body>
<header>
  <h1>paystream operations</h1>
  <form id="key-form" autocomplete="off">
    <label>Staff API key <input id="api-key" type="password" required></label>
    <button type="submit">Connect</button>
    <button type="button" id="forget-key">Forget key</button>
  </form>
  <p id="status" role="status"></p>
</header>
<main>
  <section>
    <h2>Payments needing an operator</h2>
    <div class="controls">
      <label>Show <select id="queue-status"><option value="unknown">unknown outcome</option><option value="parked">parked in the queue</option><option value="submitted">still with the gateway</option></select></label>
      <button type="button" id="refresh">Refresh</button>
    </div>
    <table id="parked"><thead><tr><th>Tenant</th><th>Id</th><th>Status</th><th>Attempts</th><th>Last error</th><th>Updated</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section id="payment-panel">
    <h2>Payment <span id="selected-payment">none selected</span></h2>
    <div class="controls">
      <button type="button" id="bank-lookup" disabled>Look up at the bank</button>
      <button type="button" id="load-audit" disabled>Audit trail</button>
    </div>
    <dl id="lookup-result"></dl>
    <div class="forms">
      <form id="retry-form">
        <h3>Retry</h3>
        <label>Reason <input id="retry-reason" required maxlength="500"></label>
        <button type="submit" disabled>Retry</button>
      </form>
      <form id="resolve-form">
        <h3>Resolve</h3>
        <label>Outcome <select id="resolve-outcome"><option value="settled">settled</option><option value="rejected">rejected</option></select></label>
        <label>Bank transfer id <input id="resolve-transfer" maxlength="64" placeholder="for settled"></label>
        <label>Reason <input id="resolve-reason" required maxlength="500"></label>
        <label>Evidence <input id="resolve-evidence" required maxlength="2000" placeholder="statement line, call reference"></label>
        <button type="submit" disabled>Resolve</button>
      </form>
    </div>
    <p id="action-result" role="alert"></p>
    <table id="audit"><thead><tr><th>When</th><th>Event</th><th>By</th><th>Details</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Approvals</h2>
    <div class="controls">
      <label>Show <select id="approval-status"><option>pending</option><option>approved</option><option>rejected</option><option>expired</option></select></label>
      <button type="button" id="refresh-approvals">Refresh</button>
    </div>
    <p id="approvals-result" role="alert"></p>
    <table id="approvals"><thead><tr><th>Proposed</th><th>Payment</th><th>Action</th><th>By</th><th>Reason and evidence</th><th>Bank said</th><th>Status</th><th>Decision</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script src="/ops/portal/portal.js"></script>
</body>
</html>`;

export const OPS_PORTAL_CSS = `
body { font-family: system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2330; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; border-bottom: 1px solid #d8dce6; }
h1 { font-size: 1.3rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
.controls { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: 1rem 0; }
.forms { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1.5rem; margin: 1rem 0; }
.forms form { display: flex; flex-direction: column; gap: .4rem; border: 1px solid #eceef3; padding: .75rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceef3; vertical-align: top; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: .9rem; }
dt { font-weight: 600; }
#status { color: #5b6478; font-size: .9rem; }
#action-result[data-kind="refused"], #approvals-result[data-kind="refused"] { color: #b3261e; }
#action-result[data-kind="done"], #approvals-result[data-kind="done"] { color: #166534; }
`;

export const OPS_PORTAL_JS = String.raw`(function () {
  'use strict';
  var KEY_NAME = 'paystream.staffKey';
  var selected = null;
  var pendingKeys = {};
  var $ = function (id) { return document.getElementById(id); };

  function setStatus(text) { $('status').textContent = text; }
  function newKey() { return crypto.randomUUID(); }

  /** Resolves with { ok, status, body }; a refusal is an answer to show, not an exception. */
  function api(method, path, body, idempotencyKey) {
    var key = sessionStorage.getItem(KEY_NAME);
    if (!key) return Promise.reject(new Error('enter your staff API key'));
    var headers = { Authorization: 'Bearer ' + key, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(function (response) {
      return response.json().then(function (json) { return { ok: response.ok, status: response.status, body: json, replayed: response.headers.get('Idempotent-Replayed') === 'true' }; });
    });
  }

  function problemText(answer) {
    var body = answer.body || {};
    var parts = [answer.status + ' ' + (body.title || 'refused'), body.detail || ''];
    (body.errors || []).forEach(function (e) { parts.push(e.pointer.replace('#/', '') + ': ' + e.detail); });
    (body.mismatches || []).forEach(function (m) { parts.push(m.field + ': ours ' + m.expected + ', bank ' + m.bank); });
    return parts.filter(Boolean).join(' — ') + (body.type ? ' (' + body.type + ')' : '');
  }

  function show(id, kind, text) { var node = $(id); node.dataset.kind = kind; node.textContent = text; }

  function cells(tr, values) {
    values.forEach(function (value) { var td = document.createElement('td'); td.textContent = value === null || value === undefined ? '' : String(value); tr.appendChild(td); });
  }

  function button(label, onClick) { var b = document.createElement('button'); b.type = 'button'; b.textContent = label; b.addEventListener('click', onClick); return b; }

  /** One Idempotency-Key per form submission: kept while the answer is lost (network), dropped once answered. */
  function post(formName, path, body) {
    var identity = formName + ' ' + path + ' ' + JSON.stringify(body);
    if (!pendingKeys[identity]) pendingKeys[identity] = newKey();
    return api('POST', path, body, pendingKeys[identity]).then(function (answer) { delete pendingKeys[identity]; return answer; });
  }

  function loadParked() {
    return api('GET', '/ops/payments?status=' + encodeURIComponent($('queue-status').value) + '&limit=100').then(function (answer) {
      if (!answer.ok) throw new Error(problemText(answer));
      var body = $('parked').querySelector('tbody');
      body.replaceChildren();
      answer.body.items.forEach(function (item) {
        var tr = document.createElement('tr');
        tr.dataset.tenant = item.tenant; tr.dataset.id = item.id;
        cells(tr, [item.tenant, item.id, item.status, item.attempts, item.lastError, item.updatedAt.slice(0, 19).replace('T', ' ')]);
        var td = document.createElement('td');
        td.appendChild(button('Select', function () { select(item.tenant, item.id); }));
        tr.appendChild(td);
        body.appendChild(tr);
      });
    });
  }

  function paymentPath(suffix) { return '/ops/payments/' + encodeURIComponent(selected.tenant) + '/' + encodeURIComponent(selected.id) + suffix; }

  function select(tenant, id) {
    selected = { tenant: tenant, id: id };
    $('selected-payment').textContent = tenant + ' / ' + id;
    document.querySelectorAll('#payment-panel button').forEach(function (b) { b.disabled = false; });
    $('lookup-result').replaceChildren();
    $('audit').querySelector('tbody').replaceChildren();
    show('action-result', '', '');
  }

  function describe(list, pairs) {
    list.replaceChildren();
    pairs.forEach(function (pair) {
      var dt = document.createElement('dt'); dt.textContent = pair[0];
      var dd = document.createElement('dd'); dd.textContent = pair[1] === null || pair[1] === undefined ? '—' : String(pair[1]);
      dd.dataset.field = pair[2];
      list.appendChild(dt); list.appendChild(dd);
    });
  }

  function lookUp() {
    document.body.dataset.lookup = 'loading';
    return api('GET', paymentPath('/bank-lookup')).then(function (answer) {
      if (!answer.ok) { show('action-result', 'refused', problemText(answer)); document.body.dataset.lookup = 'error'; return; }
      var b = answer.body;
      describe($('lookup-result'), [
        ['Payment status', b.payment.status, 'payment-status'],
        ['Amount', b.payment.amount + ' ' + b.payment.currency, 'amount'],
        ['Bank lookup', b.lookup ? b.lookup.result + (b.lookup.detail ? ' (' + b.lookup.detail + ')' : '') : 'never submitted', 'lookup'],
        ['Bank transfer', b.transfer ? b.transfer.bankTransferId + ' ' + b.transfer.status + ', ' + b.transfer.amountMinor + ' minor ' + b.transfer.currency + ' to ' + b.transfer.creditorIban : 'none found', 'transfer'],
      ]);
      document.body.dataset.lookup = 'done';
    });
  }

  function loadAudit() {
    document.body.dataset.audit = 'loading';
    return api('GET', paymentPath('/audit')).then(function (answer) {
      if (!answer.ok) { show('action-result', 'refused', problemText(answer)); document.body.dataset.audit = 'error'; return; }
      var body = $('audit').querySelector('tbody');
      body.replaceChildren();
      answer.body.items.forEach(function (item) {
        var tr = document.createElement('tr');
        tr.dataset.type = item.type;
        var d = item.data || {};
        var details = item.type === 'OperatorActionRefused' ? 'refused ' + d.action + ': ' + d.problem + ' — ' + d.detail : (d.reason ? 'reason: ' + d.reason : '') + (d.evidence ? '; evidence: ' + d.evidence : '') + (d.outcome ? '; outcome: ' + d.outcome : '');
        cells(tr, [item.recordedAt.slice(0, 19).replace('T', ' '), item.type, item.by, details]);
        body.appendChild(tr);
      });
      document.body.dataset.audit = 'done';
    });
  }

  function afterAction(answer, what) {
    if (!answer.ok) { show('action-result', 'refused', problemText(answer)); return; }
    var b = answer.body;
    if (b.action === 'proposed') show('action-result', 'done', what + ': the bank cannot tell, so a supervisor must approve proposal ' + b.approval.id);
    else show('action-result', 'done', what + ': payment now ' + (b.payment ? b.payment.status : b.status) + (answer.replayed ? ' (replayed)' : ''));
    return Promise.all([loadParked(), loadApprovals(), loadAudit()]);
  }

  function loadApprovals() {
    return api('GET', '/ops/approvals?status=' + encodeURIComponent($('approval-status').value) + '&limit=100').then(function (answer) {
      if (!answer.ok) throw new Error(problemText(answer));
      var body = $('approvals').querySelector('tbody');
      body.replaceChildren();
      answer.body.items.forEach(function (item) {
        var tr = document.createElement('tr');
        tr.dataset.approvalId = item.id;
        var a = item.action;
        var execution = item.execution ? ', ' + item.execution.status + (item.execution.problem ? ' (' + item.execution.problem + ')' : '') : '';
        cells(tr, [item.proposedAt.slice(0, 19).replace('T', ' '), a.tenant + ' / ' + a.paymentId, a.outcome + (a.bankTransferId ? ' on ' + a.bankTransferId : ''), item.proposedBy, item.reason + ' — ' + item.evidence, item.bankAnswer, item.status + execution]);
        var td = document.createElement('td');
        if (item.status === 'pending') {
          var reason = document.createElement('input'); reason.placeholder = 'reason'; reason.className = 'decision-reason'; reason.maxLength = 500;
          td.appendChild(reason);
          ['approve', 'reject'].forEach(function (decision) {
            td.appendChild(button(decision === 'approve' ? 'Approve' : 'Reject', function () { decide(item.id, decision, reason.value.trim()); }));
          });
        }
        tr.appendChild(td);
        body.appendChild(tr);
      });
    });
  }

  function decide(approvalId, decision, reason) {
    if (!reason) { show('approvals-result', 'refused', 'give a reason for the decision'); return; }
    document.body.dataset.decision = 'loading';
    return post(decision, '/ops/approvals/' + encodeURIComponent(approvalId) + '/' + decision, { reason: reason }).then(function (answer) {
      if (!answer.ok) show('approvals-result', 'refused', problemText(answer));
      else show('approvals-result', 'done', decision + 'd ' + approvalId + (answer.body.execution ? ': ' + answer.body.execution.status + ' — ' + answer.body.execution.detail : '') + (answer.replayed ? ' (replayed)' : ''));
      return loadApprovals();
    }).then(function () { document.body.dataset.decision = 'done'; }, function (error) { show('approvals-result', 'refused', error.message); document.body.dataset.decision = 'error'; });
  }

  function refresh() {
    document.body.dataset.ready = 'false';
    setStatus('loading…');
    return Promise.all([loadParked(), loadApprovals()]).then(function () {
      setStatus('connected');
      document.body.dataset.ready = 'true';
    }).catch(function (error) { setStatus(error.message); document.body.dataset.ready = 'error'; });
  }

  function whileBusy(name, promise) {
    document.body.dataset[name] = 'loading';
    return promise.then(function () { document.body.dataset[name] = 'done'; }, function (error) { show('action-result', 'refused', error.message); document.body.dataset[name] = 'error'; });
  }

  $('key-form').addEventListener('submit', function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY_NAME, $('api-key').value.trim());
    $('api-key').value = '';
    refresh();
  });
  $('forget-key').addEventListener('click', function () { sessionStorage.removeItem(KEY_NAME); setStatus('key forgotten'); });
  $('refresh').addEventListener('click', refresh);
  $('queue-status').addEventListener('change', refresh);
  $('refresh-approvals').addEventListener('click', refresh);
  $('approval-status').addEventListener('change', refresh);
  $('bank-lookup').addEventListener('click', function () { whileBusy('lookup', lookUp()); });
  $('load-audit').addEventListener('click', function () { whileBusy('audit', loadAudit()); });
  $('retry-form').addEventListener('submit', function (event) {
    event.preventDefault();
    whileBusy('action', post('retry', paymentPath('/retry'), { reason: $('retry-reason').value.trim() }).then(function (answer) { return afterAction(answer, 'retry'); }));
  });
  $('resolve-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var body = { outcome: $('resolve-outcome').value, reason: $('resolve-reason').value.trim(), evidence: $('resolve-evidence').value.trim() };
    var transfer = $('resolve-transfer').value.trim();
    if (transfer) body.bankTransferId = transfer;
    whileBusy('action', post('resolve', paymentPath('/resolve'), body).then(function (answer) { return afterAction(answer, 'resolve'); }));
  });

  if (sessionStorage.getItem(KEY_NAME)) refresh(); else setStatus('enter your staff API key (operator or supervisor)');
})();
`;
