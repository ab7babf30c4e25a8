/**
 * One small SQL port over the two PostgreSQL engines we run on: PGlite (embedded,
 * in-process, one connection) and a PostgreSQL server through a `pg` pool. The
 * event store, the projections and the gateway's work queue share it, so that a
 * batch and its checkpoint can be committed in one transaction on either engine.
 */
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { asStoreUnavailable } from './errors';

export interface QueryResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
}

export type Notification = (payload: string) => void;

/**
 * The mark `prepared()` puts at the front of a statement. Rationale: the mark
 * travels in the text itself, and the name is derived from the text, so a
 * statement is prepared whichever copy of this module marked it and whichever
 * copy runs it (loading the store's modules twice, as a test runner or a
 * bundler may, once made every statement silently run unprepared).
 */
const PREPARED_MARK = '/* paystream:prepared */ ';

/** Names by text: only a cache, since the name is a pure function of the text. */
const PREPARED_NAMES = new Map<string, string>();

/**
 * Marks a constant, hot statement to be prepared once per server connection
 * (a named statement in pg), so PostgreSQL parses and plans it once instead of
 * on every call; returns the text with the mark in front (a comment, which
 * PGlite and PostgreSQL ignore). Rationale: the event store's reads and appends
 * run on every request; parse and plan were a large share of PostgreSQL's CPU
 * per payment. Only for statements on tables that are never swapped or altered
 * at run time (a cached plan on a renamed table would fail), and never for text
 * built from values.
 */
export function prepared(text: string): string {
  return text.startsWith(PREPARED_MARK) ? text : `${PREPARED_MARK}${text}`;
}

