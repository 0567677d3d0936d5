import { openPostgresStorage } from './postgres.js';
import { openSqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

export interface OpenStorageOptions {
  /** Directory of the embedded SQLite database (created if missing). */
  dataDir?: string;
  /** `postgres://…`: use PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  /** PostgreSQL only: keep the tables in this schema (created if missing). */
  schema?: string;
  /** Errors of background work: the PostgreSQL LISTEN connection, the SQLite checkpointer. */
  onBackgroundError?: (error: unknown) => void;
}

/**
 * Opens (and migrates) the storage: PostgreSQL when `databaseUrl` is given, else SQLite in
 * `dataDir`.
 *
 * @example
 * const storage = await openStorage({ dataDir: '/var/lib/appdefender' });
 */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  if (options.databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
      throw new TypeError(
        `databaseUrl must start with postgres:// or postgresql:// (got ${options.databaseUrl})`,
      );
    }
    return openPostgresStorage({
      databaseUrl: options.databaseUrl,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.onBackgroundError ? { onListenerError: options.onBackgroundError } : {}),
    });
  }
  if (options.dataDir) {
    return openSqliteStorage(
      options.dataDir,
      options.onBackgroundError ? { onBackgroundError: options.onBackgroundError } : {},
    );
  }
  throw new TypeError('openStorage needs dataDir (SQLite) or databaseUrl (PostgreSQL)');
}
