/**
 * The ops portal in real headless Chromium against the real operator API (real
 * store, real gateway, sandbox bank over HTTP): with the bank down, an operator
 * proposes a resolution from the page; their own attempt to approve it is
 * refused on the page; a supervisor in a second browser context approves it;
 * the operator's page then shows the payment resolved and the refusal in the
 * audit trail.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { KEYS } from '../../../test/support/api';
import { serverPostgresUrl } from '../../../test/support/databases';
import { TENANT } from '../../bank-gateway/testing/harness';
import { startOpsApi, type OpsApi } from '../ops/testing';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const haveChromium = existsSync(CHROMIUM_PATH);
if (!haveChromium) process.stdout.write(`[ops portal e2e] SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)\n`);

const WAIT_MS = 20_000;

(haveChromium ? describe : describe.skip)('ops portal in headless Chromium', () => {
  let ops: OpsApi;
  let browser: Browser;

  beforeAll(async () => {
    ops = await startOpsApi(serverPostgresUrl() ? 'postgres' : 'pglite');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ops?.close();
  });

  async function signedIn(key: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => process.stderr.write(`[page error] ${error.message}\n`));
    await page.goto(`${ops.url}/ops`);
    await page.fill('#api-key', key);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    return page;
  }

  it('when the bank is down, an operator proposes, cannot approve it, a supervisor in another context approves, and the operator sees the payment resolved', async () => {
    await ops.bank.setFaults({ outage: true });
    const id = `portal-${Date.now().toString(36)}`;
    await ops.harness.requestPayment(id);
    await ops.harness.waitForStatus(id, ['unknown'], 15_000);

    const operator = await signedIn(KEYS.operator);
    const row = `#parked tr[data-tenant="${TENANT}"][data-id="${id}"]`;
    await operator.waitForSelector(row, { timeout: WAIT_MS });
    expect(await operator.textContent(`${row} td:nth-child(3)`)).toBe('unknown');
    await operator.click(`${row} button`);

    // The bank button shows what the bank holds: nothing readable while it is down.
    await operator.click('#bank-lookup');
    await operator.waitForSelector('body[data-lookup="done"]', { timeout: WAIT_MS });
    expect(await operator.textContent('#lookup-result dd[data-field="payment-status"]')).toBe('unknown');
    expect(await operator.textContent('#lookup-result dd[data-field="lookup"]')).toContain('unavailable');

    await operator.selectOption('#resolve-outcome', 'rejected');
    await operator.fill('#resolve-reason', 'bank statement shows no debit');
    await operator.fill('#resolve-evidence', 'statement 2026-12-01 line 4');
    await operator.click('#resolve-form button[type=submit]');
    await operator.waitForSelector('body[data-action="done"]', { timeout: WAIT_MS });
    const proposed = (await operator.textContent('#action-result')) ?? '';
    expect(proposed).toContain('a supervisor must approve proposal');
    const approvalId = /proposal ([0-9A-Z]{26})/.exec(proposed)![1]!;
    expect(await ops.harness.status(id)).toBe('unknown');

    // The operator tries to approve their own proposal from the queue: the API refuses, the page says so.
    const approvalRow = `#approvals tr[data-approval-id="${approvalId}"]`;
    await operator.waitForSelector(approvalRow, { timeout: WAIT_MS });
    await operator.fill(`${approvalRow} input.decision-reason`, 'approving my own');
    await operator.click(`${approvalRow} button:text("Approve")`);
    await operator.waitForSelector('body[data-decision="done"]', { timeout: WAIT_MS });
    expect(await operator.getAttribute('#approvals-result', 'data-kind')).toBe('refused');
    expect(await operator.textContent('#approvals-result')).toContain('403');
    expect(await operator.textContent('#approvals-result')).toContain('/problems/supervisor-required');
    expect(await ops.harness.status(id)).toBe('unknown');

    // A supervisor, in a browser context of their own, approves it.
    const supervisor = await signedIn(KEYS.supervisor);
    await supervisor.waitForSelector(approvalRow, { timeout: WAIT_MS });
    expect(await supervisor.textContent(`${approvalRow} td:nth-child(3)`)).toBe('rejected');
    await supervisor.fill(`${approvalRow} input.decision-reason`, 'bank confirmed by phone, call 7731');
    await supervisor.click(`${approvalRow} button:text("Approve")`);
    await supervisor.waitForSelector('body[data-decision="done"]', { timeout: WAIT_MS });
    expect(await supervisor.getAttribute('#approvals-result', 'data-kind')).toBe('done');
    expect(await supervisor.textContent('#approvals-result')).toContain('executed');
    expect(await ops.harness.status(id)).toBe('rejected');

    // Back on the operator's page: the payment is resolved, and the trail shows who did what, the refusal included.
    await operator.click('#bank-lookup');
    await operator.waitForSelector('#lookup-result dd[data-field="payment-status"]:text("rejected")', { timeout: WAIT_MS });
    await operator.click('#load-audit');
    await operator.waitForSelector('#audit tr[data-type="PaymentResolvedByOperator"]', { timeout: WAIT_MS });
    const refused = (await operator.textContent('#audit tr[data-type="OperatorActionRefused"]')) ?? '';
    expect(refused).toContain('supervisor_required');
    expect(await operator.textContent('#audit tr[data-type="PaymentResolvedByOperator"] td:nth-child(3)')).toContain('supervisor:');
    await operator.reload();
    await operator.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    expect(await operator.$(row)).toBeNull();
  });

  it('when the page is loaded, then it is public, locked down by CSP, and its data needs the key', async () => {
    const page = await fetch(`${ops.url}/ops`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${ops.url}/ops/payments`)).status).toBe(401);
    const analyst = await signedInExpectingError(KEYS.analyst);
    expect(analyst).toContain('Forbidden');
  });

  async function signedInExpectingError(key: string): Promise<string> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ops.url}/ops`);
    await page.fill('#api-key', key);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('body[data-ready="error"]', { timeout: WAIT_MS });
    return (await page.textContent('#status')) ?? '';
  }
});