/** The statement's name on a connection, or undefined when it is not marked. */
export function preparedName(text: string): string | undefined {
  if (!text.startsWith(PREPARED_MARK)) return undefined;
  let name = PREPARED_NAMES.get(text);
  if (name === undefined) {
    name = `paystream_${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
    PREPARED_NAMES.set(text, name);
  }
  return name;
}

function pgQuery(text: string, params: readonly unknown[]): pg.QueryConfig {
  const name = preparedName(text);
  return name === undefined ? { text, values: [...params] } : { name, text, values: [...params] };
}

export interface Database extends SqlClient {
  readonly engine: 'pglite' | 'postgres';
  /** Runs `work` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** LISTEN on a channel; returns the function that stops listening. */
  listen(channel: string, onNotification: Notification): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * A FIFO lock. PGlite has a single connection: a plain query issued while another
 * caller's transaction is open would run inside that transaction, so every use of
 * the connection, queries and transactions alike, takes this lock first.
 */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}

export class PgliteDatabase implements Database {
  readonly engine = 'pglite' as const;
  private readonly lock = new Mutex();

  private constructor(private readonly db: PGlite) {}

  /** `dataDir` undefined keeps the database in memory (tests). */
  static async open(dataDir?: string): Promise<PgliteDatabase> {
    const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
    await db.waitReady;
    return new PgliteDatabase(db);
  }

  query<Row>(text: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
    return this.lock.run(() => this.unlockedQuery<Row>(this.db, text, params));
  }

  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.lock.run(() =>
      this.db.transaction(async (tx) => {
        const client: SqlClient = { query: (text, params = []) => this.unlockedQuery(tx, text, params) };
        return work(client);
      }),
    );
  }

  async listen(channel: string, onNotification: Notification): Promise<() => Promise<void>> {
    const unlisten = await this.lock.run(() => this.db.listen(channel, onNotification));
    return () => this.lock.run(() => unlisten());
  }

  close(): Promise<void> {
    return this.lock.run(() => this.db.close());
  }

  private async unlockedQuery<Row>(
    target: Pick<PGlite, 'query'>,
    text: string,
    params: readonly unknown[],
  ): Promise<QueryResult<Row>> {
    const result = await target.query<Row>(text, params as unknown[]);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }
}

export interface PostgresOptions {
  readonly connectionString: string;
  /** Every table lives in this schema (created if missing): one per test run, `public` in production. */
  readonly schema?: string;
  readonly poolSizeMax?: number;
  readonly statementTimeoutMs?: number;
  /** How long a request waits for a connection (a new one, or a free one from a full pool) before it fails. */
  readonly connectTimeoutMs?: number;
}

/** Rationale: an unreachable server must fail a request fast (503) rather than hold it until the client gives up. */
export const CONNECT_MS_MAX = 5_000;
/** Bounds of the LISTEN connection's reconnect back-off. */
export const LISTEN_RECONNECT_MS_MIN = 100;
export const LISTEN_RECONNECT_MS_MAX = 5_000;

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export class PostgresDatabase implements Database {
  readonly engine = 'postgres' as const;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
  ) {}

  static async open(options: PostgresOptions): Promise<PostgresDatabase> {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_PATTERN.test(schema)) throw new Error(`invalid schema name: ${schema}`);
    const clientConfig: pg.ClientConfig = {
      connectionString: options.connectionString,
      options: `-c search_path=${schema}`,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
    };
    const pool = new pg.Pool({ ...clientConfig, max: options.poolSizeMax ?? 10, connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_MS_MAX });
    // An idle client's connection error must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    // Rationale: a backstop under transaction()'s own listener. Whatever moment the server ends a
    // connection (even between pg-pool handing a client out and its taker listening), the 'error'
    // event is never unhandled; the broken client fails its next query and is released with it.
    pool.on('connect', (client) => client.on('error', () => undefined));
    const database = new PostgresDatabase(pool, clientConfig);
    if (schema !== 'public') await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    return database;
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
    try {
      // pool.query discards a client whose connection failed (release(error)).
      const result = await this.pool.query(pgQuery(text, params));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    } catch (error) {
      throw asStoreUnavailable(error, 'query failed');
    }
  }

  /**
   * A lost connection fails this one transaction with a StoreUnavailableError
   * and discards the client; it never reaches the process as an unhandled
   * 'error' event. Rationale: pg-pool removes its own 'error' listener from a
   * client it hands out, and a pg client emits 'error' when the server ends the
   * connection (restart, failover, `pg_terminate_backend`), even between two
   * statements of an open transaction.
   */
  async transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw asStoreUnavailable(error, 'no database connection');
    });
    let broken: unknown;
    const onError = (error: unknown) => (broken ??= error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const tx: SqlClient = {
        query: async <Row>(text: string, params: readonly unknown[] = []) => {
          const result = await client.query(pgQuery(text, params));
          return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
        },
      };
      const value = await work(tx);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      // A client whose ROLLBACK fails is in an unknown state: it never goes back to the pool.
      if (broken === undefined) await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw asStoreUnavailable(broken ?? error, 'transaction failed');
    } finally {
      client.release(broken === undefined ? undefined : toError(broken));
      client.off('error', onError);
    }
  }

  async listen(channel: string, onNotification: Notification): Promise<() => Promise<void>> {
    const listener = new PostgresListener(this.clientConfig, channel, onNotification);
    await listener.start();
    return () => listener.stop();
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * LISTEN on a dedicated connection (a pooled one would be handed to other work
 * between notifications) that comes back by itself: when the server ends it,
 * the listener reconnects with a bounded back-off and then reports one
 * notification with an empty payload, because any sent meanwhile were missed.
 */
class PostgresListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnectMs = LISTEN_RECONNECT_MS_MIN;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly channel: string,
    private readonly onNotification: Notification,
  ) {}

  /** The first connection: its failure is the caller's. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    this.client = client;
    client.on('error', () => undefined);
    client.once('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotification(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '')}"`);
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw asStoreUnavailable(error, 'LISTEN failed');
    }
    if (this.stopped) await client.end().catch(() => undefined);
    this.reconnectMs = LISTEN_RECONNECT_MS_MIN;
  }

  /** The server ended the connection (every connection error ends in 'end'). */
  private lost(client: pg.Client): void {
    if (this.stopped || client !== this.client) return;
    this.client = undefined;
    this.reconnectLater();
  }

  private reconnectLater(): void {
    this.timer = setTimeout(() => {
      this.connect().then(
        () => this.onNotification(''),
        () => {
          if (!this.stopped) this.reconnectLater();
        },
      );
    }, this.reconnectMs);
    this.timer.unref();
    this.reconnectMs = Math.min(this.reconnectMs * 2, LISTEN_RECONNECT_MS_MAX);
  }
}
