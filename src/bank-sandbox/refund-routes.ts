/**
 * The sandbox's refund API (docs/bank-sandbox.md, "Refunds"): POST /v1/refunds
 * with the same idempotency semantics as transfers (201, replay with
 * `Idempotent-Replayed`, 409 while in flight, 422 for a key reused with
 * another request), lookup by id and by end-to-end id, the listing, and every
 * fault of the switchboard.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../logging';
import { createUlidFactory } from '../random-ids';
import type { FaultSwitchboard } from './faults';
import { SandboxProblem, fieldProblems, validationProblem } from './problem';
import { RefundImpossibleError, RefundKeyLostError, type RefundLedger, type RefundRequest, type RefundView } from './refund-ledger';
import { BODY_BYTES_MAX, IN_FLIGHT_MS_MAX, REPLAY_HEADER } from './routes';
import { AMOUNT_MINOR_MAX, IDEMPOTENCY_KEY_PATTERN, ListingQuery, encodeCursor } from './wire';

const END_TO_END_ID_PATTERN = /^[A-Za-z0-9/\-?:().,'+ ]{1,35}$/;

export const RefundRequestBody = z.strictObject({
  transferId: z.string().min(1).max(64),
  amountMinor: z.number().int('must be an integer number of minor units').min(1).max(AMOUNT_MINOR_MAX),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  endToEndId: z.string().regex(END_TO_END_ID_PATTERN, 'must be 1 to 35 characters of the SEPA character set'),
});

const RefundListingQuery = ListingQuery.extend({ transferId: z.string().min(1).max(64).optional() });

export interface RefundRouteDependencies {
  readonly refunds: RefundLedger;
  readonly faults: FaultSwitchboard;
  readonly apiKey: string;
  readonly adminKey: string;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly closing: AbortSignal;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

function bearer(expectedKey: string, realm: string): RequestHandler {
  const expected = digest(expectedKey);
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected)) return next();
    next(new SandboxProblem(401, 'unauthorized', 'Unauthorized', 'a valid bearer key is required', {}, { 'WWW-Authenticate': `Bearer realm="${realm}"` }));
  };
}

const unavailable = (detail: string) => new SandboxProblem(503, 'unavailable', 'The bank is unavailable', detail, {}, { 'Retry-After': '1' });

/**
 * Rationale for its own outage and key checks: this router does not lean on
 * the transfers router being mounted before it, so either may change alone.
 */
export function createRefundsRouter(deps: RefundRouteDependencies): Router {
  const router = Router();
  const newRefundId = createUlidFactory();
  const guard: RequestHandler[] = [
    (_req, _res, next) => next(deps.faults.current().outage ? new SandboxProblem(503, 'outage', 'The bank is unavailable', 'outage switched on (sandbox fault)', {}, { 'Retry-After': '1' }) : undefined),
    bearer(deps.apiKey, 'bank-sandbox'),
  ];
  const lookupFault: RequestHandler = (_req, _res, next) => {
    if (!deps.faults.strikes(deps.faults.current().lookupErrorRate)) return next();
    deps.logger.info({ fault: 'lookup-error' }, 'sandbox bank: fault injected on a refund lookup');
    next(unavailable('lookups are failing (sandbox fault)'));
  };
  router.post('/v1/refunds', ...guard, express.json({ limit: BODY_BYTES_MAX }), (req, res) => submitRefund(deps, newRefundId, req, res));
  router.get('/v1/refunds/:id', ...guard, lookupFault, async (req, res) => {
    const refund = await deps.refunds.findRefund(req.params['id'] as string);
    if (!refund) throw new SandboxProblem(404, 'refund-not-found', 'Refund not found', 'no refund with this id');
    res.json(refund);
  });
  router.get('/v1/refunds', ...guard, lookupFault, listRefunds(deps.refunds));
  // The back office's view: untouched by outage and faults, for reconciliation and tests.
  router.get('/admin/refunds', bearer(deps.adminKey, 'bank-sandbox-admin'), listRefunds(deps.refunds));
  return router;
}

function listRefunds(refunds: RefundLedger): RequestHandler {
  return async (req, res) => {
    const query = RefundListingQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(fieldProblems('query', query.error));
    const { endToEndId, transferId, cursor, limit } = query.data;
    const page = await refunds.listRefunds({ ...(endToEndId ? { endToEndId } : {}), ...(transferId ? { transferId } : {}), ...(cursor === undefined ? {} : { after: cursor }), limit });
    res.json({ items: page.items, nextCursor: page.more && page.last !== undefined ? encodeCursor(page.last) : null });
  };
}

