/**
 * Query strings of the analyst routes to typed filters. Every problem is
 * collected, each with its `#/query/...` pointer, so one 400 lists them all:
 * per-parameter problems first, then the ones between parameters (an amount
 * without a currency, a range that ends before it starts).
 */
import { z } from 'zod';
import '../openapi';
import { CURRENCY_CODES, currencyExponent, isCurrencyCode } from '../../domain/money';
import { isPaymentId, isTenantId, TENANT_ID_PATTERN } from '../../domain/ids';
import { parsePosition } from '../../event-store/port';
import type { PaymentStatus } from '../../domain/payment';
import { validationProblem, type FieldProblem } from '../problem';
import { GROUP_BY_DIMENSIONS, type GroupByDimension, type PaymentsCursor, type PaymentsFilter, type VolumeFilter } from '../../projections/read-models/queries';
import { decodeCursorParts, encodeCursorParts, wholeNumberText } from './list-params';

// Rationale: the filters belong to the read-model queries they feed; re-exported for the routes that parse into them.
export { GROUP_BY_DIMENSIONS, type GroupByDimension, type PaymentsCursor, type PaymentsFilter, type VolumeFilter };

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ['requested', 'submitted', 'settled', 'rejected', 'unknown', 'cancelled'];
export const PAGE_ROWS_DEFAULT = 50;
export const PAGE_ROWS_MAX = 500;
/** A CSV export streams at most this many rows (`limit` may lower it). */
export const CSV_ROWS_MAX = 100_000;
/** Longest span of a volume report. */
export const REPORT_DAYS_MAX = 366;
export const REPORT_DAYS_DEFAULT = 31;

/**
 * Times the API takes, in UTC once the offset is applied. PostgreSQL has no year
 * 0 and toISOString writes years past 9999 with six digits and a sign, which
 * neither the formats here nor a cursor allow; no payment predates 1970.
 */
const TIME_MIN_MS = Date.UTC(1970, 0, 1);
const TIME_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const TIME_RANGE = 'from 1970-01-01 to 9999-12-31 (UTC)';

const asDate = (text: string) => new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
/** False for an invalid Date too: NaN compares false. */
const inTimeRange = (date: Date) => date.getTime() >= TIME_MIN_MS && date.getTime() <= TIME_MAX_MS;
/** Exactly as toISOString writes a time of the read model, the only form a cursor holds. */
const isCursorTime = (text: string) => inTimeRange(new Date(text)) && new Date(text).toISOString() === text;

const instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: `must be an ISO 8601 date (2026-03-01) or date-time with offset (2026-03-01T10:00:00Z), ${TIME_RANGE}` })
  .refine((text) => inTimeRange(asDate(text)), `must be ${TIME_RANGE} once its offset is applied`);
// abort: a day that is no date is one problem, not also out of range.
const day = z.iso.date({ error: `must be a date such as 2026-03-01, ${TIME_RANGE}`, abort: true }).refine((text) => inTimeRange(asDate(text)), `must be a date ${TIME_RANGE}`);
/** `a,b,c` of the given words, as a pattern for the document. */
const commaListPattern = (words: readonly string[]) => `^(${words.join('|')})(,(${words.join('|')}))*$`;
const statusList = z
  .string()
  .refine((text) => text.split(',').every((status) => (PAYMENT_STATUSES as readonly string[]).includes(status)), `must be one or more of ${PAYMENT_STATUSES.join(', ')}, comma-separated`)
  .openapi({ pattern: commaListPattern(PAYMENT_STATUSES) });
const currency = z.string().refine(isCurrencyCode, 'must be an ISO 4217 currency code such as EUR').openapi({ enum: [...CURRENCY_CODES] });
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?$/, 'must be a decimal string such as "125.50"');
const position = z
  .string()
  .refine((text) => parsePosition(text) !== undefined, 'must be a log position "commit/prepare" as in X-Log-Position')
  .openapi({ pattern: '^(-1|[0-9]{1,20})/(-1|[0-9]{1,20})$' });

