/**
 * PostgreSQL backend: a connection pool for queries plus one dedicated connection that LISTENs
 * for batch announcements, so every instance on the database streams every event.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { type BatchNotifier, type EventWriter, KyselyStorage } from './kysely-storage.js';
import { applyMigrations } from './migrate.js';
import { postgresMigrations } from './migrations.js';
import type { Database } from './schema.js';
import type { BatchNotice } from './types.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** BIGINT columns hold milliseconds and sequence numbers, all well inside 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

export interface PostgresStorageOptions {
  databaseUrl: string;
  /** Keep all tables in this schema (created if missing); tests use one per file. */
  schema?: string;
  /** Reports errors of the background LISTEN connection (it reconnects by itself). */
  onListenerError?: (error: unknown) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,50}$/;

export async function openPostgresStorage(options: PostgresStorageOptions): Promise<KyselyStorage> {
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new RangeError(`schema must match ${SCHEMA_NAME} (got ${JSON.stringify(schema)})`);
  }
  const connection = {
    connectionString: options.databaseUrl,
    types,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  if (schema) {
    const setup = new pg.Client({ connectionString: options.databaseUrl });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await setup.end();
    }
  }
  const pool = new pg.Pool({ ...connection, max: 10 });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', (error) => options.onListenerError?.(error));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let notifier: PostgresBatchNotifier | undefined;
  try {
    await applyMigrations(db, 'postgres', postgresMigrations);
    const channel = `appdefender_events${schema ? `_${schema}` : ''}`;
    notifier = new PostgresBatchNotifier(db, channel, connection, options.onListenerError);
    await notifier.start();
  } catch (error) {
    await notifier?.close();
    await db.destroy();
    throw error;
  }
  return new KyselyStorage({
    db,
    dialect: 'postgres',
    eventWriter: createPostgresEventWriter(db),
    notifier,
    isUniqueViolation: (error) =>
      typeof error === 'object' && error !== null && 'code' in error && error.code === '23505',
  });
}

/**
 * The ingest hot path: one INSERT … SELECT FROM json_to_recordset($rows) per batch. The rows
 * travel as one JSON text parameter (serialised natively by JSON.stringify; node-postgres's
 * per-element array escaping was the top cost), the statement text is the same for every batch,
 * and the batch is one round trip.
 */
function createPostgresEventWriter(db: Kysely<Database>): EventWriter {
  return {
    async insert(accountId, batchId, rows, receivedMs) {
      const result = await sql<{ id: string; seq: number }>`
        INSERT INTO events (account_id, id, batch_id, time_ms, received_ms, category, action, operation, target,
          policy_group, function_name, terminated, body)
        SELECT ${accountId}::text, u."id", ${batchId}::text, u."timeMs", ${receivedMs}::bigint, u."category", u."action",
          u."operation", u."target", u."policyGroup", u."functionName", u."terminated", u."body"
        FROM json_to_recordset(${JSON.stringify(rows)}::json)
          AS u("id" text, "timeMs" bigint, "category" text, "action" text, "operation" text, "target" text,
               "policyGroup" text, "functionName" text, "terminated" smallint, "body" text)
        ON CONFLICT (account_id, id) DO NOTHING
        RETURNING id, seq`.execute(db);
      return result.rows.map((row) => ({ id: row.id, seq: Number(row.seq) }));
    },
  };
}

/**
 * One NOTIFY per inserted batch; the payload names the batch (account, batch id, seq range), and
 * each receiver reads the rows itself (payloads are capped at 8000 bytes, a batch is not).
 */
class PostgresBatchNotifier implements BatchNotifier {
  readonly #listeners = new Set<(notice: BatchNotice) => void>();
  readonly #db: Kysely<Database>;
  readonly #channel: string;
  readonly #connection: pg.ClientConfig;
  readonly #onError: ((error: unknown) => void) | undefined;
  #client: pg.Client | undefined;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    db: Kysely<Database>,
    channel: string,
    connection: pg.ClientConfig,
    onError: ((error: unknown) => void) | undefined,
  ) {
    this.#db = db;
    this.#channel = channel;
    this.#connection = connection;
    this.#onError = onError;
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.#connection);
    client.on('notification', (message) => {
      if (message.channel !== this.#channel || !message.payload) return;
      const notice = parseNotice(message.payload);
      if (notice) for (const listener of this.#listeners) listener(notice);
    });
    client.on('error', (error) => {
      this.#onError?.(error);
      this.#scheduleReconnect(client);
    });
    client.on('end', () => this.#scheduleReconnect(client));
    await client.connect();
    await client.query(`LISTEN "${this.#channel}"`);
    this.#client = client;
  }

  #scheduleReconnect(client: pg.Client): void {
    if (this.#closed || this.#client !== client || this.#reconnectTimer) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      this.start().catch((error) => {
        this.#onError?.(error);
        this.#client = client;
        this.#scheduleReconnect(client);
      });
    }, 1000);
    this.#reconnectTimer.unref();
  }

  async announce(notice: BatchNotice): Promise<void> {
    await sql`SELECT pg_notify(${this.#channel}, ${JSON.stringify(notice)})`.execute(this.#db);
  }

  subscribe(listener: (notice: BatchNotice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#listeners.clear();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}

function parseNotice(payload: string): BatchNotice | undefined {
  try {
    const value = JSON.parse(payload) as Partial<BatchNotice>;
    if (
      typeof value.accountId === 'string' &&
      typeof value.batchId === 'string' &&
      typeof value.fromSeq === 'number' &&
      typeof value.toSeq === 'number'
    ) {
      return {
        accountId: value.accountId,
        batchId: value.batchId,
        fromSeq: value.fromSeq,
        toSeq: value.toSeq,
      };
    }
  } catch {
    // A foreign or malformed payload on our channel: ignore it.
  }
  return undefined;
}
