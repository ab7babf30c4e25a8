/**
 * Start-up against a PostgreSQL that is not there: openStores fails at once with
 * a message naming DATABASE_URL (and never its password), instead of the first
 * request failing later or the process hanging.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { openStores, type StoreConfig } from './open';

const logger = pino({ level: 'silent' });
/** Nothing listens on port 1 (tcpmux) here: the connection is refused at once. */
const CLOSED_PORT_URL = 'postgresql://paystream:s3cret-password@127.0.0.1:1/paystream';

const postgresConfig = (databaseUrl: string, overrides: Partial<StoreConfig> = {}): StoreConfig => ({
  eventStore: 'postgres',
  dataDir: './data',
  databaseUrl,
  databaseSchema: 'public',
  eventStoreUrl: undefined,
  ...overrides,
});

async function failureOf(opening: Promise<unknown>): Promise<{ message: string; elapsedMs: number }> {
  const started = Date.now();
  try {
    await opening;
  } catch (error) {
    return { message: error instanceof Error ? error.message : String(error), elapsedMs: Date.now() - started };
  }
  throw new Error('openStores succeeded against an unreachable PostgreSQL');
}

describe('openStores with an unreachable PostgreSQL', () => {
  it.each([
    ['EVENT_STORE=postgres, schema public', postgresConfig(CLOSED_PORT_URL)],
    ['EVENT_STORE=postgres, own schema', postgresConfig(CLOSED_PORT_URL, { databaseSchema: 'paystream_app' })],
    ['EVENT_STORE=eventstoredb (read models in PostgreSQL)', postgresConfig(CLOSED_PORT_URL, { eventStore: 'eventstoredb', eventStoreUrl: 'esdb://127.0.0.1:1?tls=false' })],
  ])('when DATABASE_URL points to a closed port (%s), then it fails within seconds naming DATABASE_URL and the address, not the password', async (_case, config) => {
    const failure = await failureOf(openStores(config, logger));
    expect(failure.elapsedMs).toBeLessThan(5_000);
    expect(failure.message).toContain('PostgreSQL at DATABASE_URL (127.0.0.1:1/paystream) is unreachable');
    expect(failure.message).toMatch(/ECONNREFUSED/);
    expect(failure.message).not.toContain('s3cret-password');
  });

  describe('when the server accepts connections but never answers', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('then it gives up after the connect timeout, naming DATABASE_URL', async () => {
      const { port } = silent.address() as AddressInfo;
      const failure = await failureOf(openStores(postgresConfig(`postgresql://paystream:s3cret-password@127.0.0.1:${port}/paystream`), logger, { connectTimeoutMs: 300 }));
      expect(failure.elapsedMs).toBeGreaterThanOrEqual(290);
      expect(failure.elapsedMs).toBeLessThan(5_000);
      expect(failure.message).toBe(`PostgreSQL at DATABASE_URL (127.0.0.1:${port}/paystream) did not answer within 300 ms`);
      expect(sockets.size).toBeGreaterThan(0);
    });
  });
});
