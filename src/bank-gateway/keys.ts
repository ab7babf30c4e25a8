/**
 * The two names a payment carries at the bank, derived from (tenant, payment id)
 * alone. Deterministic on purpose: every gateway process, after any crash or
 * restart, computes the same key and reference for the same payment, so the
 * bank can deduplicate and we can look the transfer up. Never random.
 */
import { createHash } from 'node:crypto';
import type { PaymentId, TenantId } from '../domain/ids';

/** ISO 20022 EndToEndIdentification is Max35Text. */
export const END_TO_END_ID_LENGTH_MAX = 35;

const IDEMPOTENCY_KEY_PREFIX = 'ps1-';
const END_TO_END_ID_PREFIX = 'PS1';

/**
 * Rationale for the length prefixes: "a" + "bc" and "ab" + "c" must not hash
 * alike. The ids' patterns exclude separators today; the encoding does not
 * depend on that staying true. The purpose label keeps the key and the
 * reference unrelated, so neither reveals the other.
 */
function digest(purpose: string, tenantId: TenantId, paymentId: PaymentId): string {
  const material = `paystream/${purpose}/v1\n${tenantId.length}:${tenantId}\n${paymentId.length}:${paymentId}`;
  return createHash('sha256').update(material, 'utf8').digest('hex');
}

/** `ps1-` and 64 hex characters: the Idempotency-Key of every submission of this payment. */
export function idempotencyKeyFor(tenantId: TenantId, paymentId: PaymentId): string {
  return `${IDEMPOTENCY_KEY_PREFIX}${digest('idempotency-key', tenantId, paymentId)}`;
}

/**
 * `PS1` and 32 upper-case hex characters (128 bits of SHA-256): 35 characters,
 * within the SEPA character set, unique per payment in practice.
 */
export function endToEndIdFor(tenantId: TenantId, paymentId: PaymentId): string {
  const hexLength = END_TO_END_ID_LENGTH_MAX - END_TO_END_ID_PREFIX.length;
  return `${END_TO_END_ID_PREFIX}${digest('end-to-end-id', tenantId, paymentId).slice(0, hexLength).toUpperCase()}`;
}

export interface BankReferences {
  readonly idempotencyKey: string;
  readonly endToEndId: string;
}

export function bankReferencesFor(tenantId: TenantId, paymentId: PaymentId): BankReferences {
  return { idempotencyKey: idempotencyKeyFor(tenantId, paymentId), endToEndId: endToEndIdFor(tenantId, paymentId) };
}

const REFUND_IDEMPOTENCY_KEY_PREFIX = 'rf1-';
const REFUND_END_TO_END_ID_PREFIX = 'RF1';

/**
 * A refund's two names at the bank, from (tenant, payment id, refund id)
 * alone, for the same reason as the payment's: every gateway, after any crash,
 * computes the same ones. Their own purpose labels and prefixes, so a refund's
 * names never equal its payment's or another refund's.
 */
export function refundReferencesFor(tenantId: TenantId, paymentId: PaymentId, refundId: string): BankReferences {
  const material = (purpose: string) => `paystream/${purpose}/v1\n${tenantId.length}:${tenantId}\n${paymentId.length}:${paymentId}\n${refundId.length}:${refundId}`;
  const hash = (purpose: string) => createHash('sha256').update(material(purpose), 'utf8').digest('hex');
  const hexLength = END_TO_END_ID_LENGTH_MAX - REFUND_END_TO_END_ID_PREFIX.length;
  return {
    idempotencyKey: `${REFUND_IDEMPOTENCY_KEY_PREFIX}${hash('refund-idempotency-key')}`,
    endToEndId: `${REFUND_END_TO_END_ID_PREFIX}${hash('refund-end-to-end-id').slice(0, hexLength).toUpperCase()}`,
  };
}
