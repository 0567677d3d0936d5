/**
 * End-to-end harness: the layer built from this checkout into a temp dir, a real control plane
 * (the server package over SQLite in a temp dir) behind a loopback proxy that counts every event
 * id the extension sends, and the local Lambda running handlers from fixtures/.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type LambdaSim, type StartLambdaOptions, startLambda } from '@appdefender/lambda-sim';
import { buildApp, hashSecret, openStorage, type Storage } from '@appdefender/server';
import { afterAll, beforeAll } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { buildAgent } from '../../agent/build.mjs';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { buildLayer } from '../build.mjs';

const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function freshDir(prefix: string): string {
  return fs.mkdtempSync(join(tmpdir(), `appdefender-${prefix}-`));
}

/** Builds the agent and the layer from the sources of this checkout into a temp dir. */
export async function buildTestLayer(): Promise<string> {
  const outDir = freshDir('layer-build');
  const agentBundle = await buildAgent({ outfile: join(outDir, 'agent.cjs') });
  const { layerDir } = await buildLayer({ outDir, agentBundle, zips: false });
  return layerDir as string;
}

/**
 * The layer built and a control plane started before a test file's tests, and the control plane
 * closed after them: the set-up every end-to-end file shares. Read its fields inside tests only.
 */
export function useLayerAndControlPlane(): { readonly layerDir: string; readonly plane: ControlPlane } {
  let started: { layerDir: string; plane: ControlPlane } | undefined;
  beforeAll(async () => {
    started = { layerDir: await buildTestLayer(), plane: await startControlPlane() };
  });
  afterAll(() => started?.plane.close());
  const current = () => {
    if (!started)
      throw new Error('the layer and control plane are set up in beforeAll: use them inside a test');
    return started;
  };
  return {
    get layerDir() {
      return current().layerDir;
    },
    get plane() {
      return current().plane;
    },
  };
}

/** A task root (/var/task) holding one fixture handler and the shared operations module. */
export function taskRoot(kind: 'cjs' | 'esm'): { dir: string; handler: string } {
  const dir = freshDir(`task-${kind}`);
  fs.copyFileSync(join(fixturesDir, 'ops.cjs'), join(dir, 'ops.cjs'));
  if (kind === 'cjs') {
    fs.copyFileSync(join(fixturesDir, 'cjs-handler', 'index.js'), join(dir, 'index.js'));
  } else {
    fs.copyFileSync(join(fixturesDir, 'esm-handler', 'index.mjs'), join(dir, 'index.mjs'));
  }
  return { dir, handler: 'index.handler' };
}