function parseSubmission(req: Request): { idempotencyKey: string; body: RefundRequest } {
  if (req.body === undefined) throw new SandboxProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the refund as application/json');
  const problems = [];
  const idempotencyKey = req.headers['idempotency-key'];
  if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    problems.push({ pointer: '#/header/idempotency-key', detail: 'required: 1 to 255 printable ASCII characters' });
  }
  const body = RefundRequestBody.safeParse(req.body);
  if (!body.success) problems.push(...fieldProblems('body', body.error));
  if (problems.length > 0 || !body.success) throw validationProblem(problems);
  return { idempotencyKey: idempotencyKey as string, body: body.data };
}

const inFlightProblem = () =>
  new SandboxProblem(409, 'idempotency-key-in-flight', 'Request in flight', 'a request with this key is still being processed; look the refund up or retry later', {}, { 'Retry-After': '1' });

const locationOf = (refund: RefundView) => `/v1/refunds/${encodeURIComponent(refund.id)}`;

/** The faults strike at the same moments as for transfers (see submitTransfer in routes.ts). */
async function submitRefund(deps: RefundRouteDependencies, newRefundId: () => string, req: Request, res: Response): Promise<void> {
  const { idempotencyKey, body } = parseSubmission(req);
  const faults = deps.faults.current();
  if (deps.faults.strikes(faults.errorBeforeRate)) {
    deps.logger.info({ endToEndId: body.endToEndId, fault: 'error-before' }, 'sandbox bank: fault injected, no refund executed');
    throw unavailable('nothing was executed (sandbox fault)');
  }
  const lockToken = randomUUID();
  // Every field of the refund, in a fixed order: key order and whitespace of the body do not count.
  const fingerprint = createHash('sha256').update(JSON.stringify([body.transferId, body.amountMinor, body.currency, body.endToEndId]), 'utf8').digest('hex');
  const claim = await deps.refunds.claimKey({ idempotencyKey, fingerprint, lockToken, now: deps.now(), ttlMs: faults.idempotencyTtlMs, inFlightMsMax: IN_FLIGHT_MS_MAX });
  if (claim.kind === 'different-request') {
    throw new SandboxProblem(422, 'idempotency-key-reused', 'Idempotency key reused', 'this key was used with a different request; use a new key for a new refund');
  }
  if (claim.kind === 'in-flight') throw inFlightProblem();
  if (claim.kind === 'replay') {
    res.status(201).set(REPLAY_HEADER, 'true').set('Location', locationOf(JSON.parse(claim.body) as RefundView)).type('json').send(claim.body);
    return;
  }
  const refund = await executeHoldingKey(deps, { id: `rf_${newRefundId()}`, idempotencyKey, lockToken, request: body, latencyMs: faults.latencyMs });
  deps.logger.info({ refundId: refund.id, transferId: refund.transferId, endToEndId: refund.endToEndId, status: refund.status, amountMinor: refund.amountMinor, currency: refund.currency }, 'sandbox bank: refund executed');
  if (deps.faults.strikes(faults.errorAfterRate)) {
    deps.logger.info({ refundId: refund.id, fault: 'error-after' }, 'sandbox bank: fault injected after commit');
    throw new SandboxProblem(500, 'internal-error', 'Internal error', 'something went wrong after executing (sandbox fault)');
  }
  if (deps.faults.strikes(faults.dropAfterCommitRate)) {
    deps.logger.info({ refundId: refund.id, fault: 'drop-after-commit' }, 'sandbox bank: fault injected after commit, connection dropped');
    req.socket.destroy();
    return;
  }
  res.status(201).set('Location', locationOf(refund)).type('json').send(JSON.stringify(refund));
}

async function executeHoldingKey(deps: RefundRouteDependencies, held: { id: string; idempotencyKey: string; lockToken: string; request: RefundRequest; latencyMs: number }): Promise<RefundView> {
  try {
    if (held.latencyMs > 0) await sleep(held.latencyMs, undefined, { signal: deps.closing });
    return await deps.refunds.recordRefund({ id: held.id, idempotencyKey: held.idempotencyKey, lockToken: held.lockToken, request: held.request, now: deps.now() });
  } catch (error) {
    await deps.refunds.releaseKey(held.idempotencyKey, held.lockToken).catch(() => undefined);
    if (error instanceof RefundKeyLostError) throw inFlightProblem();
    if (error instanceof RefundImpossibleError) {
      throw new SandboxProblem(422, error.code, error.code === 'transfer-not-found' ? 'Transfer not found' : 'Currency mismatch', `${error.message}; nothing was executed`);
    }
    if (deps.closing.aborted) throw new SandboxProblem(503, 'shutting-down', 'The bank is shutting down', 'nothing was executed');
    throw error;
  }
}
