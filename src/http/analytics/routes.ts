/**
 * Analyst routes over the read models: the payment collection with filters and
 * keyset pagination, and volume reports. JSON by default, CSV streamed when asked
 * for with `Accept: text/csv`. Every answer says how fresh it is; a client that
 * just wrote can ask to wait (bounded) until the read model has caught up with
 * the position its write returned.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { formatPosition, parsePosition, type GlobalPosition } from '../../event-store/port';
import type { Freshness, ProjectionFreshness } from '../../projections/freshness';
import { principalFrom, requireRole } from '../auth';
import { problemResponse, RequestHeaders, type OpenAPIRegistry } from '../openapi';
import { PaymentStatus } from '../payments/schemas';
import { HttpProblem, methodNotAllowed, validationProblem } from '../problem';
import { csvLine, streamCsv } from './csv';
import {
  CSV_ROWS_MAX,
  encodeCursor,
  GROUP_BY_DIMENSIONS,
  PAGE_ROWS_DEFAULT,
  parsePaymentsQuery,
  parseVolumeQuery,
  PaymentsQueryShape,
  VolumeQueryShape,
  type PaymentsFilter,
} from './filters';
import { cursorOf, type ReadModelQueries } from '../../projections/read-models/queries';
import { paymentItem, type PaymentItem } from './representation';

export const WAIT_FOR_POSITION_HEADER = 'X-Wait-For-Position';
/** Problem type (`/problems/position-beyond-log-head`) of a wait for a position no write has answered. */
export const POSITION_BEYOND_LOG = 'position-beyond-log-head';
export const FRESHNESS_HEADERS = {
  position: 'X-Projection-Position',
  status: 'X-Projection-Status',
  lagEvents: 'X-Projection-Lag-Events',
  lagSeconds: 'X-Projection-Lag-Seconds',
} as const;

/** Rows read per query while streaming a CSV export. */
export const CSV_PAGE_ROWS = 1_000;

export interface AnalyticsRouterOptions {
  /** The read models' queries: the routes map requests to them and rows to answers, and write no SQL. */
  readonly queries: ReadModelQueries;
  readonly freshness: Freshness;
  readonly registry: OpenAPIRegistry;
  /** Longest a request may wait for a projection to reach the position it asked for. */
  readonly readWaitMsMax: number;
  readonly today?: () => string;
  /** Rows read per query while streaming a CSV export; CSV_PAGE_ROWS unless a test needs several pages. */
  readonly csvPageRows?: number;
}

