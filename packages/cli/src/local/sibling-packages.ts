import { CliError, ExitCode } from '../errors.js';

/**
 * The control plane and the local Lambda are loaded only by the commands that run them (`server`,
 * `demo`): they are heavy (Fastify, SQLite, PostgreSQL), and every other command must start fast
 * and work without them. The specifiers are variables so the CLI builds without their types; the
 * shapes below are checked at run time.
 */
export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export interface StartServerOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  logger?: unknown;
}

/** The part of the control plane's store that operator commands use (`server plan`). */
export interface ServerStore {
  findAccountByEmail(email: string): Promise<{ id: string; email: string | null; plan: string } | undefined>;
  listPlans(): Promise<Array<{ name: string; retentionDays: number; allowCloudProviderTraffic: boolean }>>;
  setAccountPlan(accountId: string, plan: string): Promise<void>;
  close(): Promise<void>;
}

export interface ServerModule {
  startServer(options: StartServerOptions): Promise<RunningServer>;
  openStorage(options: { dataDir?: string; databaseUrl?: string }): Promise<ServerStore>;
}

export interface LocalLambda {
  invoke(payload?: unknown): Promise<unknown>;
  logs?: unknown;
  shutdown(): Promise<void>;
}

export interface LambdaSimModule {
  startLambda(options: {
    handler: string;
    taskRoot: string;
    layerDir?: string;
    env?: Record<string, string>;
    [key: string]: unknown;
  }): Promise<LocalLambda>;
}

async function importSibling<T>(specifier: string, exportName: string, what: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(
      'MISSING_PACKAGE',
      ExitCode.failure,
      `${what} (${specifier}) cannot be loaded: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'Run `npm run build` in the AppDefender checkout first',
      },
    );
  }
  if (typeof mod[exportName] !== 'function') {
    throw new CliError(
      'MISSING_PACKAGE',
      ExitCode.failure,
      `${specifier} has no ${exportName}() (is it built and up to date?)`,
    );
  }
  return mod as T;
}

export const loadServerModule = () =>
  importSibling<ServerModule>('@appdefender/server', 'startServer', 'The control plane');

export const loadLambdaSimModule = () =>
  importSibling<LambdaSimModule>('@appdefender/lambda-sim', 'startLambda', 'The local Lambda');
