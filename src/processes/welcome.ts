/** The all-in-one's human-readable start banner, on stderr so stdout stays one JSON log line per entry. */
import { DEMO_API_KEYS } from '../http/auth';
import type { Logger } from '../logging';

/** Once every part is up: one log line operators and the start-up tests wait for, then the banner. */
export function announceListening(logger: Logger, started: { url: string; eventStore: string; demoKeys: boolean; bankUrl: string | undefined }): void {
  logger.info({ url: started.url, eventStore: started.eventStore }, 'paystream listening');
  printWelcome(started.url, started.demoKeys, started.bankUrl);
}

export function printWelcome(url: string, demoKeys: boolean, bankUrl: string | undefined): void {
  const lines = [
    '',
    `paystream is listening on ${url}`,
    `  API reference  ${url}/docs`,
    `  dashboard      ${url}/dashboard`,
    ...(bankUrl ? [`  sandbox bank   ${bankUrl}`] : []),
  ];
  if (demoKeys) {
    lines.push('', '  demo API keys (development only, never in production):');
    for (const entry of DEMO_API_KEYS) lines.push(`    ${entry.key}  ${entry.role}${entry.tenant ? ` (tenant ${entry.tenant})` : ''}`);
    lines.push('', `  try: curl -X PUT ${url}/payments/inv-1 -H 'Authorization: Bearer ${DEMO_API_KEYS[0]!.key}' -H 'Content-Type: application/json' \\`);
    lines.push(`         -d '{"amount":"125.50","currency":"EUR","debtor":{"name":"Acme Ltd","iban":"DE89370400440532013000"},"creditor":{"name":"Bob","iban":"GB82WEST12345698765432"}}'`);
  }
  process.stderr.write(`${lines.join('\n')}\n\n`);
}
