/**
 * The bank client over HTTP (the sandbox bank's wire contract, docs/bank-sandbox.md),
 * on Node's fetch. Every answer is classified for the state machine:
 *
 * | what came back                                   | answer          |
 * | ------------------------------------------------ | --------------- |
 * | 2xx with a transfer we can read                   | accepted / rejected |
 * | lookup: 2xx with no transfer for the reference    | not-found       |
 * | submit: 409 (same key still in flight)            | in-flight       |
 * | timeout, connection refused or dropped, 5xx, 429, 401/403, open circuit | retryable |
 * | anything else (400, 422, 2xx we cannot read, an answer over BANK_ANSWER_BYTES_MAX, two transfers for one reference) | uninterpretable |
 * | 2xx with a transfer whose amount, currency, creditor or reference is not ours | conflicting |
 *
 * Resilience, from cockatiel: a per-call timeout on every request; a circuit
 * breaker shared by both calls that opens after consecutive retryable failures;
 * retries with exponential backoff and jitter for lookups only. A submission is
 * never retried here: after an unclear answer the gateway looks up first.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleType,
  retry,
  timeout,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';
import type { Logger } from '../logging';
import type { BankClient, CircuitStatus, LookupAnswer, RefundRequest, SubmitAnswer, TransferDetailsAnswer, TransferRequest } from './bank-client';
import { parseLookupBody, parseRefundBody, parseRefundLookupBody, parseTransferBody, parseTransferDetailsBody, refundBody, transferBody, type InstructedTransfer } from './bank-wire';

export interface HttpBankClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly timeoutMs: number;
  readonly lookupRetryCountMax: number;
  readonly lookupBackoffBaseMs: number;
  readonly circuitFailureCountMax: number;
  readonly circuitHalfOpenAfterMs: number;
  readonly logger: Logger;
}

/** A failure that says nothing about the transfer; it counts against the circuit and may be retried. */
class RetryableBankError extends Error {
  override readonly name = 'RetryableBankError';
}

/** An answer larger than this is not read further (a transfer is a few hundred bytes): memory stays bounded per call. */
export const BANK_ANSWER_BYTES_MAX = 1_048_576;

/** Longest excerpt of an error body kept for staff (the last error); clients only ever see a code. */
const ERROR_BODY_CHARS_MAX = 200;

/** An excerpt of the bank's text for staff: bounded, without control characters (no log or terminal injection). */
const excerpt = (text: string) => text.slice(0, ERROR_BODY_CHARS_MAX).replace(/[\p{Cc}\p{Cf}]+/gu, ' ');

