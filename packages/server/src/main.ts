#!/usr/bin/env node
/**
 * Runnable entry: `node packages/server/dist/main.js [--port 8080] [--host 127.0.0.1]
 * [--data DIR | --database-url postgres://…]`. SIGINT/SIGTERM shut down gracefully.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './server.js';

const USAGE = `usage: appdefender-server [--port 8080] [--host 127.0.0.1] [--data DIR | --database-url postgres://…]
  --port N             port to listen on (default 8080, 0 = any free port)
  --host ADDR          address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)
  --data DIR           SQLite data directory (default ~/.appdefender/data)
  --database-url URL   use PostgreSQL instead of SQLite
  --log-level LEVEL    pino level: fatal, error, warn, info (default), debug, trace, silent`;

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        'database-url': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values['help']) {
    console.log(USAGE);
    return;
  }
  const port = values['port'] === undefined ? 8080 : Number(values['port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer between 0 and 65535 (got ${values['port']})\n${USAGE}`);
    process.exit(2);
  }
  const databaseUrl = values['database-url'] as string | undefined;
  if (databaseUrl && values['data']) {
    console.error(`--data and --database-url exclude each other\n${USAGE}`);
    process.exit(2);
  }
  const dataDir = databaseUrl
    ? undefined
    : ((values['data'] as string | undefined) ?? path.join(os.homedir(), '.appdefender', 'data'));
  const server = await startServer({
    port,
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    ...(dataDir ? { dataDir } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    logger: { level: (values['log-level'] as string | undefined) ?? 'info' },
  });
  server.app.log.info(
    { url: server.url, storage: databaseUrl ? 'postgres' : `sqlite:${dataDir}` },
    'control plane listening',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`appdefender-server: ${(error as Error).message ?? error}`);
  process.exit(1);
});
