/**
 * The bank client with each call's duration measured by operation and by the
 * kind of answer (`accepted`, `rejected`, `not-found`, `in-flight`,
 * `retryable`, `uninterpretable`, `conflicting`; `error` when it threw).
 */
import { bankCallDuration } from '../observability/metrics';
import type { BankClient } from './bank-client';

async function timed<T extends { readonly kind: string }>(operation: string, call: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  let outcome = 'error';
  try {
    const answer = await call();
    outcome = answer.kind;
    return answer;
  } finally {
    bankCallDuration.observe({ operation, outcome }, (performance.now() - startedAt) / 1000);
  }
}

export function instrumentBankClient(bank: BankClient): BankClient {
  return {
    submitTransfer: (request, idempotencyKey) => timed('submit', () => bank.submitTransfer(request, idempotencyKey)),
    findTransfer: (instructed) => timed('lookup', () => bank.findTransfer(instructed)),
    findTransferById: (bankTransferId) => timed('lookup_by_id', () => bank.findTransferById(bankTransferId)),
    submitRefund: (request, idempotencyKey) => timed('refund_submit', () => bank.submitRefund(request, idempotencyKey)),
    findRefund: (instructed) => timed('refund_lookup', () => bank.findRefund(instructed)),
    circuitStatus: () => bank.circuitStatus(),
  };
}
