/**
 * Prints the configuration reference from the sections' own descriptions, or
 * with `--write` puts it into README.md between the config markers, so the
 * README cannot drift from the code. An entry file (`npm run config:docs`): it
 * reads every module's section, so it lives with the other entries, not in
 * src/config, which the modules' sections themselves import.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bankSandboxSection } from '../bank-sandbox/config';
import { gatewaySection } from '../bank-gateway/config';
import { projectorSection } from '../projections/config';
import { relaySection } from '../relay/config';
import { allInOneSection } from '../config/all-in-one';
import { coreSection } from '../config/core';
import { tenantsSection } from '../config/tenants';
import { describeSections, type EnvSection } from '../config/env';

export const DOCUMENTED_SECTIONS: readonly EnvSection[] = [coreSection, tenantsSection, allInOneSection, gatewaySection, projectorSection, relaySection, bankSandboxSection];

const table = describeSections(DOCUMENTED_SECTIONS);

if (process.argv.includes('--write')) {
  const readmePath = join(__dirname, '..', '..', 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const updated = readme.replace(/<!-- config:start -->[\s\S]*<!-- config:end -->/, `<!-- config:start -->\n${table}\n<!-- config:end -->`);
  writeFileSync(readmePath, updated);
} else {
  process.stdout.write(`${table}\n`);
}