/** Documented in the OpenAPI document and used to check each parameter. */
export const PaymentsQueryShape = {
  status: statusList.optional().describe(`One or more of ${PAYMENT_STATUSES.join(', ')}, comma-separated`),
  currency: currency.optional(),
  tenant: z.string().regex(TENANT_ID_PATTERN, 'must be a tenant id').optional().describe('Staff: filter by tenant. Clients: absent or their own tenant.'),
  createdFrom: instant.optional().describe('Inclusive; a date means its start (UTC)'),
  createdTo: instant.optional().describe('Exclusive; a date means its start (UTC)'),
  minAmount: decimal.optional().describe('Inclusive, in the currency given by `currency` (required with it)'),
  maxAmount: decimal.optional().describe('Inclusive, in the currency given by `currency` (required with it)'),
  limit: wholeNumberText(1, CSV_ROWS_MAX).optional().describe(`Rows per page (JSON: default ${PAGE_ROWS_DEFAULT}, at most ${PAGE_ROWS_MAX}); CSV: rows in the export, at most ${CSV_ROWS_MAX}`),
  cursor: z.string().max(512).optional().describe('`nextCursor` of the previous page'),
  minPosition: position.optional().describe('Wait (bounded) until the read model has reached this log position'),
};

export const VolumeQueryShape = {
  from: day.optional().describe(`First day, inclusive (UTC). Default: ${REPORT_DAYS_DEFAULT - 1} days before \`to\``),
  to: day.optional().describe('Last day, inclusive (UTC). Default: today'),
  groupBy: z
    .string()
    .refine((text) => text.split(',').every((part) => (GROUP_BY_DIMENSIONS as readonly string[]).includes(part)), 'must be one or more of day, currency, status, comma-separated')
    .openapi({ pattern: commaListPattern(GROUP_BY_DIMENSIONS) })
    .optional()
    .describe('Dimensions to group by; amounts are always split by currency, since they cannot be added across currencies. Default: day'),
  currency: currency.optional(),
  status: statusList.optional(),
  minPosition: position.optional(),
};

type Shape = Record<string, z.ZodType<unknown>>;

/**
 * Each parameter on its own, so one bad parameter never hides another's problem.
 * A repeated one is refused before its schema runs rather than wrapped in a
 * union, which would replace the schema's own message with "Invalid input".
 */
function parseEach(shape: Shape, query: Record<string, unknown>, problems: FieldProblem[]): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const name of Object.keys(query)) {
    if (!(name in shape)) problems.push({ pointer: `#/query/${name}`, detail: 'unknown parameter' });
  }
  for (const [name, schema] of Object.entries(shape)) {
    const raw = query[name];
    if (Array.isArray(raw)) {
      problems.push({ pointer: `#/query/${name}`, detail: 'give this parameter once' });
      continue;
    }
    const result = schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) values[name] = result.data as string | undefined;
    else problems.push(...result.error.issues.map((issue) => ({ pointer: `#/query/${name}`, detail: issue.message })));
  }
  return values;
}

/** Decimal text to minor units of `currencyCode`; a problem when it has more decimals than the currency. */
function amountMinor(text: string | undefined, currencyCode: string | undefined, name: string, problems: FieldProblem[]): bigint | undefined {
  if (text === undefined) return undefined;
  const exponent = currencyCode === undefined ? undefined : currencyExponent(currencyCode);
  if (exponent === undefined) {
    problems.push({ pointer: `#/query/${name}`, detail: 'needs `currency`: amounts are decimal strings in one currency' });
    return undefined;
  }
  const [whole = '0', fraction = ''] = text.split('.');
  if (fraction.length > exponent) {
    problems.push({ pointer: `#/query/${name}`, detail: exponent === 0 ? `${currencyCode} has no minor unit: no decimals allowed` : `${currencyCode} allows at most ${exponent} decimals` });
    return undefined;
  }
  return BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
}

export const encodeCursor = (cursor: PaymentsCursor): string => encodeCursorParts([cursor.createdAt, cursor.tenantId, cursor.paymentId]);

/** A cursor is opaque, so any damage reads the same. */
function decodeCursor(text: string | undefined, problems: FieldProblem[]): PaymentsCursor | undefined {
  if (text === undefined) return undefined;
  const parts = decodeCursorParts(text, [isCursorTime, isTenantId, isPaymentId]);
  if (parts) return { createdAt: parts[0]!, tenantId: parts[1]!, paymentId: parts[2]! };
  problems.push({ pointer: '#/query/cursor', detail: 'not a cursor this API gave out' });
  return undefined;
}

