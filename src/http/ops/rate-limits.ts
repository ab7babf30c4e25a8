/**
 * Limits on operators' actions, per staff member per hour and per action
 * (retry, resolve, approve, reject), with express-rate-limit. Going over is a
 * 429 problem with Retry-After, and the refusal is audited on the payment's
 * operator audit stream when the request names a payment (directly, or through
 * the approval it decides).
 * Rationale for the in-process count: like the API-wide limit, it is per API
 * instance; with N instances behind a balancer a person gets at most N times
 * the limit, which still bounds a runaway script.
 */
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { OperatorActionName } from '../../domain/operator-audit';
import type { PaymentRef } from '../../application/operator-actions';
import { commandMetadata, principalFrom } from '../auth';
import { HttpProblem } from '../problem';

export const ACTION_WINDOW_MS = 60 * 60 * 1000;

export interface ActionLimitOptions {
  readonly limitPerHour: number;
  readonly now: () => Date;
  /** The payment a refused request was about, if it names one. */
  readonly paymentOf: (params: Record<string, string>) => Promise<PaymentRef | undefined>;
  readonly audit: (ref: PaymentRef, refusal: { action: OperatorActionName; problem: string; detail: string; claim: Record<string, string | null> }, metadata: ReturnType<typeof commandMetadata>) => Promise<void>;
}

export function actionRateLimit(action: OperatorActionName, options: ActionLimitOptions): RequestHandler {
  if (options.limitPerHour === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: ACTION_WINDOW_MS,
    limit: options.limitPerHour,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => principalFrom(res).id,
    handler: (req, res, next) => {
      const resetTime = (req as unknown as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfterSeconds = Math.max(1, Math.ceil(((resetTime?.getTime() ?? options.now().getTime() + ACTION_WINDOW_MS) - options.now().getTime()) / 1000));
      const detail = `at most ${options.limitPerHour} ${action} actions per staff member per hour`;
      const problem = new HttpProblem(429, 'rate-limited', 'Too many operator actions', detail, { action, limitPerHour: options.limitPerHour }, { 'Retry-After': String(retryAfterSeconds) });
      void (async () => {
        const ref = await options.paymentOf(req.params as Record<string, string>);
        if (ref) await options.audit(ref, { action, problem: 'rate_limited', detail, claim: { reason: typeof req.body?.reason === 'string' ? String(req.body.reason).slice(0, 500) : null } }, commandMetadata(req, res, options.now));
      })().then(
        () => next(problem),
        (error: unknown) => next(error),
      );
    },
  });
}
