// A Node child process runs under the policy its parent enforces, not under the policy files as they
// are when it starts. An app allowed to write ES_POLICY_FILE or the extension's policy.json
// (filesystem observe: one event; filesystem grant: no hooks) replaced it with a grant-everything
// policy and started `node child.js` (allowed: process observe, or `node` among allowedCommands);
// the child's agent read the planted policy and the child reached 127.0.0.2 under network deny.
// GOT THROUGH before the fix: the child said `{ connected: true }`, the server accepted it.
// Fix: the parent's agent puts the policy it enforces into the child's corrected environment
// (ES_INHERITED_POLICY, overriding any value of the app's); the child's agent takes it, deletes it
// before the app's first line and reads no file. A policy too large for one environment string goes
// as its SHA-256 instead: the child reads the file and refuses one that differs (ES_FAIL_MODE, logged).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  appResult,
  cleanup,
  fixturePath,
  node22Binary,
  type RunOptions,
  type RunResult,
  runFixture,
} from './harness.js';
import { FORBIDDEN_HOST, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

const PARENT_POLICY = {
  name: 'child-parent',
  network: 'deny',
  filesystem: 'observe',
  process: 'observe',
  allowedDomains: ['localhost'],
};
const GRANT_ALL = { name: 'planted', network: 'grant', filesystem: 'grant', process: 'grant' };

// The child: an allowed connection (localhost, through a server of its own) and the forbidden one;
// it prints one `{"child": ...}` line for the parent to pass on.
const CHILD = `
const { tcpServer } = require(${JSON.stringify(fixturePath('net-helpers.cjs'))});
const net = require('node:net');
const dial = (options) => new Promise((resolve) => {
  const socket = net.connect(options);
  socket.on('connect', () => { socket.destroy(); resolve({ connected: true }); });
  socket.on('error', (error) => resolve({ error: error.code || String(error) }));
});
if (process.env.RT_RELAY) {
  const env = { ...process.env };
  delete env.RT_RELAY;
  process.stdout.write(require('node:child_process').execFileSync(process.execPath, [__filename], { env, encoding: 'utf8' }));
} else (async () => {
  const local = await tcpServer('127.0.0.1');
  const allowed = await dial({ host: 'localhost', port: local.port, family: 4 });
  local.close();
  const forbidden = await dial({ host: '${FORBIDDEN_HOST}', port: Number(process.env.RT_PORT) });
  const handOffSeen = Object.keys(process.env).filter((key) => key.startsWith('ES_INHERITED'));
  process.stdout.write(JSON.stringify({ child: { allowed, forbidden, handOffSeen } }) + '\\n');
})();
`;

// The parent: optionally replaces the policy file (as a whole: temporary file, then rename) and
// starts the child with `how`, passing the child's line on with report().
function parentSource(how: 'execFileSync' | 'spawn' | 'fork', extraEnv: Record<string, string> = {}): string {
  return `
const { report } = require(${JSON.stringify(fixturePath('net-helpers.cjs'))});
const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const plant = process.env.RT_PLANT;
if (plant) {
  const file = process.env.RT_HANDOFF ? path.join(process.env.ES_RUNTIME_DIR, 'policy.json') : process.env.ES_POLICY_FILE;
  fs.writeFileSync(file + '.new', plant);
  fs.renameSync(file + '.new', file);
}
const child = path.join(__dirname, 'child.cjs');
if (process.env.RT_TAMPER) {
  // whatever serialises a policy group would now write the planted one
  const planted = JSON.parse(plant);
  const stringify = JSON.stringify;
  JSON.stringify = function (value, ...rest) {
    return stringify(value && typeof value === 'object' && 'network' in value ? planted : value, ...rest);
  };
  Object.defineProperty(Object.prototype, 'toJSON', {
    value() { return 'network' in this ? planted : this; }, configurable: true, writable: true,
  });
}
if (process.env.RT_REMOVE_CWD) {
  // the child starts in a working directory that no longer exists (process.cwd() throws there)
  const gone = path.join(__dirname, 'gone');
  fs.mkdirSync(gone);
  process.chdir(gone);
  fs.rmdirSync(gone);
}
const env = { ...process.env, ...${JSON.stringify(extraEnv)} };
const childLine = (out) => {
  const line = String(out).split('\\n').find((each) => each.startsWith('{"child":'));
  return line ? JSON.parse(line).child : { noChildLine: String(out) };
};
const how = ${JSON.stringify(how)};
if (how === 'execFileSync') {
  try { report(childLine(childProcess.execFileSync(process.execPath, [child], { env, encoding: 'utf8' }))); }
  catch (error) { report({ spawnError: error.code || String(error) }); }
} else {
  const started = how === 'fork'
    ? childProcess.fork(child, [], { env, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    : childProcess.spawn(process.execPath, [child], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  started.stdout.setEncoding('utf8').on('data', (chunk) => { out += chunk; });
  started.on('error', (error) => report({ spawnError: error.code || String(error) }));
  started.on('close', () => report(childLine(out)));
}
`;
}

interface Case {
  policy: Record<string, unknown>;
  /** Where the policy comes from: ES_POLICY_FILE, or the extension's policy.json. */
  handOff?: boolean;
  /** What the app writes over the policy file before starting the child. */
  plant?: Record<string, unknown>;
  how?: 'execFileSync' | 'spawn' | 'fork';
  extraEnv?: Record<string, string>;
  env?: Record<string, string>;
  nodeBinary?: string;
}

interface ChildOutcome {
  allowed?: Record<string, unknown>;
  forbidden?: Record<string, unknown>;
  handOffSeen?: string[];
}

async function parentAndChild(c: Case): Promise<{ run: RunResult; child: ChildOutcome; accepted: number }> {
  const before = server.accepted();
  const options: RunOptions = {
    policy: c.handOff ? null : c.policy,
    source: parentSource(c.how ?? 'execFileSync', c.extraEnv),
    env: {
      RT_PORT: String(server.port),
      ...(c.plant
        ? { RT_PLANT: JSON.stringify(c.handOff ? { policy: c.plant, source: 'control-plane' } : c.plant) }
        : {}),
      ...(c.handOff ? { RT_HANDOFF: '1' } : {}),
      ...c.env,
    },
    setup: ({ workDir, runtimeDir }) => {
      writeFileSync(join(workDir, 'child.cjs'), CHILD);
      if (c.handOff) {
        mkdirSync(runtimeDir, { recursive: true });
        writeFileSync(
          join(runtimeDir, 'policy.json'),
          JSON.stringify({ policy: c.policy, source: 'control-plane' }),
        );
      }
    },
    timeoutMs: 30_000,
    ...(c.nodeBinary ? { nodeBinary: c.nodeBinary } : {}),
  };
  const run = await runFixture(options);
  return { run, child: appResult<ChildOutcome>(run), accepted: server.accepted() - before };
}

const forbiddenDenials = (events: AgentEvent[]) =>
  events.filter((event) => event.action === 'deny' && event.target === `${FORBIDDEN_HOST}:${server.port}`);

/** The child ran under the parent's policy: localhost reached, 127.0.0.2 refused and reported. */
function expectGovernedByParent(outcome: { run: RunResult; child: ChildOutcome; accepted: number }): void {
  const { run, child, accepted } = outcome;
  const detail = JSON.stringify({ child, stderr: run.stderr });
  expect(accepted, detail).toBe(0);
  expect(child.allowed, detail).toEqual({ connected: true });
  expect(child.forbidden, detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
  expect(child.handOffSeen, detail).toEqual([]);
  const denied = forbiddenDenials(run.events);
  expect(denied, detail).toHaveLength(1);
  expect(denied[0]?.policyGroup, detail).toBe(PARENT_POLICY.name);
}

describe('a Node child runs under the policy its parent enforces', () => {
  it.each([
    ['ES_POLICY_FILE replaced, process observe, filesystem observe', {}],
    [
      "the extension's policy.json replaced, filesystem grant",
      { handOff: true, policy: { ...PARENT_POLICY, filesystem: 'grant' } },
    ],
    [
      '`node` among allowedCommands under process deny',
      { policy: { ...PARENT_POLICY, process: 'deny', allowedCommands: ['node'] } },
    ],
    ['the app replaced JSON.stringify and Object.prototype.toJSON first', { env: { RT_TAMPER: '1' } }],
    ['started with spawn', { how: 'spawn' }],
    ['started with fork', { how: 'fork' }],
    [
      'the app hands the child a grant-everything ES_INHERITED_POLICY of its own',
      {
        extraEnv: {
          ES_INHERITED_POLICY: JSON.stringify({ source: 'file', policy: GRANT_ALL }),
        },
      },
    ],
  ] as const)('%s: the planted grant-everything policy is not used', async (_label, variant) => {
    const outcome = await parentAndChild({ policy: PARENT_POLICY, plant: GRANT_ALL, ...variant });
    expectGovernedByParent(outcome);
    cleanup(outcome.run);
  });

  it('a child of an untouched policy still works and is governed (Node 20 and Node 22)', async () => {
    const binaries = [process.execPath, ...(existsSync(node22Binary) ? [node22Binary] : [])];
    for (const nodeBinary of binaries) {
      const outcome = await parentAndChild({ policy: PARENT_POLICY, nodeBinary });
      expectGovernedByParent(outcome);
      // no log line of the child's: an inherited policy is not "no policy"
      expect(outcome.run.stderr, nodeBinary).not.toContain('[appdefender]');
      cleanup(outcome.run);
    }
  });

  // GOT THROUGH before the fix: the child's agent failed on `process.cwd()` ("could not start and is
  // not protecting this process") and the child connected. Now the child takes its parent's
  // application directories, and a child of a governed process whose agent cannot start ends.
  it('a child started in a working directory that was removed is governed all the same', async () => {
    const outcome = await parentAndChild({ policy: PARENT_POLICY, env: { RT_REMOVE_CWD: '1' } });
    expectGovernedByParent(outcome);
    cleanup(outcome.run);
  });

  it('a grandchild inherits it too', async () => {
    const outcome = await parentAndChild({
      policy: PARENT_POLICY,
      plant: GRANT_ALL,
      // the child.cjs run by the parent is a relay that starts the real child
      env: { RT_RELAY: '1' },
    });
    expectGovernedByParent(outcome);
    cleanup(outcome.run);
  });
});

// A policy whose JSON does not fit one environment string goes to the child as its SHA-256.
describe('a policy too large to hand over whole', () => {
  // 256 allowedPaths entries of ~300 characters: about 80 KB of JSON
  const allowedPaths = Array.from(
    { length: 256 },
    (_, i) => `/opt/large-policy/${String(i).padStart(280, 'x')}`,
  );
  const LARGE = { ...PARENT_POLICY, allowedPaths };

  it('untouched: the child reads the file, finds it is the parent’s policy, and is governed by it', async () => {
    const outcome = await parentAndChild({ policy: LARGE });
    expectGovernedByParent(outcome);
    expect(outcome.run.stderr).not.toContain('[appdefender]');
    cleanup(outcome.run);
  });

  it('replaced: the child refuses the file and enforces ES_FAIL_MODE, saying why', async () => {
    const outcome = await parentAndChild({
      policy: LARGE,
      plant: { ...GRANT_ALL, allowedPaths },
      env: { ES_FAIL_MODE: 'closed' },
    });
    const { run, child, accepted } = outcome;
    const detail = JSON.stringify({ child, stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(child.forbidden, detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
    // fail mode closed denies even localhost: the child is not under the planted policy
    expect(child.allowed, detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
    expect(run.stderr).toMatch(/not the policy the parent process enforces.*ES_FAIL_MODE=closed/);
    cleanup(run);
  });
});

// process.execve (Node 22.15+) replaces the process with a new program: a Node one gets the policy
// in force like any child.
describe.skipIf(!existsSync(node22Binary))('process.execve (Node 22)', () => {
  it('the new program runs under the policy in force, not the planted one', async () => {
    const before = server.accepted();
    const run = await runFixture({
      policy: PARENT_POLICY,
      nodeBinary: node22Binary,
      source: `
const fs = require('node:fs');
fs.writeFileSync(process.env.ES_POLICY_FILE + '.new', process.env.RT_PLANT);
fs.renameSync(process.env.ES_POLICY_FILE + '.new', process.env.ES_POLICY_FILE);
process.execve(process.execPath, [process.execPath, require('node:path').join(__dirname, 'child.cjs')], { ...process.env });
`,
      env: { RT_PORT: String(server.port), RT_PLANT: JSON.stringify(GRANT_ALL) },
      setup: ({ workDir }) => writeFileSync(join(workDir, 'child.cjs'), CHILD),
      timeoutMs: 30_000,
    });
    const line = run.appOutput.split('\n').find((each) => each.startsWith('{"child":'));
    const child = (line ? JSON.parse(line).child : { noChildLine: run.stdout }) as ChildOutcome;
    expectGovernedByParent({ run, child, accepted: server.accepted() - before });
    cleanup(run);
  });
});
