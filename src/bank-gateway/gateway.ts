/**
 * The bank gateway: a reactor that follows the payment log (through the work
 * queue its feeder fills) and moves money, one claimed payment at a time per
 * worker slot, at most `concurrencyMax` at once. Several gateway processes may
 * run against one database; the queue's SKIP LOCKED claims and leases share the
 * work, and the stable idempotency key and lookup-first recovery make a
 * duplicate claim harmless.
 */
import type { PaymentsModule } from '../application/payments';
import { formatPosition, type EventStore } from '../event-store/port';
import type { ReadinessCheck } from '../shared/readiness';
import type { Logger } from '../logging';
import type { BankClient } from './bank-client';
import { backoffAfterFailuresMs, createPause } from '../shared/pause';
import { createTransferReservations } from '../application/transfer-reservations';
import { createClaimWorker } from './claim-worker';
import type { GatewayConfig } from './config';
import { NO_CRASH_POINTS, type CrashPoints } from './crash-points';
import type { Feeder } from './work-feeder';
import type { WorkQueue } from './work-queue';

export type GatewaySettings = Pick<
  GatewayConfig,
  'gatewayId' | 'leaseMs' | 'concurrencyMax' | 'pollIntervalMs' | 'retryWindowMs' | 'inFlightWaitMs' | 'backoffBaseMs' | 'backoffMaxMs'
>;

export interface BankGatewayDeps {
  readonly payments: PaymentsModule;
  readonly store: EventStore;
  readonly workQueue: WorkQueue;
  readonly feeder: Feeder;
  readonly bank: BankClient;
  readonly logger: Logger;
  readonly settings: GatewaySettings;
  readonly crashPoints?: CrashPoints;
  readonly now?: () => Date;
  /** How often the gateway logs its lag, in-flight count and circuit state. */
  readonly statusLogIntervalMs?: number;
}

export interface BankGateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly readiness: ReadinessCheck;
  /** Payments being worked on now (the gateway_in_flight metric). */
  inFlightCount(): number;
}

export function createBankGateway(deps: BankGatewayDeps): BankGateway {
  const { settings, workQueue, logger } = deps;
  const inFlight = new Set<Promise<void>>();
  const pause = createPause();
  let stopping = false;
  let loop: Promise<void> | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let lastLoopError: string | undefined;

  const worker = createClaimWorker({
    payments: deps.payments,
    reservations: createTransferReservations({ store: deps.store }),
    workQueue,
    bank: deps.bank,
    crashPoints: deps.crashPoints ?? NO_CRASH_POINTS,
    logger,
    now: deps.now ?? (() => new Date()),
    gatewayId: settings.gatewayId,
    leaseMs: settings.leaseMs,
    policy: { retryWindowMs: settings.retryWindowMs, inFlightWaitMs: settings.inFlightWaitMs },
    backoff: { baseMs: settings.backoffBaseMs, maxMs: settings.backoffMaxMs },
    isStopping: () => stopping,
  });

  async function claimAndDispatch(): Promise<number> {
    const free = settings.concurrencyMax - inFlight.size;
    if (free <= 0) return 0;
    const claims = await workQueue.claim(settings.gatewayId, free, settings.leaseMs);
    for (const claim of claims) {
      const running: Promise<void> = worker.work(claim).finally(() => {
        inFlight.delete(running);
        pause.wake();
      });
      inFlight.add(running);
    }
    return claims.length;
  }

  async function run(): Promise<void> {
    for (let failures = 0; !stopping; ) {
      try {
        const claimed = await claimAndDispatch();
        failures = 0;
        lastLoopError = undefined;
        // A full claim means more may be due: look again at once when a slot frees.
        if (claimed === 0 || inFlight.size >= settings.concurrencyMax) await pause.wait(settings.pollIntervalMs);
      } catch (error) {
        failures += 1;
        lastLoopError = String(error);
        logger.error({ err: error, failures }, 'claiming work failed; backing off');
        await pause.wait(backoffAfterFailuresMs(failures, settings.pollIntervalMs, 10_000));
      }
    }
  }

  async function status() {
    const [queue, head] = await Promise.all([workQueue.stats(), deps.store.headPosition()]);
    const fed = deps.feeder.position();
    return {
      gatewayId: settings.gatewayId,
      inFlight: inFlight.size,
      circuit: deps.bank.circuitStatus(),
      queue,
      feeder: { position: fed && formatPosition(fed), head: formatPosition(head), error: deps.feeder.error() ?? null },
      loopError: lastLoopError ?? null,
    };
  }

  return {
    async start() {
      await workQueue.migrate();
      deps.feeder.onFed(() => pause.wake());
      await deps.feeder.start();
      loop = run();
      statusTimer = setInterval(() => {
        status().then(
          (details) => logger.info(details, 'gateway status'),
          (error: unknown) => logger.warn({ err: error }, 'gateway status unavailable'),
        );
      }, deps.statusLogIntervalMs ?? 10_000);
      statusTimer.unref();
      logger.info({ gatewayId: settings.gatewayId, concurrencyMax: settings.concurrencyMax }, 'bank gateway started');
    },
    async stop() {
      stopping = true;
      clearInterval(statusTimer);
      pause.stop();
      await loop;
      await Promise.allSettled([...inFlight]);
      await deps.feeder.stop();
      logger.info({ gatewayId: settings.gatewayId }, 'bank gateway stopped');
    },
    // Rationale: an open circuit is reported but does not make the process
    // unready; the bank being down is not a reason to stop taking payments.
    readiness: async () => {
      const details = await status();
      return { healthy: !stopping && details.feeder.error === null && details.loopError === null, details };
    },
    inFlightCount: () => inFlight.size,
  };
}
