/**
 * SQLite backend, owned by this process: a better-sqlite3 connection in WAL mode for queries
 * and account/policy writes, plus the writer thread (sqlite-writer-thread.ts) for event inserts
 * and checkpoints.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStorage } from './kysely-storage.js';
import { LocalBatchNotifier } from './local-notifier.js';
import { applyMigrations } from './migrate.js';
import { sqliteMigrations } from './migrations.js';
import type { Database } from './schema.js';
import { startSqliteWriterThread } from './sqlite-writer-thread.js';

export const SQLITE_FILE_NAME = 'appdefender.sqlite';

export async function openSqliteStorage(
  dataDir: string,
  options: { onBackgroundError?: (error: unknown) => void } = {},
): Promise<KyselyStorage> {
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
  // The writer thread checkpoints; this connection only steps in if the WAL grows huge (~400 MB).
  database.pragma('wal_autocheckpoint = 100000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  let writer: Awaited<ReturnType<typeof startSqliteWriterThread>>;
  try {
    await applyMigrations(db, 'sqlite', sqliteMigrations);
    writer = await startSqliteWriterThread({
      file,
      ...(options.onBackgroundError ? { onError: options.onBackgroundError } : {}),
    });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStorage({
    db,
    dialect: 'sqlite',
    eventWriter: writer,
    notifier: new LocalBatchNotifier(),
    // The writer thread goes first: its last commit and checkpoint happen before the file closes.
    beforeClose: () => writer.stop(),
    isUniqueViolation: (error) =>
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
  });
}