/** The body as text, at most `bytesMax` bytes; undefined when it is longer (the rest is never read). */
async function boundedText(response: globalThis.Response, bytesMax: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createHttpBankClient(options: HttpBankClientOptions): BankClient {
  // Timeouts count like any other failure to answer.
  const failedToAnswer = () => handleType(RetryableBankError).orType(TaskCancelledError);
  const breaker: CircuitBreakerPolicy = circuitBreaker(failedToAnswer(), {
    halfOpenAfter: options.circuitHalfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.circuitFailureCountMax),
  });
  breaker.onBreak(() => options.logger.warn({ bank: options.baseUrl }, 'bank circuit opened: calls stop until a trial call succeeds'));
  breaker.onReset(() => options.logger.info({ bank: options.baseUrl }, 'bank circuit closed'));
  const perCall = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
  const lookupRetry = retry(failedToAnswer(), {
    maxAttempts: options.lookupRetryCountMax,
    backoff: new ExponentialBackoff({ initialDelay: options.lookupBackoffBaseMs, maxDelay: options.timeoutMs }),
  });
  const submitPolicy = wrap(breaker, perCall);
  // Retries outermost: each retry passes the breaker again, so an opening circuit stops them.
  const lookupPolicy = wrap(lookupRetry, breaker, perCall);

  async function call(policy: IPolicy, path: string, init: RequestInit): Promise<{ status: number; body: unknown; text: string; oversized: boolean }> {
    return policy.execute(async ({ signal }) => {
      let response: globalThis.Response;
      try {
        // redirect 'manual': a redirect followed here would send the submission again inside this one call.
        response = await fetch(`${options.baseUrl}${path}`, { ...init, signal, redirect: 'manual', headers: { ...headers(options.apiKey), ...init.headers } });
      } catch (error) {
        throw new RetryableBankError(`no answer: ${describeFetchError(error)}`);
      }
      const bounded = await boundedText(response, BANK_ANSWER_BYTES_MAX).catch((error: unknown) => {
        throw new RetryableBankError(`answer cut off: ${describeFetchError(error)}`);
      });
      const text = bounded ?? '';
      if (response.status >= 500 || response.status === 429 || response.status === 401 || response.status === 403) {
        throw new RetryableBankError(`status ${response.status}: ${excerpt(text)}`);
      }
      return { status: response.status, body: parseJson(text), text, oversized: bounded === undefined };
    });
  }

  return {
    async submitTransfer(request: TransferRequest, idempotencyKey: string): Promise<SubmitAnswer> {
      try {
        const init = { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, body: JSON.stringify(transferBody(request)) };
        const { status, body, text, oversized } = await call(submitPolicy, '/v1/transfers', init);
        if (status === 409) return { kind: 'in-flight' };
        if (oversized) return { kind: 'uninterpretable', error: `status ${status}: answer over ${BANK_ANSWER_BYTES_MAX} bytes` };
        if (status !== 200 && status !== 201) return { kind: 'uninterpretable', error: `status ${status}: ${excerpt(text)}` };
        return parseTransferBody(body, request);
      } catch (error) {
        return failureAnswer(error, options.timeoutMs);
      }
    },

    async findTransfer(instructed: InstructedTransfer): Promise<LookupAnswer> {
      try {
        const { status, body, text, oversized } = await call(lookupPolicy, `/v1/transfers?endToEndId=${encodeURIComponent(instructed.endToEndId)}`, { method: 'GET' });
        if (oversized) return { kind: 'uninterpretable', error: `lookup status ${status}: answer over ${BANK_ANSWER_BYTES_MAX} bytes` };
        if (status !== 200) return { kind: 'uninterpretable', error: `lookup status ${status}: ${excerpt(text)}` };
        return parseLookupBody(body, instructed);
      } catch (error) {
        return failureAnswer(error, options.timeoutMs);
      }
    },

    async findTransferById(bankTransferId: string): Promise<TransferDetailsAnswer> {
      try {
        const { status, body, text } = await call(lookupPolicy, `/v1/transfers/${encodeURIComponent(bankTransferId)}`, { method: 'GET' });
        // A 404 is a definite answer: the bank holds no transfer with this id.
        if (status === 404) return { kind: 'not-found' };
        if (status !== 200) return { kind: 'uninterpretable', error: `transfer status ${status}: ${text.slice(0, ERROR_BODY_CHARS_MAX)}` };
        return parseTransferDetailsBody(body, bankTransferId);
      } catch (error) {
        return failureAnswer(error, options.timeoutMs);
      }
    },

    async submitRefund(request: RefundRequest, idempotencyKey: string): Promise<SubmitAnswer> {
      try {
        const init = { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, body: JSON.stringify(refundBody(request)) };
        const { status, body, text, oversized } = await call(submitPolicy, '/v1/refunds', init);
        if (status === 409) return { kind: 'in-flight' };
        if (oversized) return { kind: 'uninterpretable', error: `status ${status}: answer over ${BANK_ANSWER_BYTES_MAX} bytes` };
        // A 422 (no such transfer, another currency, a key reused) contradicts what we recorded: a human looks.
        if (status !== 200 && status !== 201) return { kind: 'uninterpretable', error: `status ${status}: ${excerpt(text)}` };
        return parseRefundBody(body, request);
      } catch (error) {
        return failureAnswer(error, options.timeoutMs);
      }
    },

    async findRefund(instructed: RefundRequest): Promise<LookupAnswer> {
      try {
        const { status, body, text, oversized } = await call(lookupPolicy, `/v1/refunds?endToEndId=${encodeURIComponent(instructed.endToEndId)}`, { method: 'GET' });
        if (oversized) return { kind: 'uninterpretable', error: `refund lookup status ${status}: answer over ${BANK_ANSWER_BYTES_MAX} bytes` };
        if (status !== 200) return { kind: 'uninterpretable', error: `refund lookup status ${status}: ${excerpt(text)}` };
        return parseRefundLookupBody(body, instructed);
      } catch (error) {
        return failureAnswer(error, options.timeoutMs);
      }
    },

    circuitStatus: () => circuitStatusOf(breaker.state),
  };
}

function headers(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, accept: 'application/json' };
}

function failureAnswer(error: unknown, timeoutMs: number): Extract<LookupAnswer, { kind: 'retryable' }> {
  if (error instanceof RetryableBankError) return { kind: 'retryable', code: 'bank_unavailable', error: error.message };
  if (error instanceof BrokenCircuitError) return { kind: 'retryable', code: 'bank_unavailable', error: 'circuit open: the bank failed repeatedly; not called' };
  if (error instanceof TaskCancelledError) return { kind: 'retryable', code: 'bank_timeout', error: `timeout: no answer within ${timeoutMs} ms` };
  // Our own bug, not the bank's answer: still nothing is known about the transfer.
  return { kind: 'retryable', code: 'bank_unavailable', error: `client error: ${String(error).slice(0, ERROR_BODY_CHARS_MAX)}` };
}

function circuitStatusOf(state: CircuitState): CircuitStatus {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'open';
}

function parseJson(text: string): unknown {
  try {
    return text.length === 0 ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${error.message} (${cause.code ?? cause.message ?? 'unknown cause'})` : error.message;
}
