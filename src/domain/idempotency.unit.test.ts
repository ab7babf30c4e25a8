/**
 * The Idempotency-Key rules as given (the claim stream's events) / when (a
 * request with the key) / then (claim, replay, refusal). No I/O.
 */
import { canonicalJson } from './canonical-json';
import {
  decideBegin,
  evolveIdempotency,
  initialIdempotencyState,
  isReplayableStatus,
  type BeginDecision,
  type BeginRequest,
  type IdempotencyEvent,
} from './idempotency';

const CLAIMED_AT = new Date('2026-12-01T10:00:00.000Z');
const IN_FLIGHT_MS = 60_000;
const response = { status: 200, contentType: 'application/json', headers: { etag: '"1"' }, body: '{"status":"cancelled"}' };

const request = (overrides: Partial<BeginRequest> = {}): BeginRequest => ({
  fingerprint: 'fp-1',
  method: 'POST',
  path: '/payments/p-1/cancel',
  requestId: 'req-2',
  now: new Date(CLAIMED_AT.getTime() + 1_000),
  inFlightMsMax: IN_FLIGHT_MS,
  newClaimId: 'CLAIM-NEW',
  ...overrides,
});

const claimed = (fingerprint = 'fp-1', requestId = 'req-1'): IdempotencyEvent => ({
  type: 'IdempotencyKeyClaimed',
  data: { claimId: 'CLAIM-1', fingerprint, method: 'POST', path: '/payments/p-1/cancel', claimedAt: CLAIMED_AT.toISOString(), requestId, tookOver: null },
});
const recorded: IdempotencyEvent = { type: 'IdempotentResponseRecorded', data: { response, recordedAt: CLAIMED_AT.toISOString(), requestId: 'req-1' } };
const released: IdempotencyEvent = { type: 'IdempotencyKeyReleased', data: { status: 503, releasedAt: CLAIMED_AT.toISOString(), requestId: 'req-1' } };

const given = (...events: IdempotencyEvent[]) => ({
  when: (begin: BeginRequest) => ({
    then: (expected: BeginDecision) => expect(decideBegin(begin, events.reduce(evolveIdempotency, initialIdempotencyState))).toEqual(expected),
  }),
});

const claimOf = (begin: BeginRequest, claimId: string, tookOver: string | null): BeginDecision => ({
  kind: 'claim',
  event: { type: 'IdempotencyKeyClaimed', data: { claimId, fingerprint: begin.fingerprint, method: begin.method, path: begin.path, claimedAt: begin.now.toISOString(), requestId: begin.requestId, tookOver } },
});

describe('Idempotency-Key decider', () => {
  it('when a key is used for the first time, then the request claims it with a new claim id', () => {
    const begin = request();
    given().when(begin).then(claimOf(begin, 'CLAIM-NEW', null));
  });
  it('when the same request comes after the answer was recorded, then that answer is replayed', () => {
    given(claimed(), recorded).when(request()).then({ kind: 'replay', response });
  });
  it('when another request comes under the key, then it is refused as a reuse, whether the first answered, runs or was released', () => {
    const other = request({ fingerprint: 'fp-other' });
    given(claimed(), recorded).when(other).then({ kind: 'reused' });
    given(claimed()).when(other).then({ kind: 'reused' });
    given(claimed(), released).when(other).then({ kind: 'reused' });
  });
  it('when the same request comes while the first runs, then it is in flight, told how long the claim may still run', () => {
    given(claimed()).when(request()).then({ kind: 'in-flight', retryAfterMs: IN_FLIGHT_MS - 1_000 });
  });
  it('when the claim is older than the in-flight bound without an answer, then the request takes it over, keeping the claim id', () => {
    const late = request({ now: new Date(CLAIMED_AT.getTime() + IN_FLIGHT_MS) });
    given(claimed()).when(late).then(claimOf(late, 'CLAIM-1', 'req-1'));
  });
  it('when the claim was released (a 5xx or 429), then the same request claims the key again with its claim id', () => {
    const begin = request();
    given(claimed(), released).when(begin).then(claimOf(begin, 'CLAIM-1', null));
  });
  it('when an answer is recorded after a take-over, then the take-over\'s claim is the one answered', () => {
    const state = [claimed(), claimed('fp-1', 'req-2'), recorded].reduce(evolveIdempotency, initialIdempotencyState);
    expect(state).toMatchObject({ status: 'completed', claimId: 'CLAIM-1', response });
  });
  it('answers worth replaying are 2xx and 4xx, never 5xx, 429 or 408', () => {
    expect([200, 201, 202, 400, 403, 404, 409, 412, 422].every(isReplayableStatus)).toBe(true);
    expect([408, 429, 500, 503].some(isReplayableStatus)).toBe(false);
  });
});

describe('canonical JSON', () => {
  it('orders members at every depth, keeps array order and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});
