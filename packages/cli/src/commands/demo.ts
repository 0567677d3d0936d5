import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ApiClient } from '../api/api-client.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { CliError, ExitCode, NotFoundError, UsageError } from '../errors.js';
import { formatEvent, isEvent } from '../local/event-format.js';
import { demoDir, layerTreeDir } from '../local/paths.js';
import { loadPolicyFile } from '../local/policy-file.js';
import {
  type LocalLambda,
  loadLambdaSimModule,
  loadServerModule,
  type RunningServer,
} from '../local/sibling-packages.js';
import { parsePort } from './server.js';

interface DemoFunction {
  name: string;
  dir: string;
  group: string;
  env: Record<string, string>;
  payload: unknown;
}

export function registerDemoCommand(program: Command, deps: CliDeps): void {
  program
    .command('demo')
    .description('start a control plane and local Lambda functions that show observe and deny events live')
    .option('--port <port>', 'control plane port (busy: any free port)', '8080')
    .option('--interval <seconds>', 'seconds between invocations of each function', '5')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender demo
  $ npm start                      # the same, from the repository root
  $ appdefender demo --port 9000 --interval 2

What runs (all on this machine, nothing leaves it):
  orders-api              a well-behaved function under demo-strict: no events
  image-resizer           a function whose dependency fast-image-meta is compromised, under demo-strict:
                          its exfiltration (to a .invalid host) and its shell are DENIED, reading
                          /tmp secrets is OBSERVED
  image-resizer-observe   the same code under demo-observe: everything is allowed and OBSERVED; the
                          stolen data reaches a loopback "attacker" server the demo runs

Open the printed dashboard URL and log in with the printed e-mail and password.`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await runDemo(ctx);
    });
}

function positiveSeconds(value: unknown, flag: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`${flag} must be a positive number of seconds`);
  return seconds;
}

/** A loopback server standing in for the attacker's collection endpoint (observe mode only). */
async function startAttacker(onLoot: (bytes: number) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => {
      onLoot(bytes);
      response.end('thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`, server };
}

async function startControlPlane(port: number, dataDir: string): Promise<RunningServer> {
  const { startServer } = await loadServerModule();
  try {
    return await startServer({ port, host: '127.0.0.1', dataDir });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    // The usual port is taken (another server, another demo): any free port will do.
    return startServer({ port: 0, host: '127.0.0.1', dataDir });
  }
}

