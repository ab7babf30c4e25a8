/**
 * Structured logs (pino). Secrets and account numbers never reach a log line:
 * authorization headers and API keys are removed, IBAN-shaped fields are masked
 * to their last four characters by the redaction censor.
 */
import pino, { type Logger } from 'pino';

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

export function maskIban(iban: unknown): string {
  if (typeof iban !== 'string' || iban.length < 5) return '****';
  return `****${iban.slice(-4)}`;
}

export interface LoggerOptions {
  readonly level: string;
  readonly name?: string;
  /** Where lines go; default stdout. Commands whose stdout is their output log to stderr. */
  readonly destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    ...(options.name ? { name: options.name } : {}),
    redact: {
      paths: REDACTED_PATHS,
      censor: (value, path) => (path[path.length - 1]?.toLowerCase().includes('iban') ? maskIban(value) : '[redacted]'),
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
