/** startServer: storage + app + listening socket, and a close() that shuts down in order. */
import type { FastifyInstance } from 'fastify';
import { type BuildAppOptions, buildApp } from './app.js';
import { openStorage } from './storage/open-storage.js';

export interface StartServerOptions extends Omit<BuildAppOptions, 'storage' | 'logger'> {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 to accept connections from other machines. */
  host?: string;
  /** SQLite data directory (used unless databaseUrl is set). */
  dataDir?: string;
  databaseUrl?: string;
  /** PostgreSQL only: keep the tables in this schema. */
  schema?: string;
  logger?: BuildAppOptions['logger'];
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  /** Stops accepting, ends live streams, finishes in-flight requests, then closes the storage. */
  close(): Promise<void>;
}

/**
 * @example
 * const server = await startServer({ port: 0, dataDir: '/tmp/appdefender' });
 * console.log(server.url); await server.close();
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const { port = 8080, host = '127.0.0.1', dataDir, databaseUrl, schema, ...appOptions } = options;
  if (!dataDir && !databaseUrl)
    throw new TypeError('startServer needs dataDir (SQLite) or databaseUrl (PostgreSQL)');
  // Background storage work (PostgreSQL LISTEN connection, SQLite writer thread) reports here
  // once the app's logger exists.
  let logBackgroundError: ((error: unknown) => void) | undefined;
  const storage = await openStorage({
    ...(dataDir ? { dataDir } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(schema ? { schema } : {}),
    onBackgroundError: (error) => logBackgroundError?.(error),
  });
  let app: FastifyInstance;
  try {
    app = await buildApp({ ...appOptions, storage });
    const log = app.log;
    logBackgroundError = (error) => log.error({ err: error }, 'storage background error');
    await app.listen({ port, host });
  } catch (error) {
    await storage.close();
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${boundPort}`,
    app,
    close() {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await storage.close();
        }
      })();
      return closing;
    },
  };
}
