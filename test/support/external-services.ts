/**
 * Finds the external servers the suites run against, once per jest run (global
 * setup), and hands them to the test workers through environment variables.
 *
 * Server PostgreSQL: DATABASE_URL if set, else a testcontainers container where a
 * Docker engine answers, else the local server on 127.0.0.1:5432 if it answers.
 * EventStoreDB: EVENTSTORE_URL if set, else a testcontainers container where a
 * Docker engine answers (image PAYSTREAM_TEST_ESDB_IMAGE, default KurrentDB's;
 * `eventstore/eventstore:24.10` works the same with EVENTSTORE_* settings);
 * otherwise its suites are skipped with the reason.
 */
import pg from 'pg';

export const ENV_PG_URL = 'PAYSTREAM_TEST_PG_URL';
export const ENV_PG_SOURCE = 'PAYSTREAM_TEST_PG_SOURCE';
export const ENV_PG_SKIP = 'PAYSTREAM_TEST_PG_SKIP';
export const ENV_ESDB_URL = 'PAYSTREAM_TEST_ESDB_URL';
export const ENV_ESDB_SOURCE = 'PAYSTREAM_TEST_ESDB_SOURCE';
export const ENV_ESDB_SKIP = 'PAYSTREAM_TEST_ESDB_SKIP';

const LOCAL_PG_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const ESDB_IMAGE_DEFAULT = 'docker.kurrent.io/kurrent-latest/kurrentdb:latest';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), 5_000);
    });
    try {
      return (await Promise.race([getContainerRuntimeClient(), timeout])) !== undefined;
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return false;
  }
}

export interface StartedServices {
  stop(): Promise<void>;
}

export async function findExternalServices(): Promise<StartedServices> {
  const stops: Array<() => Promise<unknown>> = [];
  const docker = await dockerAnswers();

  if (process.env.DATABASE_URL) {
    process.env[ENV_PG_URL] = process.env.DATABASE_URL;
    process.env[ENV_PG_SOURCE] = 'DATABASE_URL';
  } else if (docker) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    stops.push(() => container.stop());
    process.env[ENV_PG_URL] = container.getConnectionUri();
    process.env[ENV_PG_SOURCE] = 'testcontainers';
  } else if (await answers(LOCAL_PG_URL)) {
    process.env[ENV_PG_URL] = LOCAL_PG_URL;
    process.env[ENV_PG_SOURCE] = 'local server 127.0.0.1:5432';
  } else {
    process.env[ENV_PG_SKIP] = 'no DATABASE_URL, no Docker engine, and no PostgreSQL answering on 127.0.0.1:5432';
  }

  if (process.env.EVENTSTORE_URL) {
    process.env[ENV_ESDB_URL] = process.env.EVENTSTORE_URL;
    process.env[ENV_ESDB_SOURCE] = 'EVENTSTORE_URL';
  } else if (docker) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const image = process.env.PAYSTREAM_TEST_ESDB_IMAGE ?? ESDB_IMAGE_DEFAULT;
    // KurrentDB reads KURRENTDB_*, EventStoreDB (eventstore/eventstore) EVENTSTORE_*; each ignores the other's.
    const settings = { INSECURE: 'true', RUN_PROJECTIONS: 'None', MEM_DB: 'true' };
    const environment = Object.fromEntries(
      Object.entries(settings).flatMap(([name, value]) => [[`KURRENTDB_${name}`, value], [`EVENTSTORE_${name}`, value]]),
    );
    const container = await new GenericContainer(image)
      .withEnvironment(environment)
      .withExposedPorts(2113)
      .withWaitStrategy(Wait.forHttp('/health/live', 2113).forStatusCode(204))
      .start();
    stops.push(() => container.stop());
    process.env[ENV_ESDB_URL] = `esdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`;
    process.env[ENV_ESDB_SOURCE] = 'testcontainers';
  } else {
    process.env[ENV_ESDB_SKIP] = 'EVENTSTORE_URL is not set and no Docker engine answers for testcontainers';
  }

  return { stop: async () => void (await Promise.all(stops.map((stop) => stop()))) };
}
