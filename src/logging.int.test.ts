/**
 * Issue 8, item 6: an error from the database driver carries the statement's
 * values (PGlite: `params`; node-postgres: the failing row in `detail`). Real
 * errors from real databases go through the real logger; the line written must
 * say what failed and hold no full IBAN and none of those values.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { createLogger, maskIbansIn, serializeError } from './logging';
import { createTestSchema, serverPostgresUrl } from '../test/support/databases';

const IBAN = 'DE89370400440532013000';
const NAME = 'Probe Person Ltd';

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

const CHECKED_TABLE = `CREATE TABLE probe (id int PRIMARY KEY, data jsonb NOT NULL, CONSTRAINT probe_no_iban CHECK (data->>'iban' IS NULL))`;
const INSERT = 'INSERT INTO probe (id, data) VALUES ($1, $2)';
const row = () => [1, JSON.stringify({ name: NAME, iban: IBAN })];

function expectCleanErrorLine(lines: string[], code: string) {
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { err: Record<string, unknown> };
  expect(line.err).toMatchObject({ code, message: expect.stringContaining('probe_no_iban') });
  expect(line.err).not.toHaveProperty('params');
  expect(line.err).not.toHaveProperty('detail');
  expect(lines[0]).not.toContain(IBAN);
  expect(lines[0]).not.toContain(NAME);
}

describe('the error serializer', () => {
  it('when PGlite refuses a row, then the logged error names the code and constraint, and holds neither the IBAN nor the other values it was given', async () => {
    const db = new PGlite();
    try {
      await db.exec(CHECKED_TABLE);
      const error = await db.query(INSERT, row()).then(() => undefined, (thrown: unknown) => thrown as Error & { params?: unknown });
      // The scenario is meaningful: the driver's error itself carries the values.
      expect(JSON.stringify(error?.params)).toContain(IBAN);
      const { logger, lines } = capturingLogger();
      logger.error({ err: error }, 'unexpected error');
      expectCleanErrorLine(lines, '23514');
    } finally {
      await db.close();
    }
  });

  (serverPostgresUrl() ? it : it.skip)('when server PostgreSQL refuses a row, then the failing row in `detail` is not logged', async () => {
    const schema = await createTestSchema();
    const client = new pg.Client({ connectionString: schema.url, options: `-c search_path=${schema.schema}` });
    await client.connect();
    try {
      await client.query(CHECKED_TABLE);
      const error = await client.query(INSERT, row()).then(() => undefined, (thrown: unknown) => thrown as Error & { detail?: string });
      expect(error?.detail).toContain(IBAN);
      const { logger, lines } = capturingLogger();
      logger.error(error, 'unexpected error');
      expectCleanErrorLine(lines, '23514');
    } finally {
      await client.end();
      await schema.drop();
    }
  });

  it('when an error wraps a cause and aggregates others, then each is serialized the same way, IBANs in their messages masked', () => {
    const cause = Object.assign(new Error(`invalid input syntax: "${IBAN}"`), { code: '22P02', params: [IBAN] });
    const outer = new AggregateError([Object.assign(new Error('second'), { values: [IBAN] })], `append failed for ${IBAN}`, { cause });
    const serialized = JSON.stringify(serializeError(outer));
    expect(serialized).not.toContain(IBAN);
    expect(JSON.parse(serialized)).toMatchObject({
      type: 'AggregateError',
      message: 'append failed for ****3000',
      cause: { type: 'Error', code: '22P02', message: 'invalid input syntax: "****3000"' },
      aggregateErrors: [{ message: 'second' }],
    });
  });

  it('when a line holds an IBAN in any other field, then the last guard masks it; ids and digests are left alone', () => {
    const { logger, lines } = capturingLogger();
    const ids = { requestId: '01JD3Q7ZK4M5N6P7Q8R9S0T1V2', eventId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', principal: 'client:acme:ab12cd34' };
    logger.info({ ...ids, reason: `bank said: account ${IBAN} closed` }, 'bank answered');
    expect(lines[0]).toContain('account ****3000 closed');
    expect(JSON.parse(lines[0]!)).toMatchObject(ids);
    expect(maskIbansIn('GB82WEST12345698765432 and de89370400440532013000')).toBe('****5432 and de89370400440532013000');
  });
});