export interface ControlPlane {
  /** The URL functions use (through the counting proxy). */
  url: string;
  storage: Storage;
  /** How many times each event id was sent by an extension (2+ means a double send). */
  sentIds: Map<string, number>;
  /** Responses of POST /api/v1/agent/events with status and body, for diagnostics. */
  eventResponses: Array<{ status: number; body: string }>;
  temporaryKey(): Promise<string>;
  /** A registered account with its own policy group; returns its license key. */
  accountWithGroup(group: Record<string, unknown>): Promise<string>;
  storedEvents(licenseKey: string): Promise<Array<Record<string, unknown>>>;
  functions(licenseKey: string): Promise<Array<Record<string, unknown>>>;
  /** Takes the control plane off the network (its port refuses connections) until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

async function requestJson(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export async function startControlPlane(): Promise<ControlPlane> {
  const storage = await openStorage({ dataDir: freshDir('control-plane') });
  const app = await buildApp({ storage, dashboardDir: null, retention: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const serverPort = (app.server.address() as AddressInfo).port;
  const direct = `http://127.0.0.1:${serverPort}`;

  const sentIds = new Map<string, number>();
  const eventResponses: ControlPlane['eventResponses'] = [];
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const isEvents = req.method === 'POST' && req.url === '/api/v1/agent/events';
      const forward = http.request(
        { host: '127.0.0.1', port: serverPort, method: req.method, path: req.url, headers: req.headers },
        (upstream) => {
          const answer: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => answer.push(chunk));
          upstream.on('end', () => {
            const body = Buffer.concat(answer);
            if (isEvents) {
              eventResponses.push({ status: upstream.statusCode ?? 0, body: body.toString('utf8') });
              // count only what the server received and answered: a send is a send
              try {
                const decoded = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
                for (const event of (
                  JSON.parse(decoded.toString('utf8')) as { events: Array<{ id: string }> }
                ).events) {
                  sentIds.set(event.id, (sentIds.get(event.id) ?? 0) + 1);
                }
              } catch {
                // an unreadable batch shows up as a server error in eventResponses
              }
            }
            res.writeHead(upstream.statusCode ?? 502, upstream.headers).end(body);
          });
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(raw);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${proxyPort}`;

  const accountOf = async (licenseKey: string) => {
    const record = await storage.findLicenseKey(hashSecret(licenseKey));
    if (!record) throw new Error('unknown license key');
    return record.accountId;
  };
  let accounts = 0;
  return {
    url,
    storage,
    sentIds,
    eventResponses,
    async temporaryKey() {
      return (await requestJson(direct, 'POST', '/api/v1/temporary-keys')).licenseKey as string;
    },
    async accountWithGroup(group) {
      accounts++;
      const signup = await requestJson(direct, 'POST', '/api/v1/signup', {
        email: `e2e-${accounts}-${process.pid}@example.com`,
        password: 'correct horse battery staple',
      });
      await requestJson(direct, 'POST', '/api/v1/policy-groups', group, signup.apiToken as string);
      return signup.licenseKey as string;
    },
    async storedEvents(licenseKey) {
      const rows = await storage.readEventsAfter(await accountOf(licenseKey), 0, {}, 100_000);
      return rows.map((row) => row.event as unknown as Record<string, unknown>);
    },
    async functions(licenseKey) {
      return (await storage.listFunctions(await accountOf(licenseKey))) as unknown as Array<
        Record<string, unknown>
      >;
    },
    async down() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
    async up() {
      await new Promise<void>((resolve, reject) => {
        proxy.once('error', reject);
        proxy.listen(proxyPort, '127.0.0.1', () => {
          proxy.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      proxy.closeAllConnections();
      if (proxy.listening) await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await app.close();
      await storage.close();
    },
  };
}

export interface FunctionOptions {
  layerDir: string;
  kind?: 'cjs' | 'esm';
  env?: Record<string, string>;
  /** Without AWS_LAMBDA_EXEC_WRAPPER (the baseline of the benchmark). */
  withoutWrapper?: boolean;
  sim?: Partial<StartLambdaOptions>;
}

export interface RunningFunction {
  lambda: LambdaSim;
  runtimeDir: string;
  taskDir: string;
}

/** Starts the local Lambda with the layer and a fresh ES_RUNTIME_DIR (so parallel files never share one). */
export async function startFunction(options: FunctionOptions): Promise<RunningFunction> {
  const task = taskRoot(options.kind ?? 'cjs');
  const runtimeDir = join(freshDir('runtime'), '.appdefender');
  const env: Record<string, string> = { ES_RUNTIME_DIR: runtimeDir, ...options.env };
  if (!options.withoutWrapper) env.AWS_LAMBDA_EXEC_WRAPPER = join(options.layerDir, 'appdefender_wrapper');
  const lambda = await startLambda({
    handler: task.handler,
    taskRoot: task.dir,
    layerDir: options.layerDir,
    env,
    timeoutMs: 10_000,
    ...options.sim,
  });
  return { lambda, runtimeDir, taskDir: task.dir };
}

/** Waits until `check` returns true (events travel asynchronously), or fails naming `what`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The ids the agent spooled for the extension: the ground truth of what must arrive. */
export function spooledIds(runtimeDir: string): string[] {
  return eventIdsIn(join(runtimeDir, 'events.ndjson'));
}

/** The ids of the events in an NDJSON event file (the spool, or ES_EVENT_FILE); none if it is missing. */
export function eventIdsIn(path: string): string[] {
  if (!fs.existsSync(path)) return [];
  return fs
    .readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { id: string }).id);
}