export function createAnalyticsRouter(options: AnalyticsRouterOptions): Router {
  const router = Router();
  registerOpenApi(options.registry);
  const today = options.today ?? (() => new Date().toISOString().slice(0, 10));

  router
    .route('/payments')
    .get(requireRole('client', 'analyst', 'operator', 'supervisor'), async (req, res) => {
      // Every check before the wait for a position and before a CSV's 200.
      const format = negotiate(req);
      const filter = scopeToPrincipal(parsePaymentsQuery(req.query as Record<string, unknown>, format), res);
      await announceFreshness(req, res, options, 'payments', filter.minPosition);
      if (format === 'csv') return streamCsv(req, res, 'payments.csv', CSV_COLUMNS, paymentsCsvChunks(options, filter));
      const limit = filter.limit ?? PAGE_ROWS_DEFAULT;
      const rows = await options.queries.payments(filter, filter.cursor, limit + 1);
      const page = rows.slice(0, limit);
      const nextCursor = rows.length > limit ? encodeCursor(cursorOf(page[page.length - 1]!)) : null;
      res.json({ items: page.map(paymentItem), nextCursor, next: nextCursor && nextLink(req, nextCursor) });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/reports/volume')
    .get(requireRole('analyst', 'operator', 'supervisor'), async (req, res) => {
      const filter = parseVolumeQuery(req.query as Record<string, unknown>, today());
      const format = negotiate(req);
      await announceFreshness(req, res, options, 'daily_volume', filter.minPosition);
      const rows = await options.queries.volume(filter);
      if (format === 'json') {
        res.json({ from: filter.from, to: filter.to, groupBy: filter.groupBy, rows });
        return;
      }
      const columns = [...(filter.groupBy.includes('day') ? ['day'] : []), ...(filter.groupBy.includes('status') ? ['status'] : []), 'currency', 'count', 'amount', 'refundCount', 'refundedAmount', 'netAmount'];
      const lines = rows.map((row) => csvLine(columns.map((column) => (row as unknown as Record<string, unknown>)[column])));
      await streamCsv(req, res, 'volume.csv', columns, lines);
    })
    .all(methodNotAllowed(['GET']));

  return router;
}

function negotiate(req: Request): 'json' | 'csv' {
  const chosen = req.accepts(['application/json', 'text/csv']);
  if (chosen === false) throw new HttpProblem(406, 'not-acceptable', 'Not acceptable', 'this resource is available as application/json or text/csv');
  return chosen === 'text/csv' ? 'csv' : 'json';
}

/** Clients see their own tenant only; naming another is refused rather than silently narrowed. */
function scopeToPrincipal(filter: PaymentsFilter, res: Response): PaymentsFilter {
  const principal = principalFrom(res);
  if (principal.kind !== 'client') return filter;
  if (filter.tenant !== undefined && filter.tenant !== principal.tenantId) {
    throw new HttpProblem(403, 'tenant-forbidden', 'Forbidden', 'a client sees its own tenant only: leave `tenant` out or give your own');
  }
  return { ...filter, tenant: principal.tenantId };
}

/** The position to wait for, and where the request named it (for a problem's pointer). */
function waitTarget(req: Request, fromQuery: GlobalPosition | undefined): { position: GlobalPosition; pointer: string } | undefined {
  if (fromQuery) return { position: fromQuery, pointer: '#/query/minPosition' };
  const header = req.get(WAIT_FOR_POSITION_HEADER);
  if (header === undefined) return undefined;
  const pointer = '#/header/x-wait-for-position';
  const parsed = parsePosition(header.trim());
  if (!parsed) throw validationProblem([{ pointer, detail: 'must be a log position "commit/prepare" as in X-Log-Position' }]);
  return { position: parsed, pointer };
}

/**
 * A position after the newest one the log has written was never given out by a
 * write: waiting for it would only hold the request for the whole bound, polling.
 */
function beyondLogProblem(target: { position: GlobalPosition; pointer: string }, lastWritten: GlobalPosition): HttpProblem {
  const detail = `${formatPosition(target.position)} is after the newest position the log has written (${formatPosition(lastWritten)}): send an X-Log-Position a write answered`;
  return new HttpProblem(400, POSITION_BEYOND_LOG, 'The position is beyond the log', detail, {
    errors: [{ pointer: target.pointer, detail }],
    lastWrittenPosition: formatPosition(lastWritten),
  });
}

function setFreshnessHeaders(res: Response, freshness: ProjectionFreshness): void {
  res.setHeader(FRESHNESS_HEADERS.position, freshness.position ? formatPosition(freshness.position) : 'none');
  res.setHeader(FRESHNESS_HEADERS.status, freshness.status);
  res.setHeader(FRESHNESS_HEADERS.lagEvents, `${freshness.eventsBehind}${freshness.eventsBehindCapped ? '+' : ''}`);
  res.setHeader(FRESHNESS_HEADERS.lagSeconds, freshness.secondsBehind.toFixed(3));
}

/**
 * Sets the freshness headers, after waiting for the asked position if there is
 * one. Measured before the query runs, so the data is at least as fresh as said.
 */
async function announceFreshness(req: Request, res: Response, options: AnalyticsRouterOptions, projection: string, minPosition: GlobalPosition | undefined): Promise<void> {
  const wait = waitTarget(req, minPosition);
  if (!wait) return setFreshnessHeaders(res, await options.freshness.current(projection));
  const target = wait.position;
  const { reached, freshness, beyondLog } = await options.freshness.waitFor(projection, target, options.readWaitMsMax);
  if (beyondLog) throw beyondLogProblem(wait, beyondLog);
  setFreshnessHeaders(res, freshness);
  if (!reached) {
    throw new HttpProblem(
      503,
      'projection-behind',
      'The read model has not reached that position yet',
      `waited ${options.readWaitMsMax} ms for ${projection} to reach ${formatPosition(target)}; it is at ${freshness.position ? formatPosition(freshness.position) : 'none'}`,
      { projection, position: freshness.position ? formatPosition(freshness.position) : null, waitedForPosition: formatPosition(target) },
      { 'Retry-After': '1' },
    );
  }
}

const CSV_COLUMNS = ['tenant', 'id', 'status', 'amount', 'currency', 'debtorName', 'debtorIban', 'creditorName', 'creditorIban', 'reference', 'createdAt', 'updatedAt', 'bankTransferId', 'attempts', 'refundedAmount'];

const csvCells = (item: PaymentItem) => [
  item.tenant, item.id, item.status, item.amount, item.currency, item.debtor.name, item.debtor.iban, item.creditor.name, item.creditor.iban,
  item.reference, item.createdAt, item.updatedAt, item.bankTransferId, item.attempts, item.refundedAmount,
];

/** The export's lines, one chunk per page read. */
async function* paymentsCsvChunks(options: AnalyticsRouterOptions, filter: PaymentsFilter): AsyncGenerator<string> {
  let remaining = Math.min(filter.limit ?? CSV_ROWS_MAX, CSV_ROWS_MAX);
  let after = filter.cursor;
  while (remaining > 0) {
    const rows = await options.queries.payments(filter, after, Math.min(options.csvPageRows ?? CSV_PAGE_ROWS, remaining));
    if (rows.length === 0) return;
    yield rows.map((row) => csvLine(csvCells(paymentItem(row)))).join('');
    remaining -= rows.length;
    after = cursorOf(rows[rows.length - 1]!);
  }
}

function nextLink(req: Request, cursor: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(req.query)) if (name !== 'cursor' && typeof value === 'string') params.set(name, value);
  params.set('cursor', cursor);
  return `${req.path}?${params.toString()}`;
}

function registerOpenApi(registry: OpenAPIRegistry): void {
  const freshnessHeader = (description: string) => ({ description, required: true, schema: { type: 'string' as const } });
  const freshnessHeaders = {
    [FRESHNESS_HEADERS.position]: freshnessHeader('Log position the read model has reached ("commit/prepare", or none)'),
    [FRESHNESS_HEADERS.status]: freshnessHeader('running, stopped (poison event) or rebuilding'),
    [FRESHNESS_HEADERS.lagEvents]: freshnessHeader('Events not yet applied ("1000+" when counting stopped there)'),
    [FRESHNESS_HEADERS.lagSeconds]: freshnessHeader('Age in seconds of the oldest event not yet applied'),
  };
  const Party = z.object({ name: z.string(), iban: z.string().describe('Masked: ****1234') });
  const PaymentItemSchema = z
    .object({
      id: z.string(), tenant: z.string(), status: PaymentStatus, amount: z.string(), currency: z.string(), debtor: Party, creditor: Party,
      reference: z.string().nullable(), createdAt: z.string(), updatedAt: z.string(), bankTransferId: z.string().nullable(), attempts: z.number().int(),
      refundedAmount: z.string().describe('Refunds the bank executed, in the payment\'s currency'),
    })
    .openapi('PaymentListItem');
  const PaymentPage = z
    .object({ items: z.array(PaymentItemSchema), nextCursor: z.string().nullable(), next: z.string().nullable().describe('The next page as a relative URL with the same filters') })
    .openapi('PaymentPage');
  const VolumeReport = z
    .object({
      from: z.string(), to: z.string(), groupBy: z.array(z.enum(GROUP_BY_DIMENSIONS)),
      rows: z.array(
        z.object({
          day: z.string().optional(), status: PaymentStatus.optional(), currency: z.string(), count: z.number().int(), amount: z.string(), amountMinor: z.string(),
          refundCount: z.number().int().describe('Refunds the bank executed on these payments, counted apart from them'),
          refundedAmount: z.string(), refundedAmountMinor: z.string(),
          netAmount: z.string().describe('amount less refundedAmount'), netAmountMinor: z.string(),
        }),
      ),
    })
    .openapi('VolumeReport');
  const errors = {
    400: problemResponse(
      'Invalid filters or X-Wait-For-Position / minPosition, every problem listed; or (type /problems/position-beyond-log-head, answered at once) ' +
        'a position after the newest the log has written, which no write ever answered',
    ),
    406: problemResponse('Neither JSON nor CSV acceptable'),
    503: problemResponse('The read model did not reach the asked position within the wait bound', { 'Retry-After': 'required' }),
  };
  const csv = { 'text/csv': { schema: z.string() } };
  registry.registerPath({
    method: 'get',
    path: '/payments',
    operationId: 'listPayments',
    tags: ['analytics'],
    summary: 'List payments from the read model (analysts, operators; clients see their own tenant)',
    description: `Keyset pagination in (createdAt, tenant, id) order: follow nextCursor. \`Accept: text/csv\` streams up to ${CSV_ROWS_MAX} rows.`,
    request: { query: z.object(PaymentsQueryShape), headers: [RequestHeaders.waitForPosition] },
    responses: {
      200: { description: 'A page of payments', headers: freshnessHeaders, content: { 'application/json': { schema: PaymentPage }, ...csv } },
      ...errors,
      403: problemResponse('Role not allowed, or another tenant named by a client'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/reports/volume',
    operationId: 'getVolumeReport',
    tags: ['analytics'],
    summary: 'Payment counts and amounts per day, currency and status (staff)',
    request: { query: z.object(VolumeQueryShape), headers: [RequestHeaders.waitForPosition] },
    responses: { 200: { description: 'The report', headers: freshnessHeaders, content: { 'application/json': { schema: VolumeReport }, ...csv } }, ...errors },
  });
}
