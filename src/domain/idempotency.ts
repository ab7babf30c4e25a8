/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) as a pure
 * decider over one claim stream per (principal, key). The stream is the
 * record: the first request appends a claim with `no_stream` and wins; its
 * answer is appended after its effect with the claim's revision; a later
 * request with the same key reads the stream and is replayed the answer,
 * refused (another payload, or still in flight), or takes over a claim left
 * without an answer for longer than the in-flight bound (a crashed process).
 *
 * Rationale for taking over instead of waiting for ever: a process killed
 * between its claim and its answer must not block the key. The take-over is
 * itself appended with the expected revision, so of two requests taking over
 * one claim exactly one wins. It is safe only because every operation behind
 * a key is idempotent in its own stream (the same cancel, resolve, approve or
 * reject again writes nothing new); the key record replays answers, it is
 * never the only guard against a second effect. See docs/adr/0021-idempotency-key-claim-streams.md.
 */
import { assertNever } from './errors';

/** The draft's limit is the implementer's: 255 characters like the sandbox bank's, printable ASCII. */
export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;

/** A claim without an answer older than this may be taken over (its process is presumed dead). */
export const IDEMPOTENCY_IN_FLIGHT_MS_DEFAULT = 60_000;

/** The answer as sent: status, the few headers worth replaying, and the body text. */
export interface StoredResponse {
  readonly status: number;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface IdempotencyKeyClaimed {
  readonly type: 'IdempotencyKeyClaimed';
  readonly data: {
    /** Stable across take-overs: operations that must land on the same record (a proposal id) derive it from this. */
    readonly claimId: string;
    readonly fingerprint: string;
    readonly method: string;
    readonly path: string;
    readonly claimedAt: string;
    readonly requestId: string;
    /** The request id of the claim this one took over, when it did. */
    readonly tookOver: string | null;
  };
}

export interface IdempotentResponseRecorded {
  readonly type: 'IdempotentResponseRecorded';
  readonly data: { readonly response: StoredResponse; readonly recordedAt: string; readonly requestId: string };
}

/** The claim ended without an answer worth replaying (5xx, 429): the key may be used again with the same payload. */
export interface IdempotencyKeyReleased {
  readonly type: 'IdempotencyKeyReleased';
  readonly data: { readonly status: number; readonly releasedAt: string; readonly requestId: string };
}

export type IdempotencyEvent = IdempotencyKeyClaimed | IdempotentResponseRecorded | IdempotencyKeyReleased;

export const IDEMPOTENCY_EVENT_TYPES: readonly IdempotencyEvent['type'][] = ['IdempotencyKeyClaimed', 'IdempotentResponseRecorded', 'IdempotencyKeyReleased'];

export type IdempotencyState =
  | { readonly status: 'none' }
  | { readonly status: 'in-flight'; readonly claimId: string; readonly fingerprint: string; readonly claimedAt: string; readonly requestId: string }
  | { readonly status: 'completed'; readonly claimId: string; readonly fingerprint: string; readonly response: StoredResponse }
  | { readonly status: 'released'; readonly claimId: string; readonly fingerprint: string };

export const initialIdempotencyState: IdempotencyState = { status: 'none' };

export function evolveIdempotency(state: IdempotencyState, event: IdempotencyEvent): IdempotencyState {
  switch (event.type) {
    case 'IdempotencyKeyClaimed':
      return { status: 'in-flight', claimId: event.data.claimId, fingerprint: event.data.fingerprint, claimedAt: event.data.claimedAt, requestId: event.data.requestId };
    case 'IdempotentResponseRecorded':
      if (state.status !== 'in-flight') return state;
      return { status: 'completed', claimId: state.claimId, fingerprint: state.fingerprint, response: event.data.response };
    case 'IdempotencyKeyReleased':
      if (state.status !== 'in-flight') return state;
      return { status: 'released', claimId: state.claimId, fingerprint: state.fingerprint };
    default:
      return assertNever(event, 'idempotency event');
  }
}

export interface BeginRequest {
  readonly fingerprint: string;
  readonly method: string;
  readonly path: string;
  readonly requestId: string;
  readonly now: Date;
  readonly inFlightMsMax: number;
  /** Used when this request makes the first claim. */
  readonly newClaimId: string;
}

/** What a request with a key does next. `claim` carries the event to append with the stream's revision. */
export type BeginDecision =
  | { readonly kind: 'claim'; readonly event: IdempotencyKeyClaimed }
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  | { readonly kind: 'reused' }
  | { readonly kind: 'in-flight'; readonly retryAfterMs: number };

export function decideBegin(request: BeginRequest, state: IdempotencyState): BeginDecision {
  const claim = (claimId: string, tookOver: string | null): BeginDecision => ({
    kind: 'claim',
    event: {
      type: 'IdempotencyKeyClaimed',
      data: { claimId, fingerprint: request.fingerprint, method: request.method, path: request.path, claimedAt: request.now.toISOString(), requestId: request.requestId, tookOver },
    },
  });
  if (state.status === 'none') return claim(request.newClaimId, null);
  // Another payload under a used key is refused in every state: the key stays bound to its first request.
  if (state.fingerprint !== request.fingerprint) return { kind: 'reused' };
  switch (state.status) {
    case 'completed':
      return { kind: 'replay', response: state.response };
    case 'released':
      return claim(state.claimId, null);
    case 'in-flight': {
      const ageMs = request.now.getTime() - Date.parse(state.claimedAt);
      if (ageMs < request.inFlightMsMax) return { kind: 'in-flight', retryAfterMs: request.inFlightMsMax - Math.max(0, ageMs) };
      return claim(state.claimId, state.requestId);
    }
    default:
      return assertNever(state, 'idempotency state');
  }
}

/** Answers worth replaying: the outcome of the request. A 5xx or a 429 says "try again", so the claim is released instead. */
export function isReplayableStatus(status: number): boolean {
  return status >= 200 && status < 500 && status !== 429 && status !== 408;
}
