import { existsSync, readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { loadServerModule } from '../local/sibling-packages.js';
import { storeLocation } from '../local/store-location.js';
import { registerServerPlanCommand } from './server-plan.js';

export function registerServerCommand(program: Command, deps: CliDeps): void {
  const server = program
    .command('server')
    .description('run the control plane with the dashboard (embedded SQLite by default, or PostgreSQL)')
    .option('--port <port>', 'port to listen on (env PORT)', '8080')
    .option('--host <host>', 'address to listen on (0.0.0.0 to accept remote functions)', '127.0.0.1')
    .option('--data <dir>', 'SQLite data directory (default ~/.appdefender/data)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (env DATABASE_URL)')
    .option('--verbose', 'log every request')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender server
  $ appdefender server --port 9000 --data /var/lib/appdefender
  $ appdefender server --host 0.0.0.0 --database-url postgres://appdefender@db:5432/appdefender

Open the printed URL to sign up; the first account gets a license key and an api token.`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await serverCommand(ctx);
    });
  registerServerPlanCommand(server, deps);
}

export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`${flag} must be a port number (0-65535), not "${value}"`);
  return port;
}

async function serverCommand(ctx: CommandContext): Promise<void> {
  const { options, out } = ctx;
  const portText =
    ctx.deps.env['PORT'] && portIsDefault(options) ? ctx.deps.env['PORT'] : String(options['port']);
  const port = parsePort(portText, '--port');
  const { dataDir, databaseUrl } = storeLocation(ctx);
  // A new SQLite directory means an empty store: then the user needs to be told how to start.
  const firstStart = dataDir !== undefined && (!existsSync(dataDir) || readdirSync(dataDir).length === 0);
  const { startServer } = await loadServerModule();
  const server = await startServer({
    port,
    host: options['host'] as string,
    ...(dataDir ? { dataDir } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    logger: options['verbose'] === true,
  });
  const store = databaseUrl ? `PostgreSQL ${new URL(databaseUrl).host}` : `SQLite in ${dataDir}`;
  if (out.json) {
    out.printJson({ url: server.url, store, firstStart });
  } else {
    out.line(
      `${out.style.bold('AppDefender control plane')} listening on ${out.style.cyan(server.url)} (${store})`,
    );
    out.line(`  Dashboard: ${server.url}/`);
    if (firstStart || databaseUrl) {
      out.line(
        firstStart ? '  This is a new, empty store. To get started:' : '  No account yet? To get started:',
      );
      out.line(
        `    1. open ${server.url}/ and sign up (e-mail and password): you get a license key and an api token`,
      );
      out.line(
        `    2. export ES_API_URL=${server.url} ES_API_TOKEN=<api token> ES_LICENSE_KEY=<license key>`,
      );
      out.line('    3. appdefender run -- node app.js, or appdefender lambda enable --function NAME');
    }
    out.line(out.style.dim('  Ctrl-C to stop'));
  }
  await ctx.deps.waitForInterrupt();
  out.info('Stopping the control plane');
  await server.close();
}

/** `--port` still at its default: then PORT from the environment may choose (as on PaaS hosts). */
function portIsDefault(options: Record<string, unknown>): boolean {
  return options['port'] === '8080';
}
