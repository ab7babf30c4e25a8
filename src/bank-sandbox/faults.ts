/**
 * The faults the sandbox can show, and the dice that decide when a partial
 * rate strikes. Each fault is one of the moments a real bank call can go wrong
 * for the caller: before anything happened, after the money moved, or with no
 * answer at all.
 */
import { z } from 'zod';

export const LATENCY_MS_MAX = 60_000;
export const IDEMPOTENCY_TTL_MS_DEFAULT = 24 * 3_600_000;
export const IDEMPOTENCY_TTL_MS_MAX = 30 * 24 * 3_600_000;
export const SEED_MAX = 2 ** 32 - 1;

export interface Faults {
  /** Added to each submission while its idempotency key is in flight; lookups answer at once. */
  readonly latencyMs: number;
  /** Share of submissions answered 503 before anything is looked at or executed. */
  readonly errorBeforeRate: number;
  /** Share of submissions executed and committed, then answered 500. */
  readonly errorAfterRate: number;
  /** Share of submissions executed and committed, then left without an answer (socket destroyed). */
  readonly dropAfterCommitRate: number;
  /** Share of lookups (GET /v1/transfers…) answered 503; the ledger is still there, only unreadable. */
  readonly lookupErrorRate: number;
  /** Every /v1 request answered 503; admin and health still answer. */
  readonly outage: boolean;
  /** How long a key is remembered after its first use; applies to keys already stored. */
  readonly idempotencyTtlMs: number;
}

export function healthyFaults(idempotencyTtlMs: number): Faults {
  return { latencyMs: 0, errorBeforeRate: 0, errorAfterRate: 0, dropAfterCommitRate: 0, lookupErrorRate: 0, outage: false, idempotencyTtlMs };
}

const rate = z.number().min(0).max(1);

/**
 * The PUT and PATCH body. PUT: the whole fault set, an omitted fault is off and
 * an omitted TTL is the configured one, so `{}` heals the bank. PATCH: only the
 * named faults change. `seed` restarts the dice.
 */
export const FaultsReplacement = z.strictObject({
  latencyMs: z.number().int().min(0).max(LATENCY_MS_MAX).optional(),
  errorBeforeRate: rate.optional(),
  errorAfterRate: rate.optional(),
  dropAfterCommitRate: rate.optional(),
  lookupErrorRate: rate.optional(),
  outage: z.boolean().optional(),
  idempotencyTtlMs: z.number().int().min(1).max(IDEMPOTENCY_TTL_MS_MAX).optional(),
  seed: z.number().int().min(0).max(SEED_MAX).optional(),
});

export type FaultsReplacement = z.infer<typeof FaultsReplacement>;

export function replaceFaults(replacement: FaultsReplacement, configuredTtlMs: number): Faults {
  const { seed: _seed, ...faults } = replacement;
  return { ...healthyFaults(configuredTtlMs), ...faults };
}

export function patchFaults(current: Faults, patch: FaultsReplacement): Faults {
  const { seed: _seed, ...faults } = patch;
  return { ...current, ...faults };
}

/** Decides whether a fault with a given rate strikes now. */
export interface Dice {
  strikes(rate: number): boolean;
}

/**
 * mulberry32: small, fast and good enough to spread faults; the same seed
 * gives the same sequence, so a failing chaos run can be repeated.
 * Rationale: rates of 0 and 1 do not roll, so switching a fault fully on or
 * off never shifts the sequence the partial rates see.
 */
export function seededDice(seed: number): Dice {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    strikes(rate: number): boolean {
      if (rate <= 0) return false;
      if (rate >= 1) return true;
      return next() < rate;
    },
  };
}

/** The faults in force and the dice, changed together by the admin endpoint. */
export interface FaultSwitchboard {
  current(): Faults;
  replace(replacement: FaultsReplacement): Faults;
  patch(patch: FaultsReplacement): Faults;
  strikes(rate: number): boolean;
}

export function createFaultSwitchboard(initial: Faults, seed: number, configuredTtlMs: number): FaultSwitchboard {
  let faults = initial;
  let dice = seededDice(seed);
  return {
    current: () => faults,
    replace(replacement) {
      faults = replaceFaults(replacement, configuredTtlMs);
      if (replacement.seed !== undefined) dice = seededDice(replacement.seed);
      return faults;
    },
    patch(patch) {
      faults = patchFaults(faults, patch);
      if (patch.seed !== undefined) dice = seededDice(patch.seed);
      return faults;
    },
    strikes: (rate) => dice.strikes(rate),
  };
}
