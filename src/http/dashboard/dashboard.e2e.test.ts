import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { KEYS } from '../../../test/support/api';
import { startAnalyticsApi, type AnalyticsApi } from '../../../test/support/analytics-api';
import { runMixedWorkload } from '../../projections/testing/workload';
import { DAILY_VOLUME_TABLE } from '../../projections/read-models/daily-volume';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const haveChromium = existsSync(CHROMIUM_PATH);
if (!haveChromium) process.stdout.write(`[dashboard e2e] SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)\n`);

const isoDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

interface ChartData { labels: string[]; data: number[] }

/** Reads what a chart actually draws, from Chart.js's own registry in the page. */
async function chartData(page: Page, canvasId: string): Promise<ChartData> {
  // A string expression: the test compiles without the DOM library, the page runs it.
  return page.evaluate(`(() => {
    const chart = window.Chart.getChart(document.getElementById(${JSON.stringify(canvasId)}));
    if (!chart) throw new Error('no chart on #${canvasId}');
    return { labels: chart.data.labels, data: chart.data.datasets[0].data };
  })()`);
}

(haveChromium ? describe : describe.skip)('analyst dashboard in headless Chromium', () => {
  let api: AnalyticsApi;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    api = await startAnalyticsApi('pglite');
    const workload = await runMixedWorkload(api.harness.store, { paymentCount: 36, seed: 5, firstDay: isoDay(-4), dayCount: 4, currencies: ['EUR', 'GBP'] });
    expect((await api.projector.freshness.waitFor('daily_volume', workload.lastPosition!, 20_000)).reached).toBe(true);
    expect((await api.projector.freshness.waitFor('payments', workload.lastPosition!, 20_000)).reached).toBe(true);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('pageerror', (error) => process.stderr.write(`[page error] ${error.message}\n`));
    await page.goto(`${api.url}/dashboard`);
    await page.fill('#api-key', KEYS.analyst);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('when the analyst connects, then the per-day chart draws the read model volume of the main currency', async () => {
    const currency = await page.inputValue('#currency');
    const rows = await api.harness.database.query<{ day: string; amount: string }>(
      `SELECT day::text AS day, SUM(amount_minor)::text AS amount FROM ${DAILY_VOLUME_TABLE} WHERE currency = $1 GROUP BY day ORDER BY day`,
      [currency],
    );
    const chart = await chartData(page, 'volume-by-day');
    expect(rows.rows.length).toBeGreaterThan(1);
    expect(chart.labels).toEqual(rows.rows.map((row) => row.day));
    expect(chart.data).toEqual(rows.rows.map((row) => Number(row.amount) / 100));
  });

  it('when the analyst connects, then the per-status chart and the count table match the read model', async () => {
    const currency = await page.inputValue('#currency');
    const perStatus = await api.harness.database.query<{ status: string; amount: string }>(
      `SELECT status, SUM(amount_minor)::text AS amount FROM ${DAILY_VOLUME_TABLE} WHERE currency = $1 GROUP BY status ORDER BY status`,
      [currency],
    );
    const chart = await chartData(page, 'volume-by-status');
    expect(Object.fromEntries(chart.labels.map((label, index) => [label, chart.data[index]]))).toEqual(Object.fromEntries(perStatus.rows.map((row) => [row.status, Number(row.amount) / 100])));
    const counts = await api.harness.database.query<{ status: string; count: string }>(`SELECT status, SUM(payment_count)::text AS count FROM ${DAILY_VOLUME_TABLE} GROUP BY status`);
    for (const row of counts.rows) expect(await page.textContent(`#status-counts tr[data-status="${row.status}"] td:nth-child(2)`)).toBe(row.count);
  });

  it('when the analyst filters the payment table by status, then every row shown has that status and all of them are there', async () => {
    await page.selectOption('#filter-status', 'settled');
    await page.click('#payment-filters button[type=submit]');
    await page.waitForSelector('body[data-ready="true"]');
    const statuses = await page.$$eval('#payments tbody tr td:nth-child(4)', (cells) => cells.map((cell) => cell.textContent));
    const expected = await api.harness.database.query<{ count: string }>(`SELECT count(*)::text AS count FROM rm_payments WHERE status = 'settled'`);
    expect(statuses.length).toBe(Number(expected.rows[0]!.count));
    expect(new Set(statuses)).toEqual(new Set(['settled']));
  });

  it('when the page is loaded, then it is public but its data needs the key, which stays in this tab only', async () => {
    const response = await fetch(`${api.url}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.evaluate("sessionStorage.getItem('paystream.analystKey')")).toBe(KEYS.analyst);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });
});
