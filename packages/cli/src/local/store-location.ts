import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';

/** The same default as the server's own entry point, so both find the same store. */
export const defaultDataDir = (env: NodeJS.ProcessEnv) =>
  join(env['HOME'] || homedir(), '.appdefender', 'data');

/** Where the store is: `--data` (SQLite, default ~/.appdefender/data) or a PostgreSQL URL. */
export function storeLocation(ctx: CommandContext): { dataDir?: string; databaseUrl?: string } {
  const { options } = ctx;
  const databaseUrl = (options['databaseUrl'] as string | undefined) ?? ctx.deps.env['DATABASE_URL'];
  const dataOption = options['data'] as string | undefined;
  if (databaseUrl && dataOption) throw new UsageError('Give either --data or --database-url, not both');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(`--database-url must be a postgres:// URL, not "${databaseUrl}"`);
  }
  if (databaseUrl) return { databaseUrl };
  return { dataDir: resolve(ctx.deps.cwd, dataOption ?? defaultDataDir(ctx.deps.env)) };
}
