/**
 * What a readiness check is, shared by every module that reports one (gateway,
 * projector, the API's store check) and by the health routes that serve them.
 * Rationale: it lives here, not in src/http, so a module can say how it is
 * doing without importing the HTTP layer.
 */

export interface ReadinessReport {
  readonly healthy: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type ReadinessCheck = () => Promise<ReadinessReport>;

/** The checks a module adds to its process's readiness, by name. */
export type ReadinessChecks = ReadonlyMap<string, ReadinessCheck>;

export const READINESS_CHECK_TIMEOUT_MS = 2_000;

/** A check that fails, or gives no answer in time, is a report of "not healthy", never an error. */
export async function runReadinessCheck(check: ReadinessCheck): Promise<ReadinessReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessReport>((resolve) => {
    timer = setTimeout(() => resolve({ healthy: false, details: { error: `no answer within ${READINESS_CHECK_TIMEOUT_MS} ms` } }), READINESS_CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check().catch((error: unknown) => ({ healthy: false, details: { error: String(error) } })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The event store's check, the same in every process: it answers a ping. */
export function storeReadiness(store: { ping(): Promise<void> }): ReadinessChecks {
  return new Map<string, ReadinessCheck>([['eventStore', async () => (await store.ping(), { healthy: true })]]);
}
