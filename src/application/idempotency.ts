/**
 * Idempotency-Key records on the event store: one claim stream per
 * (principal, key), decided by the pure rules in src/domain/idempotency.ts.
 * HTTP-agnostic: the middleware in src/http/idempotency.ts parses the header,
 * fingerprints the request and captures the answer; anything else that needs
 * "this request at most once, its answer replayed" (the compensation routes)
 * uses the same two calls.
 *
 * The API, in short:
 *   const begun = await records.begin({ principalId, key }, { method, path, fingerprint }, metadata);
 *   switch (begun.kind) {
 *     case 'execute':   run the operation; then begun.complete(response) or begun.release(status)
 *     case 'replay':    answer begun.response with Idempotent-Replayed: true
 *     case 'reused':    422 idempotency-key-reuse
 *     case 'in-flight': 409 idempotency-key-in-flight, Retry-After from begun.retryAfterMs
 *   }
 *
 * Durability: the claim and the answer are events, appended with expected
 * revisions, never a cache. Retention: claim streams are never deleted, so a
 * key is honoured at least as long as REPLAY_WINDOW_MS (for ever, today).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import { WrongExpectedVersionError, type EventStore, type RecordedEvent } from '../event-store/port';
import { canonicalJson } from '../domain/canonical-json';
import { idempotencyStreamName } from '../domain/ids';
import {
  decideBegin,
  evolveIdempotency,
  IDEMPOTENCY_EVENT_TYPES,
  IDEMPOTENCY_IN_FLIGHT_MS_DEFAULT,
  initialIdempotencyState,
  type IdempotencyEvent,
  type IdempotencyState,
  type StoredResponse,
} from '../domain/idempotency';
import type { CommandMetadata } from '../domain/principal';
import { toEventData, type NewEventId } from './event-envelope';

export type { StoredResponse } from '../domain/idempotency';

export interface IdempotencyScope {
  readonly principalId: string;
  readonly key: string;
}

export interface KeyedRequest {
  readonly method: string;
  readonly path: string;
  /** From `idempotencyFingerprint`: equal exactly when the requests are the same. */
  readonly fingerprint: string;
}

export type Begun =
  | {
      readonly kind: 'execute';
      /** Stable for the key across take-overs: use it where a retried request must land on the same record. */
      readonly claimId: string;
      /** Stores the answer; resolves to false when another request took the claim over meanwhile (its answer stands). */
      complete(response: StoredResponse): Promise<boolean>;
      /** Gives the claim up without an answer (5xx, 429): the same request may come again. */
      release(status: number): Promise<boolean>;
    }
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  | { readonly kind: 'reused' }
  | { readonly kind: 'in-flight'; readonly retryAfterMs: number };

export interface IdempotencyRecordsOptions {
  readonly store: EventStore;
  /** A claim without an answer older than this is taken over (default 60 s; longer than any request runs). */
  readonly inFlightMsMax?: number;
  readonly newEventId?: NewEventId;
  readonly newClaimId?: () => string;
}

/** Lost races on one key's claim stream retried at most this often before answering "in flight". */
const BEGIN_ATTEMPTS_MAX = 3;

export function createIdempotencyRecords(options: IdempotencyRecordsOptions) {
  const { store } = options;
  const inFlightMsMax = options.inFlightMsMax ?? IDEMPOTENCY_IN_FLIGHT_MS_DEFAULT;
  const newEventId = options.newEventId ?? randomUUID;
  const newClaimId = options.newClaimId ?? ulid;

  async function load(stream: string): Promise<{ state: IdempotencyState; revision: number }> {
    const recorded = await store.readStream(stream);
    let state = initialIdempotencyState;
    for (const event of recorded) {
      const domainEvent = fromRecorded(event);
      if (domainEvent) state = evolveIdempotency(state, domainEvent);
    }
    return { state, revision: recorded.length === 0 ? -1 : recorded[recorded.length - 1]!.revision };
  }

  async function append(stream: string, event: IdempotencyEvent, expectedRevision: number, metadata: CommandMetadata): Promise<number | undefined> {
    try {
      const result = await store.appendToStream(stream, [toEventData(event, metadata, 1, newEventId)], { expectedRevision: expectedRevision === -1 ? 'no_stream' : expectedRevision });
      return result.nextExpectedRevision;
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) return undefined;
      throw error;
    }
  }

  async function begin(scope: IdempotencyScope, request: KeyedRequest, metadata: CommandMetadata): Promise<Begun> {
    const stream = idempotencyStreamName(scope.principalId, keyDigest(scope.key));
    for (let attempt = 1; attempt <= BEGIN_ATTEMPTS_MAX; attempt += 1) {
      const { state, revision } = await load(stream);
      const decision = decideBegin({ ...request, requestId: metadata.requestId, now: metadata.now, inFlightMsMax, newClaimId: newClaimId() }, state);
      if (decision.kind !== 'claim') return decision;
      const claimed = await append(stream, decision.event, revision, metadata);
      // Lost the race for the claim: read again, and see the winner's claim (in flight) or answer.
      if (claimed === undefined) continue;
      const at = (done: Date) => done.toISOString();
      return {
        kind: 'execute',
        claimId: decision.event.data.claimId,
        complete: async (response) =>
          (await append(stream, { type: 'IdempotentResponseRecorded', data: { response, recordedAt: at(new Date()), requestId: metadata.requestId } }, claimed, metadata)) !== undefined,
        release: async (status) =>
          (await append(stream, { type: 'IdempotencyKeyReleased', data: { status, releasedAt: at(new Date()), requestId: metadata.requestId } }, claimed, metadata)) !== undefined,
      };
    }
    return { kind: 'in-flight', retryAfterMs: 1_000 };
  }

  return { begin, inFlightMsMax };
}

export type IdempotencyRecords = ReturnType<typeof createIdempotencyRecords>;

export function keyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * What makes two requests "the same": method, path, the named request
 * headers that change the outcome (If-Match), and the body in a canonical
 * form (object members sorted, no insignificant whitespace), hashed.
 */
export function idempotencyFingerprint(request: { method: string; path: string; headers?: Readonly<Record<string, string | undefined>>; body: unknown }): string {
  const headers = Object.entries(request.headers ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = canonicalJson({ method: request.method.toUpperCase(), path: request.path, headers: Object.fromEntries(headers), body: request.body ?? null });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

function fromRecorded(event: RecordedEvent): IdempotencyEvent | undefined {
  if (!(IDEMPOTENCY_EVENT_TYPES as readonly string[]).includes(event.type)) return undefined;
  return { type: event.type, data: event.data } as unknown as IdempotencyEvent;
}
