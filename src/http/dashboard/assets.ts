/**
 * The dashboard's page, script and style, kept as strings so the compiled build
 * carries them without a copy step. The script is plain browser JavaScript (no
 * build, no framework): it asks for the analyst key, keeps it in sessionStorage
 * (gone when the tab closes), and draws from the analyst API.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paystream — analyst dashboard</title>
<link rel="stylesheet" href="/dashboard/dashboard.css">
</head>
<body>
<header>
  <h1>paystream analytics</h1>
  <form id="key-form" autocomplete="off">
    <label>Analyst API key <input id="api-key" type="password" required></label>
    <button type="submit">Connect</button>
    <button type="button" id="forget-key">Forget key</button>
  </form>
  <p id="status" role="status"></p>
</header>
<main>
  <section class="controls">
    <label>From <input id="from" type="date"></label>
    <label>To <input id="to" type="date"></label>
    <label>Currency <select id="currency"></select></label>
    <button type="button" id="refresh">Refresh</button>
    <span id="freshness"></span>
  </section>
  <section class="charts">
    <figure><figcaption>Volume per day</figcaption><canvas id="volume-by-day"></canvas></figure>
    <figure><figcaption>Volume per status</figcaption><canvas id="volume-by-status"></canvas></figure>
  </section>
  <section>
    <h2>Payments by status</h2>
    <table id="status-counts"><thead><tr><th>Status</th><th>Payments</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Payments</h2>
    <form id="payment-filters" class="controls">
      <label>Status <select id="filter-status"><option value="">any</option><option>requested</option><option>submitted</option><option>settled</option><option>rejected</option><option>unknown</option><option>cancelled</option></select></label>
      <label>Currency <input id="filter-currency" size="4" maxlength="3" placeholder="EUR"></label>
      <label>Tenant <input id="filter-tenant" size="12"></label>
      <label>Min amount <input id="filter-min" size="8"></label>
      <label>Max amount <input id="filter-max" size="8"></label>
      <button type="submit">Filter</button>
    </form>
    <p id="payments-error" role="alert"></p>
    <table id="payments"><thead><tr><th>Created</th><th>Tenant</th><th>Id</th><th>Status</th><th>Amount</th><th>Currency</th><th>Debtor</th><th>Creditor</th><th>Reference</th></tr></thead><tbody></tbody></table>
    <button type="button" id="next-page" hidden>Next page</button>
  </section>
</main>
<script src="/dashboard/chart.umd.js"></script>
<script src="/dashboard/dashboard.js"></script>
</body>
</html>`;

export const DASHBOARD_CSS = `
body { font-family: system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2330; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; border-bottom: 1px solid #d8dce6; }
h1 { font-size: 1.3rem; }
.controls { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: 1rem 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 1.5rem; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceef3; }
td.amount { text-align: right; font-variant-numeric: tabular-nums; }
#status, #freshness { color: #5b6478; font-size: .9rem; }
#payments-error { color: #b3261e; }
`;

export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var KEY_NAME = 'paystream.analystKey';
  var STATUSES = ['requested', 'submitted', 'settled', 'rejected', 'unknown', 'cancelled'];
  var COLOURS = { requested: '#7a8599', submitted: '#3b82f6', settled: '#16a34a', rejected: '#dc2626', unknown: '#f59e0b', cancelled: '#a3a3a3' };
  var charts = {};
  var nextCursor = null;
  var $ = function (id) { return document.getElementById(id); };

  function setStatus(text) { $('status').textContent = text; }

  function api(path, params) {
    var key = sessionStorage.getItem(KEY_NAME);
    if (!key) return Promise.reject(new Error('enter the analyst API key'));
    var query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (name) { if (params[name]) query.set(name, params[name]); });
    var url = path + (query.toString() ? '?' + query.toString() : '');
    return fetch(url, { headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var details = (body.errors || []).map(function (e) { return e.pointer.replace('#/query/', '') + ': ' + e.detail; }).join('; ');
          throw new Error((body.title || response.statusText) + (details ? ' — ' + details : ''));
        }
        return { body: body, position: response.headers.get('X-Projection-Position'), lagSeconds: response.headers.get('X-Projection-Lag-Seconds') };
      });
    });
  }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  function drawChart(id, type, labels, datasets) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), { type: type, data: { labels: labels, datasets: datasets }, options: { animation: false, responsive: true, plugins: { legend: { position: 'bottom' } } } });
  }

  function amountNumber(text) { return Number(text); }

  function renderVolume(byDay, byStatus, currency) {
    var days = byDay.rows.filter(function (row) { return row.currency === currency; });
    drawChart('volume-by-day', 'bar', days.map(function (row) { return row.day; }), [{ label: 'Volume (' + currency + ')', data: days.map(function (row) { return amountNumber(row.amount); }), backgroundColor: '#3b82f6' }]);
    var statuses = byStatus.rows.filter(function (row) { return row.currency === currency; });
    drawChart('volume-by-status', 'bar', statuses.map(function (row) { return row.status; }), [{ label: 'Volume (' + currency + ')', data: statuses.map(function (row) { return amountNumber(row.amount); }), backgroundColor: statuses.map(function (row) { return COLOURS[row.status] || '#888'; }) }]);
  }

  function renderStatusCounts(byStatus) {
    var counts = {};
    byStatus.rows.forEach(function (row) { counts[row.status] = (counts[row.status] || 0) + row.count; });
    var body = $('status-counts').querySelector('tbody');
    body.replaceChildren();
    STATUSES.forEach(function (status) {
      var tr = document.createElement('tr');
      tr.dataset.status = status;
      [status, String(counts[status] || 0)].forEach(function (text) { var td = document.createElement('td'); td.textContent = text; tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function fillCurrencies(byStatus) {
    var select = $('currency');
    var totals = {};
    byStatus.rows.forEach(function (row) { totals[row.currency] = (totals[row.currency] || 0) + row.count; });
    var currencies = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a] || a.localeCompare(b); });
    var chosen = currencies.indexOf(select.value) >= 0 ? select.value : currencies[0];
    select.replaceChildren();
    currencies.forEach(function (code) { var option = document.createElement('option'); option.value = code; option.textContent = code; select.appendChild(option); });
    if (chosen) select.value = chosen;
    return chosen;
  }

  function loadReports() {
    var range = { from: $('from').value, to: $('to').value };
    return Promise.all([api('/reports/volume', Object.assign({ groupBy: 'day' }, range)), api('/reports/volume', Object.assign({ groupBy: 'status' }, range))]).then(function (results) {
      var currency = fillCurrencies(results[1].body);
      renderVolume(results[0].body, results[1].body, currency);
      renderStatusCounts(results[1].body);
      $('freshness').textContent = 'read model at ' + results[1].position + ', ' + results[1].lagSeconds + ' s behind';
    });
  }

  function paymentFilters() {
    return { status: $('filter-status').value, currency: $('filter-currency').value.trim().toUpperCase(), tenant: $('filter-tenant').value.trim(), minAmount: $('filter-min').value.trim(), maxAmount: $('filter-max').value.trim(), limit: '50' };
  }

  function loadPayments(append) {
    var params = paymentFilters();
    if (append && nextCursor) params.cursor = nextCursor;
    $('payments-error').textContent = '';
    return api('/payments', params).then(function (result) {
      var body = $('payments').querySelector('tbody');
      if (!append) body.replaceChildren();
      result.body.items.forEach(function (item) {
        var tr = document.createElement('tr');
        [item.createdAt.slice(0, 19).replace('T', ' '), item.tenant, item.id, item.status, item.amount, item.currency, item.debtor.name + ' ' + item.debtor.iban, item.creditor.name + ' ' + item.creditor.iban, item.reference || ''].forEach(function (text, index) {
          var td = document.createElement('td'); td.textContent = text; if (index === 4) td.className = 'amount'; tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      nextCursor = result.body.nextCursor;
      $('next-page').hidden = !nextCursor;
    }).catch(function (error) { $('payments-error').textContent = error.message; throw error; });
  }

  function refresh() {
    document.body.dataset.ready = 'false';
    setStatus('loading…');
    return Promise.all([loadReports(), loadPayments(false)]).then(function () {
      setStatus('connected');
      document.body.dataset.ready = 'true';
    }).catch(function (error) { setStatus(error.message); document.body.dataset.ready = 'error'; });
  }

  $('key-form').addEventListener('submit', function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY_NAME, $('api-key').value.trim());
    $('api-key').value = '';
    refresh();
  });
  $('forget-key').addEventListener('click', function () { sessionStorage.removeItem(KEY_NAME); setStatus('key forgotten'); });
  $('refresh').addEventListener('click', refresh);
  $('currency').addEventListener('change', refresh);
  $('payment-filters').addEventListener('submit', function (event) {
    event.preventDefault();
    document.body.dataset.ready = 'false';
    loadPayments(false).then(function () { document.body.dataset.ready = 'true'; }, function () { document.body.dataset.ready = 'error'; });
  });
  $('next-page').addEventListener('click', function () { loadPayments(true); });

  var today = new Date();
  $('to').value = isoDay(today);
  $('from').value = isoDay(new Date(today.getTime() - 30 * 86400000));
  if (sessionStorage.getItem(KEY_NAME)) refresh(); else setStatus('enter the analyst API key to load data');
})();
`;