const optionalDate = (text: string | undefined) => (text === undefined ? undefined : asDate(text));
const asStatuses = (text: string | undefined) => text?.split(',') as PaymentStatus[] | undefined;

/**
 * `format` decides the largest `limit`: a JSON page is held in memory, a CSV
 * export is streamed. Checked here with the rest, so a request is refused
 * whole before it waits for a position or sends a 200.
 */
export function parsePaymentsQuery(query: Record<string, unknown>, format: 'json' | 'csv' = 'json'): PaymentsFilter {
  const problems: FieldProblem[] = [];
  const values = parseEach(PaymentsQueryShape, query, problems);
  const filter: PaymentsFilter = {
    statuses: asStatuses(values['status']),
    currency: values['currency'],
    tenant: values['tenant'],
    createdFrom: optionalDate(values['createdFrom']),
    createdTo: optionalDate(values['createdTo']),
    minAmountMinor: amountMinor(values['minAmount'], values['currency'], 'minAmount', problems),
    maxAmountMinor: amountMinor(values['maxAmount'], values['currency'], 'maxAmount', problems),
    limit: values['limit'] === undefined ? undefined : Number(values['limit']),
    cursor: decodeCursor(values['cursor'], problems),
    minPosition: values['minPosition'] === undefined ? undefined : parsePosition(values['minPosition']),
  };
  problems.push(...paymentsCrossProblems(filter, format));
  if (problems.length > 0) throw validationProblem(problems, 'Invalid filters');
  return filter;
}

/** Problems between parameters, or of one parameter in this format. */
function paymentsCrossProblems(filter: PaymentsFilter, format: 'json' | 'csv'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (filter.createdFrom && filter.createdTo && filter.createdFrom >= filter.createdTo) {
    problems.push({ pointer: '#/query/createdTo', detail: 'must be after createdFrom' });
  }
  if (filter.minAmountMinor !== undefined && filter.maxAmountMinor !== undefined && filter.minAmountMinor > filter.maxAmountMinor) {
    problems.push({ pointer: '#/query/maxAmount', detail: 'must not be below minAmount' });
  }
  if (format === 'json' && filter.limit !== undefined && filter.limit > PAGE_ROWS_MAX) {
    problems.push({ pointer: '#/query/limit', detail: `a JSON page has at most ${PAGE_ROWS_MAX} rows` });
  }
  return problems;
}

export function parseVolumeQuery(query: Record<string, unknown>, today: string): VolumeFilter {
  const problems: FieldProblem[] = [];
  const values = parseEach(VolumeQueryShape, query, problems);
  const to = values['to'] ?? today;
  const from = values['from'] ?? new Date(Date.parse(`${to}T00:00:00Z`) - (REPORT_DAYS_DEFAULT - 1) * 86_400_000).toISOString().slice(0, 10);
  // A bad from or to has its own problem already; a span computed from its default would only blame the wrong parameter.
  if (!problems.some((problem) => problem.pointer === '#/query/from' || problem.pointer === '#/query/to')) {
    problems.push(...spanProblems(from, to, values['to'] === undefined ? today : undefined));
  }
  if (problems.length > 0) throw validationProblem(problems, 'Invalid filters');
  const groupBy = [...new Set((values['groupBy'] ?? 'day').split(',') as GroupByDimension[])];
  return {
    from,
    to,
    groupBy: GROUP_BY_DIMENSIONS.filter((dimension) => groupBy.includes(dimension)),
    currency: values['currency'],
    statuses: asStatuses(values['status']),
    minPosition: values['minPosition'] === undefined ? undefined : parsePosition(values['minPosition']),
  };
}

/** `defaultedTo` is today when `to` was left out: a from after it then needs a to, and the detail says so. */
function spanProblems(from: string, to: string, defaultedTo: string | undefined): FieldProblem[] {
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days < 1) {
    return [{ pointer: '#/query/to', detail: defaultedTo === undefined ? 'must not be before from' : `required when from is after today (${defaultedTo}), its default` }];
  }
  if (days > REPORT_DAYS_MAX) return [{ pointer: '#/query/from', detail: `a report spans at most ${REPORT_DAYS_MAX} days` }];
  return [];
}
