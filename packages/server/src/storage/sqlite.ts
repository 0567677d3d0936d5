/**
 * SQLite backend: one better-sqlite3 connection in WAL mode, owned by this process.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { type EventWriter, KyselyStorage } from './kysely-storage.js';
import { LocalBatchNotifier } from './local-notifier.js';
import { applyMigrations } from './migrate.js';
import { sqliteMigrations } from './migrations.js';
import type { Database, EventRow } from './schema.js';

export const SQLITE_FILE_NAME = 'appdefender.sqlite';

export async function openSqliteStorage(dataDir: string): Promise<KyselyStorage> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  const database = new BetterSqlite3(file);
  // WAL lets readers run while the writer commits; NORMAL sync is durable across process crashes
  // (only an OS crash or power loss can lose the last commits), the usual trade-off for WAL.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  // 64 MiB page cache: the event indexes stay in memory, so ingest rarely reads pages back.
  database.pragma('cache_size = -65536');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  try {
    await applyMigrations(db, 'sqlite', sqliteMigrations);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStorage({
    db,
    dialect: 'sqlite',
    eventWriter: createSqliteEventWriter(db, database),
    notifier: new LocalBatchNotifier(),
    isUniqueViolation: (error) =>
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
  });
}

/**
 * The ingest hot path: one prepared single-row statement run per event inside one transaction.
 * With better-sqlite3 this beats a compiled multi-row INSERT (no SQL text to build or prepare
 * per batch). It runs inside `db.connection()` so Kysely's connection mutex keeps it from
 * interleaving with a Kysely transaction on the same connection.
 */
function createSqliteEventWriter(db: Kysely<Database>, database: BetterSqlite3.Database): EventWriter {
  const insertOne = database.prepare(
    `INSERT INTO events (account_id, id, batch_id, time_ms, received_ms, category, action, operation, target,
       policy_group, function_name, terminated, body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, id) DO NOTHING`,
  );
  const insertAll = database.transaction(
    (accountId: string, batchId: string, rows: EventRow[], receivedMs: number) => {
      const inserted: Array<{ id: string; seq: number }> = [];
      for (const row of rows) {
        const info = insertOne.run(
          accountId,
          row.id,
          batchId,
          row.timeMs,
          receivedMs,
          row.category,
          row.action,
          row.operation,
          row.target,
          row.policyGroup,
          row.functionName,
          row.terminated,
          row.body,
        );
        if (info.changes === 1) inserted.push({ id: row.id, seq: Number(info.lastInsertRowid) });
      }
      return inserted;
    },
  );
  return {
    insert: (accountId, batchId, rows, receivedMs) =>
      db.connection().execute(async () => insertAll(accountId, batchId, rows, receivedMs)),
  };
}
