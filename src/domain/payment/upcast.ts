/**
 * Reading old events. Payloads are stored with the schema version they were
 * written in; upcasters lift an old payload one version at a time to the current
 * shape, so evolve and the projections only ever see current events.
 * Rationale: events are immutable facts, so a shape change can never rewrite the
 * log; it is bridged on read instead.
 */
import { isPaymentEventType, PAYMENT_EVENT_SCHEMA_VERSION, type PaymentEvent, type PaymentEventType } from './events';

type Payload = Readonly<Record<string, unknown>>;
export type Upcaster = (data: Payload) => Payload;

/** `UPCASTERS[type][v]` turns a version-v payload into version v+1. None needed yet: every event is at v1. */
export type UpcasterTable = Partial<Record<PaymentEventType, Readonly<Record<number, Upcaster>>>>;

const UPCASTERS: UpcasterTable = {};

export function upcastPaymentEvent(
  type: string,
  data: Payload,
  schemaVersion: number,
  upcasters: UpcasterTable = UPCASTERS,
  currentVersion: number = PAYMENT_EVENT_SCHEMA_VERSION,
): PaymentEvent | undefined {
  if (!isPaymentEventType(type)) return undefined;
  if (schemaVersion > currentVersion) {
    throw new Error(`${type} schema version ${schemaVersion} is newer than this build understands (${currentVersion})`);
  }
  let payload = data;
  for (let version = schemaVersion; version < currentVersion; version += 1) {
    const upcaster = upcasters[type]?.[version];
    if (!upcaster) throw new Error(`no upcaster for ${type} from schema version ${version}`);
    payload = upcaster(payload);
  }
  return { type, data: payload } as PaymentEvent;
}
