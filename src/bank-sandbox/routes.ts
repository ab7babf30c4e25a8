/**
 * The sandbox's HTTP API (docs/bank-sandbox.md): transfers under /v1 for the
 * bank's customer, the fault switchboard under /admin for tests and demos.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../logging';
import { maskIban } from '../shared/mask-iban';
import { createUlidFactory } from '../random-ids';
import { FaultsReplacement, type FaultSwitchboard } from './faults';
import { KeyLostError, type Ledger } from './ledger';
import { decideTransfer } from './magic-ibans';
import { SandboxProblem, fieldProblems, validationProblem } from './problem';
import { IDEMPOTENCY_KEY_PATTERN, ListingQuery, TransferRequestBody, encodeCursor, requestFingerprint, type TransferView } from './wire';

export const BODY_BYTES_MAX = 16_384;
/**
 * A marker older than this is taken for one whose request died before it
 * committed (a crash; no transfer exists, since the transfer commits with the
 * marker's completion), and the key may be used again. Well above the longest
 * latency fault, so a live request is never taken over.
 */
export const IN_FLIGHT_MS_MAX = 120_000;

export const REPLAY_HEADER = 'Idempotent-Replayed';

export interface RouteDependencies {
  readonly ledger: Ledger;
  readonly faults: FaultSwitchboard;
  readonly apiKey: string;
  readonly adminKey: string;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborted when the sandbox closes, so a held request does not keep it open. */
  readonly closing: AbortSignal;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time comparison through digests, so neither content nor length leaks through timing. */
function bearer(expectedKey: string, realm: string): RequestHandler {
  const expected = digest(expectedKey);
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (match && timingSafeEqual(digest(match[1]!), expected)) return next();
    next(new SandboxProblem(401, 'unauthorized', 'Unauthorized', 'a valid bearer key is required', {}, { 'WWW-Authenticate': `Bearer realm="${realm}"` }));
  };
}

export function createTransfersRouter(deps: RouteDependencies): Router {
  const router = Router();
  const newTransferId = createUlidFactory();
  router.use('/v1', (_req, _res, next) => {
    if (!deps.faults.current().outage) return next();
    next(new SandboxProblem(503, 'outage', 'The bank is unavailable', 'outage switched on (sandbox fault)', {}, { 'Retry-After': '1' }));
  });
  router.use('/v1', bearer(deps.apiKey, 'bank-sandbox'));
  router.post('/v1/transfers', express.json({ limit: BODY_BYTES_MAX }), (req, res) => submitTransfer(deps, newTransferId, req, res));
  router.get(['/v1/transfers', '/v1/transfers/:id'], (_req, _res, next) => {
    if (!deps.faults.strikes(deps.faults.current().lookupErrorRate)) return next();
    deps.logger.info({ fault: 'lookup-error' }, 'sandbox bank: fault injected on a lookup');
    next(new SandboxProblem(503, 'unavailable', 'The bank is unavailable', 'lookups are failing (sandbox fault)', {}, { 'Retry-After': '1' }));
  });
  router.get('/v1/transfers/:id', async (req, res) => {
    const transfer = await deps.ledger.findTransfer(req.params['id'] as string);
    if (!transfer) throw new SandboxProblem(404, 'transfer-not-found', 'Transfer not found', 'no transfer with this id');
    res.json(transfer);
  });
  router.get('/v1/transfers', listTransfers(deps.ledger));
  return router;
}

/** One page of transfers, oldest first, optionally only those for one end-to-end id. */
function listTransfers(ledger: Ledger): RequestHandler {
  return async (req, res) => {
    const query = ListingQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(fieldProblems('query', query.error));
    const { endToEndId, cursor, limit } = query.data;
    const page = await ledger.listTransfers({ ...(endToEndId ? { endToEndId } : {}), ...(cursor === undefined ? {} : { after: cursor }), limit });
    res.json({ items: page.items, nextCursor: page.more && page.last !== undefined ? encodeCursor(page.last) : null });
  };
}

function parseSubmission(req: Request): { idempotencyKey: string; body: TransferRequestBody } {
  if (req.body === undefined) throw new SandboxProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the transfer as application/json');
  const problems = [];
  const idempotencyKey = req.headers['idempotency-key'];
  if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    problems.push({ pointer: '#/header/idempotency-key', detail: 'required: 1 to 255 printable ASCII characters' });
  }
  const body = TransferRequestBody.safeParse(req.body);
  if (!body.success) problems.push(...fieldProblems('body', body.error));
  if (problems.length > 0 || !body.success) throw validationProblem(problems);
  return { idempotencyKey: idempotencyKey as string, body: body.data };
}

/**
 * Rationale for the order: a 503 "before" strikes before the key is looked at,
 * as a failing load balancer would; latency is spent holding the in-flight
 * marker, which is what makes a concurrent same-key request see 409; the
 * "after" faults strike once the transfer and its stored response committed.
 */
