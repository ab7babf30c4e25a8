/**
 * The one error every store adapter throws when the store cannot do the work
 * right now: it is unreachable, the connection was lost (a restart, a failover,
 * `pg_terminate_backend`, a network reset), it is out of connections, or it timed
 * out. The HTTP layer answers it `503` with `Retry-After`; the background
 * processes back off and retry. It is never the caller's fault and never a bug.
 *
 * What it promises about the write: nothing from a transaction that failed
 * before its COMMIT was sent is stored. A connection lost during COMMIT leaves
 * the outcome unknown to us; every write path is an idempotent retry (the
 * payment's id, the expected revision, the Idempotency-Key record), so
 * retrying is always safe.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * SQLSTATEs that mean "the server cannot do it now, try again": connection
 * exceptions (class 08), insufficient resources (class 53), operator
 * intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
 * connect now, 57P05 idle session timeout, 57014 statement timeout), an idle
 * transaction's timeout (25P03), and the transient concurrency failures
 * (40001 serialization, 40P01 deadlock, 55P03 lock not available).
 */
const TRANSIENT_SQLSTATE = /^(08...|53...|57P0[1235]|57014|25P03|40001|40P01|55P03)$/;

/** Socket errors a lost or refused connection raises in Node. */
const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What pg says (without a code) when the socket went away or never came. */
const CONNECTION_MESSAGE = /Connection terminated|not queryable|timeout exceeded when trying to connect|connection timeout/i;

/** True when `error` is the server or the network failing, not the statement being wrong. */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || CONNECTION_ERRNO.has(code))) return true;
  return typeof message === 'string' && CONNECTION_MESSAGE.test(message);
}

/** `error` as a StoreUnavailableError when it is transient; unchanged otherwise. */
export function asStoreUnavailable(error: unknown, what: string): unknown {
  if (error instanceof StoreUnavailableError || !isTransientDatabaseError(error)) return error;
  const code = (error as { code?: unknown }).code;
  return new StoreUnavailableError(`${what}: ${typeof code === 'string' ? `${code} ` : ''}${(error as Error).message}`, { cause: error });
}
