/**
 * Support for the red-team tests (test/redteam-*.test.ts): hostile fixture apps that know the agent
 * is there and try to get past it. The observers live in the TEST process, out of the attacker's
 * reach: a loopback TCP server on 127.0.0.2 (a second loopback address the policies never allow)
 * that must see no connection, and target files in a fresh directory under /tmp that must not exist.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import {
  type AgentEvent,
  appResults,
  cleanup,
  ensureAgentBuilt,
  fixturePath,
  policy,
  type RunOptions,
  type RunResult,
  runFixture,
} from './harness.js';

/** network, filesystem and process all denied; only `localhost` may be reached. */
export const DENY_ALL = policy({
  name: 'redteam-deny',
  network: 'deny',
  filesystem: 'deny',
  process: 'deny',
  allowedDomains: ['localhost'],
});

/** The address the policies never allow (a second loopback address, so tests stay on loopback). */
export const FORBIDDEN_HOST = '127.0.0.2';

export interface Observer {
  port: number;
  accepted(): number;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.2, port 0, counting the connections it really accepted. */
export async function forbiddenServer(): Promise<Observer> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, FORBIDDEN_HOST, resolve);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the observer server has no port');
  return {
    port: address.port,
    accepted: () => accepted,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The observer for a test file: the agent is built and the server started before the file's tests,
 * and the server closed after them. Read `port` and `accepted()` inside tests only.
 */
export function useForbiddenServer(): Observer {
  let started: Observer | undefined;
  beforeAll(async () => {
    await ensureAgentBuilt();
    started = await forbiddenServer();
  }, 120_000);
  afterAll(() => started?.close());
  const current = (): Observer => {
    if (!started) throw new Error('the observer server is started in beforeAll: use it inside a test');
    return started;
  };
  return {
    get port() {
      return current().port;
    },
    accepted: () => current().accepted(),
    close: () => current().close(),
  };
}

export interface Attack {
  run: RunResult;
  /** connections the observer accepted during the run */
  accepted: number;
}

/** Runs `body` as an attack fixture (DENY_ALL unless `options.policy`), with RT_PORT set to the observer's. */
export async function runAttack(
  server: Observer,
  body: string,
  options: Partial<RunOptions> = {},
): Promise<Attack> {
  const before = server.accepted();
  const run = await runFixture({
    policy: DENY_ALL,
    ...options,
    source: attackSource(body),
    env: { RT_PORT: String(server.port), ...options.env },
    timeoutMs: 30_000,
  });
  return { run, accepted: server.accepted() - before };
}

/** A fresh directory under /tmp (governed) for files an attack must not create. */
export function targetDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'redteam-target-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a file attack left behind: the app's reports, what appeared in its target directory, the events. */
export interface FileAttack {
  results: Record<string, unknown>[];
  created: string[];
  events: AgentEvent[];
  stderr: string;
}

/**
 * Runs the attack `body` (under DENY_ALL unless `options.policy` says otherwise) with `DIR`, a fresh
 * directory under /tmp (governed) that must stay empty under deny, and `TARGET`, the file
 * `targetName` in it. `policy` may be made from that directory, and `setup` prepares it.
 */
export async function runFileAttack(
  body: string,
  options: Omit<Partial<RunOptions>, 'policy' | 'setup' | 'source'> & {
    policy?: Record<string, unknown> | ((dir: string) => Record<string, unknown>);
    setup?: (dir: string) => void;
    targetName?: string;
  } = {},
): Promise<FileAttack> {
  const { policy: chosen, setup, targetName = 'written', env, ...runOptions } = options;
  const target = targetDir();
  try {
    setup?.(target.dir);
    const run = await runFixture({
      timeoutMs: 30_000,
      ...runOptions,
      policy: (typeof chosen === 'function' ? chosen(target.dir) : chosen) ?? DENY_ALL,
      source: attackSource(`const DIR = process.env.RT_TARGET_DIR;\n${body}`),
      env: { RT_TARGET: join(target.dir, targetName), RT_TARGET_DIR: target.dir, ...env },
    });
    const results = appResults(run);
    const outcome = { results, created: readdirSync(target.dir), events: run.events, stderr: run.stderr };
    cleanup(run);
    return outcome;
  } finally {
    target.remove();
  }
}

/**
 * The fixture prelude: helpers loaded BEFORE the attack tampers with anything, the observer's port
 * (`PORT`), a target path (`TARGET`), and `report(x)` for the test to read.
 */
export const PRELUDE = `
const { report, settle } = require(${JSON.stringify(fixturePath('net-helpers.cjs'))});
const net = require('node:net');
const fs = require('node:fs');
const PORT = Number(process.env.RT_PORT);
const TARGET = process.env.RT_TARGET;
const FORBIDDEN = ${JSON.stringify(FORBIDDEN_HOST)};
const tryConnect = (options, netModule = net) => new Promise((resolve) => {
  let socket;
  try { socket = netModule.connect(options); } catch (error) { resolve({ thrown: error.code || String(error) }); return; }
  socket.on('connect', () => { socket.destroy(); resolve({ connected: true }); });
  socket.on('error', (error) => resolve({ error: error.code || String(error) }));
  setTimeout(() => resolve({ pending: true }), 2500).unref();
});
const lookupTo = (address) => (hostname, options, callback) => {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (options && options.all) return callback(null, [{ address, family: 4 }]);
  return callback(null, address, 4);
};
const attempt = (fn) => { try { return { ok: fn() }; } catch (error) { return { error: error.code || String(error) }; } };
`;

/** Wraps an attack body (may `await`) into a fixture app that reports once and exits. */
export function attackSource(body: string): string {
  return `${PRELUDE}
(async () => {
${body}
})().then(
  () => setTimeout(() => process.exit(0), 50),
  (error) => { report({ crashed: String(error && (error.code || error.message)) }); setTimeout(() => process.exit(0), 50); },
);
`;
}
