/**
 * Chaos on server PostgreSQL with real processes: a few hundred payments go in
 * through the API while two gateway processes work against a faulty sandbox
 * bank, are SIGKILLed at random moments (by this test and by their own crash
 * points) and restarted. Then the bank heals, the gateways drain, and the
 * bank's ledger is checked against the payments, one by one.
 *
 * Bounded: the chaos lasts CHAOS_MS, the drain at most DRAIN_MS_MAX. A failing
 * run repeats with the seed it prints (PAYSTREAM_CHAOS_SEED).
 */
import { MAGIC_CREDITOR_IBANS } from '../../src/bank-sandbox/magic-ibans';
import { seededDice } from '../../src/bank-sandbox/faults';
import type { TransferView } from '../../src/bank-sandbox/wire';
import { serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startDeployment, type Deployment, type PaymentView } from './deployment';
import { waitFor, type RunningProcess } from './gateway-processes';

const PAYMENT_COUNT = Number(process.env.PAYSTREAM_CHAOS_PAYMENTS ?? 300);
const SEED = Number(process.env.PAYSTREAM_CHAOS_SEED ?? Date.now() % 2 ** 31);
const CHAOS_MS = 30_000;
const DRAIN_MS_MAX = 150_000;
const KILL_INTERVAL_MS = 2_500;
const PUT_CONCURRENCY_MAX = 8;
const CRASH_POINTS = 'before-bank-call@0.02,after-bank-call-before-outcome@0.02,after-outcome-before-checkpoint@0.02';
const FINAL_STATUSES = new Set(['settled', 'rejected', 'cancelled', 'unknown']);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: the gateway chaos test needs server PostgreSQL: ${serverPostgresSkipReason()}`);

/** What each payment was meant to do: settle, be rejected by the bank (magic IBAN), or be cancelled in a race with the gateway. */
type Plan = 'settle' | 'reject' | 'cancel';

describeOnServer('gateway chaos (two gateway processes, SIGKILL, a faulty bank, server PostgreSQL)', () => {
  let deployment: Deployment;
  const dice = seededDice(SEED);

  beforeAll(async () => {
    deployment = await startDeployment({
      bankEnv: {
        BANK_SANDBOX_SEED: String(SEED),
        BANK_SANDBOX_ERROR_BEFORE_RATE: '0.1',
        BANK_SANDBOX_ERROR_AFTER_RATE: '0.1',
        BANK_SANDBOX_DROP_AFTER_COMMIT_RATE: '0.1',
        BANK_SANDBOX_LOOKUP_ERROR_RATE: '0.1',
      },
    });
  }, 120_000);
  afterAll(() => deployment?.close());

  /** Keeps two gateways alive while the chaos lasts: kills one now and then, restarts whatever died. */
  async function superviseGateways(until: () => boolean) {
    const gateways = new Map<string, RunningProcess>();
    let restarts = 0;
    let kills = 0;
    let crashPointDeaths = 0;
    let nextKillAt = Date.now() + KILL_INTERVAL_MS;
    while (!until()) {
      for (const name of ['gw-a', 'gw-b']) {
        const previous = gateways.get(name);
        if (previous?.isRunning()) continue;
        if (previous) restarts += 1;
        if (previous?.output().includes('paystream crash point reached')) crashPointDeaths += 1;
        gateways.set(name, await deployment.startGateway(name, { PAYSTREAM_CRASH_POINTS: CRASH_POINTS }));
      }
      if (Date.now() >= nextKillAt) {
        await gateways.get(dice.strikes(0.5) ? 'gw-a' : 'gw-b')!.kill('SIGKILL');
        kills += 1;
        nextKillAt = Date.now() + KILL_INTERVAL_MS;
      }
      await pause(100);
    }
    await Promise.all([...gateways.values()].map((gateway) => gateway.kill('SIGKILL')));
    return { kills, restarts, crashPointDeaths };
  }

  /** PUTs every payment through the API, a few at a time, cancelling the ones planned for it right after. */
  async function sendPayments(plans: ReadonlyMap<string, Plan>) {
    const queue = [...plans.entries()];
    const putStatuses: number[] = [];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [id, plan] = next;
        const creditorIban = plan === 'reject' ? MAGIC_CREDITOR_IBANS.insufficientFunds.iban : undefined;
        putStatuses.push(await deployment.putPayment(id, creditorIban ? { creditorIban } : {}));
        if (plan === 'cancel') expect([200, 409]).toContain(await deployment.cancelPayment(id));
        await pause(CHAOS_MS / PAYMENT_COUNT);
      }
    };
    await Promise.all(Array.from({ length: PUT_CONCURRENCY_MAX }, worker));
    return putStatuses;
  }

  async function viewsOf(ids: readonly string[]): Promise<PaymentView[]> {
    const views: PaymentView[] = [];
    for (let index = 0; index < ids.length; index += 25) views.push(...(await Promise.all(ids.slice(index, index + 25).map((id) => deployment.getPayment(id)))));
    return views;
  }

  it('when gateways die at random against a faulty bank, then every payment ends final or parked, with exactly one transfer per settled payment and none astray', async () => {
    console.log(`[chaos] seed ${SEED}, ${PAYMENT_COUNT} payments, ${CHAOS_MS} ms of chaos`);
    const run = Date.now().toString(36);
    const plans = new Map<string, Plan>();
    for (let index = 0; index < PAYMENT_COUNT; index++) {
      plans.set(`chaos-${run}-${index}`, dice.strikes(0.1) ? 'reject' : dice.strikes(0.1) ? 'cancel' : 'settle');
    }
    const chaosEndsAt = Date.now() + CHAOS_MS;
    const [supervision, putStatuses] = await Promise.all([superviseGateways(() => Date.now() >= chaosEndsAt), sendPayments(plans)]);
    expect(putStatuses.every((status) => status === 201)).toBe(true);

    await deployment.bank.heal();
    const survivors = [await deployment.startGateway('gw-a-final'), await deployment.startGateway('gw-b-final')];
    const ids = [...plans.keys()];
    const views = await waitFor(
      'every payment to be final or parked',
      async () => {
        const current = await viewsOf(ids);
        return current.every((view) => FINAL_STATUSES.has(view.status)) ? current : undefined;
      },
      DRAIN_MS_MAX,
      1_000,
    );
    await Promise.all(survivors.map((gateway) => gateway.kill('SIGTERM')));

    const transfers = await deployment.bank.allTransfers();
    const byEndToEndId = new Map<string, TransferView[]>();
    for (const transfer of transfers) byEndToEndId.set(transfer.endToEndId, [...(byEndToEndId.get(transfer.endToEndId) ?? []), transfer]);
    const ours = new Set(ids.map((id) => deployment.endToEndIdOf(id)));
    const counts = { settled: 0, rejected: 0, cancelled: 0, unknown: 0 };
    const wrong: string[] = [];
    for (const view of views) {
      counts[view.status as keyof typeof counts] += 1;
      const atBank = byEndToEndId.get(deployment.endToEndIdOf(view.id)) ?? [];
      const accepted = atBank.filter((transfer) => transfer.status === 'accepted');
      const problem = ledgerProblem(view, atBank, accepted, plans.get(view.id)!);
      if (problem) wrong.push(`${view.id} (${view.status}, planned ${plans.get(view.id)}): ${problem}`);
    }
    const astray = transfers.filter((transfer) => !ours.has(transfer.endToEndId));
    console.log(
      `[chaos] seed ${SEED}: ${views.length} payments — ${counts.settled} settled, ${counts.rejected} rejected, ${counts.cancelled} cancelled, ${counts.unknown} parked; ` +
        `${transfers.length} bank transfers (${transfers.filter((t) => t.status === 'accepted').length} accepted), ${astray.length} without a payment; ` +
        `${supervision.kills} gateways killed by the test, ${supervision.crashPointDeaths} by their crash points, ${supervision.restarts} restarts`,
    );
    expect(wrong).toEqual([]);
    expect(astray).toEqual([]);
    expect(counts.settled).toBeGreaterThan(0);
    expect(supervision.kills).toBeGreaterThan(0);
  }, CHAOS_MS + DRAIN_MS_MAX + 60_000);
});

/** What is wrong between a payment and the bank's transfers for it, if anything. */
function ledgerProblem(view: PaymentView, atBank: readonly TransferView[], accepted: readonly TransferView[], plan: Plan): string | undefined {
  switch (view.status) {
    case 'settled':
      if (plan === 'reject') return 'settled although the bank rejects its creditor';
      if (atBank.length !== 1 || accepted.length !== 1) return `${atBank.length} transfers at the bank, ${accepted.length} accepted; expected exactly one`;
      return accepted[0]!.id === view.bank?.transferId ? undefined : `records transfer ${view.bank?.transferId}, the bank holds ${accepted[0]!.id}`;
    case 'rejected':
      return accepted.length === 0 && atBank.length <= 1 ? undefined : `${atBank.length} transfers at the bank, ${accepted.length} accepted; expected one rejected at most`;
    case 'cancelled':
      return atBank.length === 0 ? undefined : `${atBank.length} transfers at the bank for a cancelled payment`;
    case 'unknown':
      if (!view.bank?.lastError) return 'parked without a reason';
      return accepted.length <= 1 ? undefined : `${accepted.length} accepted transfers for a parked payment`;
    default:
      return `not final: ${view.status}`;
  }
}