async function submitTransfer(deps: RouteDependencies, newTransferId: () => string, req: Request, res: Response): Promise<void> {
  const { idempotencyKey, body } = parseSubmission(req);
  const faults = deps.faults.current();
  if (deps.faults.strikes(faults.errorBeforeRate)) {
    deps.logger.info({ endToEndId: body.endToEndId, fault: 'error-before' }, 'sandbox bank: fault injected, nothing executed');
    throw new SandboxProblem(503, 'unavailable', 'The bank is unavailable', 'nothing was executed (sandbox fault)', {}, { 'Retry-After': '1' });
  }
  const lockToken = randomUUID();
  const claim = await deps.ledger.claimKey({ idempotencyKey, fingerprint: requestFingerprint(body), lockToken, now: deps.now(), ttlMs: faults.idempotencyTtlMs, inFlightMsMax: IN_FLIGHT_MS_MAX });
  if (claim.kind === 'different-request') {
    throw new SandboxProblem(422, 'idempotency-key-reused', 'Idempotency key reused', 'this key was used with a different request; use a new key for a new transfer');
  }
  if (claim.kind === 'in-flight') throw inFlightProblem();
  if (claim.kind === 'replay') {
    res.status(claim.status).set(REPLAY_HEADER, 'true').set('Location', locationOf(JSON.parse(claim.body) as TransferView)).type('json').send(claim.body);
    return;
  }
  const transfer = await executeHoldingKey(deps, { id: `tr_${newTransferId()}`, idempotencyKey, lockToken, body, latencyMs: faults.latencyMs });
  deps.logger.info(
    { transferId: transfer.id, endToEndId: transfer.endToEndId, status: transfer.status, amountMinor: transfer.amountMinor, currency: transfer.currency, creditorIban: maskIban(transfer.creditor.iban) },
    'sandbox bank: transfer executed',
  );
  if (deps.faults.strikes(faults.errorAfterRate)) {
    deps.logger.info({ transferId: transfer.id, fault: 'error-after' }, 'sandbox bank: fault injected after commit');
    throw new SandboxProblem(500, 'internal-error', 'Internal error', 'something went wrong after executing (sandbox fault)');
  }
  if (deps.faults.strikes(faults.dropAfterCommitRate)) {
    deps.logger.info({ transferId: transfer.id, fault: 'drop-after-commit' }, 'sandbox bank: fault injected after commit, connection dropped');
    req.socket.destroy();
    return;
  }
  res.status(201).set('Location', locationOf(transfer)).type('json').send(JSON.stringify(transfer));
}

const inFlightProblem = () =>
  new SandboxProblem(409, 'idempotency-key-in-flight', 'Request in flight', 'a request with this key is still being processed; look the transfer up or retry later', {}, { 'Retry-After': '1' });

const locationOf = (transfer: TransferView) => `/v1/transfers/${encodeURIComponent(transfer.id)}`;

/** Holds the marker for the latency, then commits; a request that ends without a transfer gives its key back. */
async function executeHoldingKey(
  deps: RouteDependencies,
  held: { id: string; idempotencyKey: string; lockToken: string; body: TransferRequestBody; latencyMs: number },
): Promise<TransferView> {
  try {
    if (held.latencyMs > 0) await sleep(held.latencyMs, undefined, { signal: deps.closing });
    return await deps.ledger.recordTransfer({
      id: held.id,
      idempotencyKey: held.idempotencyKey,
      lockToken: held.lockToken,
      request: held.body,
      decision: decideTransfer(held.body.creditor.iban),
      now: deps.now(),
    });
  } catch (error) {
    await deps.ledger.releaseKey(held.idempotencyKey, held.lockToken).catch(() => undefined);
    if (error instanceof KeyLostError) throw inFlightProblem();
    if (deps.closing.aborted) throw new SandboxProblem(503, 'shutting-down', 'The bank is shutting down', 'nothing was executed');
    throw error;
  }
}

export function createAdminRouter(deps: RouteDependencies): Router {
  const router = Router();
  router.use('/admin', bearer(deps.adminKey, 'bank-sandbox-admin'));
  router.get('/admin/faults', (_req, res) => {
    res.json(deps.faults.current());
  });
  router.put('/admin/faults', express.json({ limit: BODY_BYTES_MAX }), (req, res) => changeFaults(deps, req, res, 'replace'));
  router.patch('/admin/faults', express.json({ limit: BODY_BYTES_MAX }), (req, res) => changeFaults(deps, req, res, 'patch'));
  // The back office's view of the ledger: the same listing, untouched by outage and faults.
  router.get('/admin/transfers', listTransfers(deps.ledger));
  return router;
}

function changeFaults(deps: RouteDependencies, req: Request, res: Response, how: 'replace' | 'patch'): void {
  if (req.body === undefined) throw new SandboxProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the faults as application/json');
  const change = FaultsReplacement.safeParse(req.body);
  if (!change.success) throw validationProblem(fieldProblems('body', change.error));
  const faults = how === 'replace' ? deps.faults.replace(change.data) : deps.faults.patch(change.data);
  deps.logger.info({ faults, ...(change.data.seed === undefined ? {} : { seed: change.data.seed }) }, `sandbox bank: faults ${how === 'replace' ? 'replaced' : 'changed'}`);
  res.json(faults);
}

export function createHealthRouter(ledger: Ledger): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const healthy = await ledger.ping().then(() => true, () => false);
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ready' : 'not_ready' });
  });
  return router;
}
