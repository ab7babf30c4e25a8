import type { StartedServices } from './external-services';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as { __paystreamServices?: StartedServices }).__paystreamServices;
  await services?.stop();
}
