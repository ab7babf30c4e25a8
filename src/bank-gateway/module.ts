/**
 * The gateway module's factory: the gateway process and the all-in-one both
 * start the gateway through this, from the gateway's configuration.
 */
import type { ProcessModule } from '../shared/process-module';
import { composeBankGateway, type ComposeOptions, type GatewayParts } from './compose';

export type GatewayModuleOptions = ComposeOptions;

export interface GatewayModule extends ProcessModule {
  /** The assembled parts, for callers that inspect them (tests, the crash points). */
  readonly parts: GatewayParts;
}

export function createGatewayModule(options: GatewayModuleOptions): GatewayModule {
  const parts = composeBankGateway(options);
  return {
    start: () => parts.gateway.start(),
    stop: () => parts.gateway.stop(),
    readinessChecks: new Map([['gateway', parts.gateway.readiness]]),
    parts,
  };
}
