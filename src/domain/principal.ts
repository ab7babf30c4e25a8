import type { TenantId } from './ids';

export type Role = 'client' | 'analyst' | 'operator' | 'supervisor';

/** Who is acting. Clients always act for one tenant; staff roles act across tenants. */
export type Principal =
  | { readonly kind: 'client'; readonly id: string; readonly tenantId: TenantId }
  | { readonly kind: 'staff'; readonly id: string; readonly role: Exclude<Role, 'client'> }
  | { readonly kind: 'system'; readonly id: string };

/**
 * Everything a command needs from outside the domain: the clock, the principal and
 * the tracing ids. The domain never reads a clock or makes randomness itself.
 */
export interface CommandMetadata {
  readonly now: Date;
  readonly principal: Principal;
  readonly requestId: string;
  readonly correlationId: string;
  /** The id of the event or request that caused this command. */
  readonly causationId: string;
}