async function runDemo(ctx: CommandContext): Promise<void> {
  const { out } = ctx;
  const port = parsePort(String(ctx.options['port']), '--port');
  const intervalMs = positiveSeconds(ctx.options['interval'], '--interval') * 1000;
  const durationMs =
    ctx.options['duration'] === undefined
      ? undefined
      : positiveSeconds(ctx.options['duration'], '--duration') * 1000;
  if (!existsSync(join(layerTreeDir, 'appdefender_wrapper'))) {
    throw new NotFoundError(`The layer is not built (${layerTreeDir})`, {
      hint: 'Run `npm run build` first',
    });
  }
  const { startLambda } = await loadLambdaSimModule();

  const dataDir = await mkdtemp(join(tmpdir(), 'appdefender-demo-'));
  const lambdas: { fn: DemoFunction; lambda: LocalLambda }[] = [];
  let server: RunningServer | undefined;
  let attacker: Server | undefined;
  const progress = out.progress('Starting the control plane');
  // Lines that arrive while the spinner runs (cold-start events) wait for the banner, so they
  // neither garble the spinner nor scroll the login away.
  let pending: string[] | undefined = [];
  const print = (line: string) => (pending ? pending.push(line) : out.line(line));
  try {
    server = await startControlPlane(port, dataDir);
    const api = new ApiClient({ baseUrl: server.url, fetch: ctx.deps.fetch });
    const email = 'demo@appdefender.example';
    const password = `demo-${randomBytes(6).toString('hex')}`;
    const account = await api.request<{ licenseKey: string; apiToken: string }>('POST', '/api/v1/signup', {
      email,
      password,
    });
    const admin = new ApiClient({ baseUrl: server.url, token: account.apiToken, fetch: ctx.deps.fetch });
    const { policies } = await loadPolicyFile(join(demoDir, 'policy-groups.yaml'));
    for (const group of policies) await admin.request('POST', '/api/v1/policy-groups', group);

    let stolenBytes = 0;
    const attackerServer = await startAttacker((bytes) => {
      stolenBytes += bytes;
      if (out.json) out.line(JSON.stringify({ attacker: { receivedBytes: bytes, totalBytes: stolenBytes } }));
      else
        out.line(
          out.style.red(`  attacker server received ${bytes} bytes of stolen data (total ${stolenBytes})`),
        );
    });
    attacker = attackerServer.server;

    const functions: DemoFunction[] = [
      {
        name: 'orders-api',
        dir: 'orders-api',
        group: 'demo-strict',
        env: {},
        payload: { items: [{ sku: 'tea', price: 4.5, quantity: 2 }] },
      },
      // Denied before any lookup: a .invalid name never resolves anyway (RFC 2606).
      {
        name: 'image-resizer',
        dir: 'image-resizer',
        group: 'demo-strict',
        env: {},
        payload: { image: 'cat.png' },
      },
      {
        name: 'image-resizer-observe',
        dir: 'image-resizer',
        group: 'demo-observe',
        env: { DEMO_EXFIL_URL: attackerServer.url },
        payload: { image: 'dog.png' },
      },
    ];
    for (const fn of functions) {
      progress.update(`Starting the local Lambda ${fn.name}`);
      const lambda = await startLambda({
        handler: 'index.handler',
        taskRoot: join(demoDir, 'functions', fn.dir),
        layerDir: layerTreeDir,
        functionName: fn.name,
        architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
        runtime: Number(process.versions.node.split('.')[0]) >= 22 ? 'nodejs22.x' : 'nodejs20.x',
        timeoutMs: 10_000,
        env: {
          AWS_LAMBDA_EXEC_WRAPPER: join(layerTreeDir, 'appdefender_wrapper'),
          ES_LICENSE_KEY: account.licenseKey,
          ES_POLICY_GROUP_NAME: fn.group,
          ES_API_URL: server.url,
          ...fn.env,
        },
        echo: (entry: { source: string; line: string }) => {
          const parsed = parseEventLine(entry.line);
          if (parsed && out.json) print(JSON.stringify(parsed));
          else if (parsed) print(`  ${out.style.cyan(fn.name.padEnd(22))} ${formatEvent(parsed, out.style)}`);
          else if (entry.line.startsWith('[appdefender]') && !out.json)
            print(out.style.dim(`  ${fn.name}: ${entry.line}`));
        },
      });
      lambdas.push({ fn, lambda });
    }
    progress.succeed('AppDefender demo is running');
    printBanner(ctx, { url: server.url, email, password, apiToken: account.apiToken, intervalMs });
    for (const line of pending ?? []) out.line(line);
    pending = undefined;

    const stop =
      durationMs === undefined
        ? ctx.deps.waitForInterrupt()
        : Promise.race([ctx.deps.waitForInterrupt(), ctx.deps.sleep(durationMs)]);
    let stopped = false;
    void stop.then(() => {
      stopped = true;
    });
    while (!stopped) {
      for (const { fn, lambda } of lambdas) {
        if (stopped) break;
        const result = (await lambda.invoke(fn.payload)) as { status?: string; durationMs?: number };
        if (result.status !== 'success') out.warn(`${fn.name} invocation ended with status ${result.status}`);
      }
      await Promise.race([stop, ctx.deps.sleep(intervalMs)]);
    }
    out.info('Stopping the demo');
  } catch (error) {
    progress.fail();
    throw error instanceof CliError
      ? error
      : new CliError('DEMO_FAILED', ExitCode.failure, `The demo could not run: ${(error as Error).message}`, {
          cause: error,
        });
  } finally {
    for (const { lambda } of lambdas) await lambda.shutdown().catch(() => {});
    if (attacker) await new Promise((resolve) => attacker?.close(resolve));
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function parseEventLine(line: string) {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return isEvent(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function printBanner(
  ctx: CommandContext,
  info: { url: string; email: string; password: string; apiToken: string; intervalMs: number },
): void {
  const { out } = ctx;
  const { bold, cyan, dim } = out.style;
  if (out.json) {
    // One line, like the event lines that follow it.
    out.line(
      JSON.stringify({
        dashboardUrl: `${info.url}/`,
        email: info.email,
        password: info.password,
        apiToken: info.apiToken,
      }),
    );
    return;
  }
  out.line('');
  out.line(bold('AppDefender demo'));
  out.line(`  Dashboard:  ${cyan(`${info.url}/`)}`);
  out.line(`  Log in as:  ${info.email}  password ${bold(info.password)}`);
  out.line(`  Events:     ES_API_URL=${info.url} ES_API_TOKEN=${info.apiToken} appdefender events tail`);
  out.line('');
  out.line(
    `  Invoking orders-api, image-resizer and image-resizer-observe every ${info.intervalMs / 1000} s.`,
  );
  out.line('  image-resizer depends on a compromised package (fast-image-meta) that steals /tmp secrets,');
  out.line('  sends them out and opens a shell: denied under demo-strict, observed under demo-observe.');
  out.line(dim('  Ctrl-C to stop. Nothing leaves this machine.'));
  out.line('');
}
