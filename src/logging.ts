/**
 * Structured logs (pino). Secrets and account numbers never reach a log line:
 * authorization headers and API keys are removed, IBAN-shaped fields are masked
 * to their last four characters by the redaction censor, errors go through
 * `serializeError` (which drops the values a database driver copies onto its
 * errors), and every finished line has IBAN-shaped text masked as a last guard.
 * See docs/data-protection.md.
 */
import pino, { type Logger } from 'pino';
import { maskIban } from './shared/mask-iban';
import pretty from 'pino-pretty';

export type { Logger };

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["idempotency-key"]',
  'apiKey',
  'key',
  '*.apiKey',
  'iban',
  '*.iban',
  '*.*.iban',
  'debtorIban',
  'creditorIban',
  '*.debtorIban',
  '*.creditorIban',
];

/**
 * An IBAN in electronic form as a whole word: two letters, two check digits, 11
 * to 30 letters or digits (ISO 13616: 15 to 34 characters). Upper case only, as
 * paystream stores and sends them; ids (ULIDs, UUIDs, hex digests) never match.
 */
const IBAN_IN_TEXT = /\b[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\b/g;

/** `text` with every IBAN-shaped word masked to its last four characters. */
export function maskIbansIn(text: string): string {
  return text.replace(IBAN_IN_TEXT, (iban) => maskIban(iban));
}

/**
 * Fields that carry a statement's values, never its shape: PGlite copies
 * `params` (and `query`, `queryOptions`) onto its errors, node-postgres puts the
 * failing row into `detail` ("Failing row contains (…)", "Key (…)=(…)") and the
 * PL/pgSQL context into `where`. pino's default serializer copies them all.
 */
const VALUE_FIELDS: ReadonlySet<string> = new Set(['params', 'parameters', 'values', 'binds', 'bindings', 'queryOptions', 'detail', 'where', 'internalQuery']);
const QUERY_CHARS_MAX = 500;
const NESTING_MAX = 4;
const AGGREGATED_ERRORS_MAX = 10;

const isErrorLike = (value: unknown): value is Error =>
  value instanceof Error || (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string' && typeof (value as { stack?: unknown }).stack === 'string');

/** A field's value fit for a log: strings masked, errors serialized, objects walked to a bounded depth. */
function loggable(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskIbansIn(value);
  if (typeof value !== 'object' || value === null) return typeof value === 'bigint' ? value.toString() : value;
  if (isErrorLike(value)) return serializeErrorAt(value, depth + 1);
  if (depth >= NESTING_MAX) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, AGGREGATED_ERRORS_MAX).map((item) => loggable(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (!VALUE_FIELDS.has(key)) out[key] = loggable(field, depth + 1);
  return out;
}

function serializeErrorAt(error: Error, depth: number): Record<string, unknown> | string {
  if (depth > NESTING_MAX) return '[error nested too deep]';
  const out: Record<string, unknown> = {
    type: error.constructor?.name ?? error.name,
    message: maskIbansIn(error.message),
    stack: maskIbansIn(error.stack ?? ''),
  };
  for (const [key, field] of Object.entries(error)) {
    if (key in out || VALUE_FIELDS.has(key) || key === 'cause' || key === 'errors') continue;
    // The statement's text stays (it names the tables; values travel as $1…), bounded.
    out[key] = key === 'query' && typeof field === 'string' ? maskIbansIn(field.slice(0, QUERY_CHARS_MAX)) : loggable(field, depth);
  }
  if (error.cause !== undefined) out['cause'] = isErrorLike(error.cause) ? serializeErrorAt(error.cause, depth + 1) : loggable(error.cause, depth);
  const aggregated = (error as { errors?: unknown }).errors;
  if (Array.isArray(aggregated)) out['aggregateErrors'] = aggregated.slice(0, AGGREGATED_ERRORS_MAX).map((item) => loggable(item, depth));
  return out;
}

/**
 * The `err` (and `error`) serializer: type, message, stack, code and the other
 * fields that say what failed, with its cause chain; never the values a
 * statement carried. Anything not an error passes through `loggable`.
 */
export function serializeError(error: unknown): unknown {
  return isErrorLike(error) ? serializeErrorAt(error, 0) : loggable(error, 0);
}

export interface LoggerOptions {
  readonly level: string;
  readonly name?: string;
  /** Where lines go; default stdout. Commands whose stdout is their output log to stderr. */
  readonly destination?: pino.DestinationStream;
  /** One readable, coloured line per entry instead of JSON (see `prettyLogsWanted`). */
  readonly pretty?: boolean;
}

/**
 * Pretty lines for a person at a terminal during development; JSON everywhere
 * else (files, pipes, containers, CI, production), where a machine reads them.
 */
export function prettyLogsWanted(stream: { readonly isTTY?: boolean }, nodeEnv: string | undefined): boolean {
  return stream.isTTY === true && nodeEnv !== 'production' && nodeEnv !== 'test';
}

/**
 * Rationale for a synchronous stream rather than pino's transport: no worker
 * thread, and a line written just before a crash point's SIGKILL is not lost
 * more than it would be with JSON. The redaction runs before either.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined): pino.DestinationStream {
  return pretty({ colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, ...(destination ? { destination } : {}) });
}

export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    ...(options.name ? { name: options.name } : {}),
    redact: {
      paths: REDACTED_PATHS,
      censor: (value, path) => (path[path.length - 1]?.toLowerCase().includes('iban') ? maskIban(value) : '[redacted]'),
    },
    serializers: { err: serializeError, error: serializeError },
    // Rationale: the serializers cover errors and the redaction covers named fields; an IBAN
    // inside some other text (a message, a reason) is caught here, once per line, for a regex's cost.
    hooks: { streamWrite: maskIbansIn },
  };
  if (options.pretty) return pino(settings, prettyStream(options.destination as NodeJS.WritableStream | undefined));
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
