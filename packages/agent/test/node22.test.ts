// The agent's interception checks under Node 22 (the Lambda nodejs22.x runtime), with the Node 22
// binary of testing/node22: one representative check per road (network, dns, fs incl. promises and
// FileHandle, child_process incl. execSync, worker with execArgv: [], process.getBuiltinModule,
// process.binding, ESM named imports, terminateOnDeny, process.execve) and the fs binding methods
// Node 22 has that Node 20 lacks. The rest of the suite runs on Node 22 too with
// APPDEFENDER_TEST_NODE=<that binary> (the harness reads it).
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  appResult,
  cleanup,
  ensureAgentBuilt,
  fixturePath,
  node22Binary,
  packageDir,
  policy,
  type RunOptions,
  type RunResult,
  runFixture,
} from './harness.js';

const available = existsSync(node22Binary);
if (!available) {
  console.log(
    `node22.test.ts skipped: no Node 22 binary at ${node22Binary} (install it with: npm ci --prefix testing/node22)`,
  );
}

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const layerFixtures = join(packageDir, '..', 'layer', 'test', 'fixtures');
const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

function freshDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `node22-${prefix}-`));
  dirs.push(dir);
  return dir;
}

/** Runs a fixture on Node 22; every run also checks that the agent knows every fs binding method. */
async function run22(options: RunOptions): Promise<RunResult> {
  const result = await runFixture({ ...options, nodeBinary: node22Binary });
  runs.push(result);
  expect(result.stderr).not.toContain('does not govern');
  expect(result.stderr).not.toContain('could not be installed');
  return result;
}

interface OpOutcome {
  name: string;
  ok: boolean;
  code: string | null;
  syncThrow: boolean;
}

beforeAll(() => ensureAgentBuilt(), 120_000);

describe.skipIf(!available)('the agent on Node 22', () => {
  it('runs the fixtures on Node 22 with every fs binding method governed', async () => {
    const run = await run22({
      source: `const b = process.binding('fs');
console.log(JSON.stringify({ result: { version: process.version,
  cp: ['cpSyncCheckPaths', 'cpSyncCopyDir', 'cpSyncOverrideFile'].filter((name) => typeof b[name] === 'function') } }));`,
      policy: policy({ filesystem: 'deny', network: 'deny', process: 'deny' }),
      env: { NODE_NO_WARNINGS: '1' },
    });
    const result = appResult<{ version: string; cp: string[] }>(run);
    expect(result.version).toMatch(/^v22\./);
    // the native cp methods are what Node 22 adds to the binding over Node 20
    expect(result.cp).toEqual(['cpSyncCheckPaths', 'cpSyncCopyDir', 'cpSyncOverrideFile']);
  });

  it('network deny: a name not allowed is refused before any connection, and fetch too', async () => {
    const run = await run22({
      source: `
const { tcpServer, tryConnect, settle, report, lookupTo, outcome } = require(${helpers});
(async () => {
  const server = await tcpServer('127.0.0.1');
  const port = server.port;
  const connect = await tryConnect({ host: 'blocked.test', port, lookup: lookupTo('127.0.0.1') });
  const fetched = await outcome(() => fetch('http://blocked.test:' + port + '/'));
  const allowed = await tryConnect({ host: 'localhost', port });
  await settle();
  report({ connect, fetched, allowed, accepted: server.accepted() });
  server.close();
})();`,
      policy: policy({ name: 'n22-net', network: 'deny', allowedDomains: ['localhost'] }),
    });
    const result = appResult<Record<string, Record<string, unknown> | number>>(run);
    expect(result.connect).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    const fetched = result.fetched as Record<string, unknown>;
    expect([fetched.error, fetched.cause]).toContain('ERR_ACCESS_DENIED');
    expect(result.allowed).toMatchObject({ connected: true });
    // only the allowed connection reached the server
    expect(result.accepted).toBe(1);
    expect(run.events.filter((event) => event.action === 'deny').map((event) => event.target)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^blocked\.test:\d+$/)]),
    );
  });

  it('network observe: the connection happens and is reported once', async () => {
    const run = await run22({
      source: `
const { tcpServer, tryConnect, settle, report } = require(${helpers});
(async () => {
  const server = await tcpServer('127.0.0.1');
  const outcome = await tryConnect({ host: 'localhost', port: server.port });
  await settle();
  report({ ...outcome, accepted: server.accepted() });
  server.close();
})();`,
      policy: policy({ network: 'observe' }),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'observe', operation: 'connect' });
  });

  it('dns deny: lookup and a TXT query to a name not allowed are refused; no packet leaves', async () => {
    const run = await run22({
      source: `
const dns = require('node:dns');
const { udpServer, settle, report, outcome } = require(${helpers});
(async () => {
  const fake = await udpServer('127.0.0.1');
  const resolver = new dns.promises.Resolver({ timeout: 100, tries: 1 });
  const servers = ['127.0.0.1:' + fake.port];
  const setServers = await outcome(() => resolver.setServers(servers));
  const txt = await outcome(() => resolver.resolveTxt('exfil.attacker.test'));
  const lookup = await outcome(() => dns.promises.lookup('blocked.test'));
  await settle();
  report({ setServers, txt, lookup, packets: fake.received() });
  fake.close();
})();`,
      policy: policy({ network: 'deny', allowedDomains: ['localhost'] }),
    });
    const result = appResult<Record<string, Record<string, unknown> | number>>(run);
    expect(result.txt).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(result.lookup).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(result.packets).toBe(0);
    expect(
      run.events.some((event) => event.operation === 'dns' && event.target === 'exfil.attacker.test'),
    ).toBe(true);
  });

  it('filesystem deny: every fs road (callback, sync, promises, FileHandle, streams, cp) is refused, nothing happens', async () => {
    const dir = freshDir('fs');
    for (const name of ['existing.txt', 'existing2.txt', 'unlinkme.txt', 'truncme.txt', 'chmodme.txt']) {
      writeFileSync(join(dir, name), 'original');
    }
    writeFileSync(join(dir, '.env'), 'FROM_ENV_FILE=1\n');
    mkdirSync(join(dir, 'rmme'));
    mkdirSync(join(dir, 'srcdir'));
    writeFileSync(join(dir, 'srcdir', 'a.txt'), 'a');
    const before = readdirSync(dir).sort();
    const run = await run22({
      file: fixturePath('fs-ops.cjs'),
      args: [dir],
      cwd: dir,
      policy: policy({ filesystem: 'deny', network: 'grant', process: 'grant' }),
    });
    const outcomes = appResult<OpOutcome[]>(run);
    expect(outcomes.length).toBeGreaterThan(40);
    const wrong = outcomes.filter((outcome) =>
      outcome.name === 'readUngoverned'
        ? !outcome.ok
        : outcome.ok || outcome.code !== 'ERR_ACCESS_DENIED' || outcome.syncThrow,
    );
    expect(wrong).toEqual([]);
    for (const name of ['promises.open(w)+FileHandle.write', 'promises.open(r)+FileHandle.read', 'cpSync']) {
      expect(outcomes.find((outcome) => outcome.name === name)).toMatchObject({ code: 'ERR_ACCESS_DENIED' });
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'truncme.txt'), 'utf8')).toBe('original');
  });

  it('filesystem deny: the native cp binding methods Node 22 added are judged when called directly', async () => {
    const dir = freshDir('cp');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a.txt'), 'a');
    writeFileSync(join(dir, 'source.txt'), 'new');
    writeFileSync(join(dir, 'target.txt'), 'original');
    const run = await run22({
      source: `
const b = process.binding('fs');
const dir = ${JSON.stringify(dir)};
const out = {};
const attempt = (name, fn) => { try { fn(); out[name] = 'allowed'; } catch (error) { out[name] = error.code ?? String(error); } };
attempt('cpSyncCheckPaths', () => b.cpSyncCheckPaths(dir + '/src', dir + '/checked', false, true));
attempt('cpSyncCopyDir', () => b.cpSyncCopyDir(dir + '/src', dir + '/copied', true, false, false, false, false));
attempt('cpSyncOverrideFile', () => b.cpSyncOverrideFile(dir + '/source.txt', dir + '/target.txt', 0, false));
console.log(JSON.stringify({ result: out }));`,
      policy: policy({ filesystem: 'deny', network: 'grant', process: 'grant' }),
      env: { NODE_NO_WARNINGS: '1' },
    });
    expect(appResult(run)).toEqual({
      cpSyncCheckPaths: 'ERR_ACCESS_DENIED',
      cpSyncCopyDir: 'ERR_ACCESS_DENIED',
      cpSyncOverrideFile: 'ERR_ACCESS_DENIED',
    });
    expect(existsSync(join(dir, 'copied'))).toBe(false);
    expect(readFileSync(join(dir, 'target.txt'), 'utf8')).toBe('original');
  });

  it('process deny: every way of starting a child (incl. execSync and the raw bindings) is refused; no child runs', async () => {
    const dir = freshDir('process');
    const run = await run22({
      file: fixturePath('process-ops.cjs'),
      args: [dir],
      cwd: dir,
      policy: policy({ network: 'grant', filesystem: 'grant', process: 'deny' }),
    });
    const outcomes = appResult<OpOutcome[]>(run);
    const byName = new Map(outcomes.map((outcome) => [outcome.name, outcome]));
    for (const name of ['spawn', 'exec', 'execFile', 'fork', 'spawnSync', 'execSync', 'execFileSync']) {
      expect(byName.get(name), name).toMatchObject({
        ok: false,
        code: 'ERR_ACCESS_DENIED',
        syncThrow: false,
      });
    }
    expect(byName.get('spawnSyncBinding')).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(byName.get('processWrapBinding')).toMatchObject({ ok: false });
    expect(readdirSync(dir).filter((name) => name.startsWith('marker-'))).toEqual([]);
  });

  it('process deny: process.execve (Node >= 22.15) is refused and the process goes on', async () => {
    const dir = freshDir('execve');
    const marker = join(dir, 'marker-execve');
    const run = await run22({
      source: `
let outcome;
try {
  process.execve('/bin/sh', ['/bin/sh', '-c', 'echo > "$0"', ${JSON.stringify(marker)}]);
  outcome = 'replaced';
} catch (error) { outcome = error.code ?? String(error); }
console.log(JSON.stringify({ result: { type: typeof process.execve, outcome } }));`,
      policy: policy({ network: 'grant', filesystem: 'grant', process: 'deny' }),
      env: { NODE_NO_WARNINGS: '1' },
    });
    expect(appResult(run)).toEqual({ type: 'function', outcome: 'ERR_ACCESS_DENIED' });
    expect(existsSync(marker)).toBe(false);
    expect(run.events).toEqual([expect.objectContaining({ category: 'process', action: 'deny' })]);
  });

  it('terminateOnDeny: the process ends before the spawn happens, with the event recorded', async () => {
    const dir = freshDir('terminate');
    const run = await run22({
      file: fixturePath('process-ops.cjs'),
      args: [dir, 'execSync'],
      cwd: dir,
      policy: policy({ network: 'grant', filesystem: 'grant', process: 'deny', terminateOnDeny: true }),
    });
    expect(run.code).toBe(70);
    expect(run.appOutput.trim()).toBe('');
    expect(readdirSync(dir).filter((name) => name.startsWith('marker-'))).toEqual([]);
    expect(run.events).toEqual([
      expect.objectContaining({ action: 'deny', operation: 'spawn', terminated: true }),
    ]);
  });

  it('a worker started with execArgv: [] and env: {} still carries the agent', async () => {
    const run = await run22({
      source: `
const { Worker } = require('node:worker_threads');
const { tcpServer, settle, report } = require(${helpers});
(async () => {
  const server = await tcpServer('127.0.0.1');
  const code = "const { tryConnect, lookupTo } = require(" + ${JSON.stringify(helpers)} + ");" +
    "tryConnect({ host: 'blocked.test', port: " + server.port + ", lookup: lookupTo('127.0.0.1') })" +
    ".then((outcome) => require('node:worker_threads').parentPort.postMessage(outcome));";
  const outcome = await new Promise((resolve) => {
    const worker = new Worker(code, { eval: true, execArgv: [], env: {} });
    worker.on('message', (message) => { resolve(message); worker.terminate(); });
    worker.on('error', (error) => resolve({ workerError: String(error) }));
  });
  await settle();
  report({ ...outcome, accepted: server.accepted() });
  server.close();
})();`,
      policy: policy({ network: 'deny', allowedDomains: ['localhost'] }),
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
  });

  it('process.getBuiltinModule and process.binding hand out hooked functions only', async () => {
    const dir = freshDir('escapes');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    const run = await run22({
      source: `
const dir = ${JSON.stringify(dir)};
const out = {};
const attempt = (name, fn) => { try { fn(); out[name] = 'allowed'; } catch (error) { out[name] = error.code ?? error.message; } };
attempt('getBuiltinModule.fs', () => process.getBuiltinModule('fs').writeFileSync(dir + '/gbm.txt', 'x'));
attempt('getBuiltinModule.cp', () => process.getBuiltinModule('node:child_process').execFileSync('touch', [dir + '/marker-gbm']));
attempt('binding.fs.readFileUtf8', () => process.binding('fs').readFileUtf8(dir + '/secret.txt', 0));
attempt('binding.fs.internalModuleStat', () => process.binding('fs').internalModuleStat(dir + '/secret.txt'));
attempt('binding.spawn_sync', () => process.binding('spawn_sync').spawn({ file: 'touch', args: ['touch', dir + '/marker-raw'], envPairs: [], stdio: [] }));
console.log(JSON.stringify({ result: out }));`,
      policy: policy({ filesystem: 'deny', process: 'deny', network: 'grant' }),
      env: { NODE_NO_WARNINGS: '1' },
    });
    const out = appResult<Record<string, string>>(run);
    for (const name of Object.keys(out)) expect(out[name], name).toBe('ERR_ACCESS_DENIED');
    expect(Object.keys(out)).toHaveLength(5);
    expect(readdirSync(dir)).toEqual(['secret.txt']);
  });

  it('ESM named imports of node: builtins see the hooked functions', async () => {
    const dir = freshDir('esm');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    const run = await run22({
      type: 'esm',
      source: `
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
const { lookupTo } = createRequire(import.meta.url)(${helpers});
const dir = ${JSON.stringify(dir)};
const out = {};
const attempt = async (name, fn) => { try { await fn(); out[name] = 'allowed'; } catch (error) { out[name] = error.code; } };
await attempt('execSync', () => execSync('touch ' + dir + '/marker-esm'));
await attempt('writeFileSync', () => writeFileSync(dir + '/esm.txt', 'x'));
await attempt('readFileSync', () => readFileSync(dir + '/secret.txt'));
await attempt('readFile', () => readFile(dir + '/secret.txt'));
await attempt('connect', () => new Promise((resolve, reject) => {
  const socket = connect({ host: 'blocked.test', port: 9, lookup: lookupTo('127.0.0.1') });
  socket.on('connect', () => { socket.destroy(); resolve(); });
  socket.on('error', reject);
}));
console.log(JSON.stringify({ result: out }));`,
      policy: policy({ filesystem: 'deny', process: 'deny', network: 'deny' }),
    });
    expect(appResult(run)).toEqual({
      execSync: 'ERR_ACCESS_DENIED',
      writeFileSync: 'ERR_ACCESS_DENIED',
      readFileSync: 'ERR_ACCESS_DENIED',
      readFile: 'ERR_ACCESS_DENIED',
      connect: 'ERR_ACCESS_DENIED',
    });
    expect(readdirSync(dir)).toEqual(['secret.txt']);
  });
});

// The layer in the local Lambda on nodejs22.x: the real aws-lambda-ric runtime, the wrapper and the
// extension all on the Node 22 binary, against a real control plane (the layer's e2e harness).
describe.skipIf(!available)('the layer in the local Lambda on nodejs22.x', () => {
  it('observes a connect and a /tmp write, denies a spawn; events and the nodejs22.x function reach the control plane', async () => {
    // Prepare: imported here so the agent's other tests never load the control plane
    const layer = await import('../../layer/test/harness.js');
    const layerDir = await layer.buildTestLayer();
    const plane = await layer.startControlPlane();
    const target = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const port = (target.address() as AddressInfo).port;
    const taskDir = freshDir('task');
    copyFileSync(join(layerFixtures, 'ops.cjs'), join(taskDir, 'ops.cjs'));
    writeFileSync(
      join(taskDir, 'index.js'),
      "const { runOps } = require('./ops.cjs');\nexports.handler = async (event) => ({ node: process.version, ...(await runOps(event)) });\n",
    );
    try {
      const group = 'n22-observe-deny-spawn';
      const licenseKey = await plane.accountWithGroup({
        name: group,
        network: 'observe',
        filesystem: 'observe',
        process: 'deny',
      });
      const fn = await layer.startFunction({
        layerDir,
        env: { ES_API_URL: plane.url, ES_LICENSE_KEY: licenseKey, ES_POLICY_GROUP_NAME: group },
        sim: { runtime: 'nodejs22.x', nodeBinary: node22Binary, taskRoot: taskDir, handler: 'index.handler' },
      });
      try {
        const written = join(freshDir('writes'), 'out.txt');

        // Act
        const result = await fn.lambda.invoke({
          connect: { host: '127.0.0.1', port },
          write: written,
          spawn: true,
        });

        // Assess: the handler ran on Node 22; observe let the connect and write happen, deny stopped the spawn
        expect(result.status).toBe('success');
        expect(result.result).toEqual({
          node: expect.stringMatching(/^v22\./),
          connect: 'ok',
          write: 'ok',
          spawn: 'ERR_ACCESS_DENIED',
        });
        expect(existsSync(written)).toBe(true);
        const stored = await plane.storedEvents(licenseKey);
        expect(stored.map((event) => `${event.category}:${event.action}`)).toEqual(
          expect.arrayContaining(['network:observe', 'filesystem:observe', 'process:deny']),
        );
        expect(stored.find((event) => event.category === 'network')).toMatchObject({
          operation: 'connect',
          target: `127.0.0.1:${port}`,
          policyGroup: group,
          runtime: 'nodejs22.x',
        });
        expect(stored.map((event) => event.id).sort()).toEqual(layer.spooledIds(fn.runtimeDir).sort());
        await layer.eventually(
          'function registration',
          async () => (await plane.functions(licenseKey)).length === 1,
        );
        expect((await plane.functions(licenseKey))[0]).toMatchObject({
          provider: 'aws',
          runtime: 'nodejs22.x',
        });
        expect(fn.lambda.logs.join('\n')).not.toMatch(/does not govern|could not be installed|unprotected/);
      } finally {
        await fn.lambda.shutdown();
      }
    } finally {
      target.close();
      await plane.close();
    }
  }, 60_000);
});

// Node 22 is what the test thinks it is (a wrong binary would make every check above meaningless).
describe.skipIf(!available)('the Node 22 binary', () => {
  it('is Node 22 with process.execve', () => {
    const out = execFileSync(node22Binary, ['-p', 'process.version + " " + typeof process.execve'], {
      encoding: 'utf8',
    });
    expect(out.trim()).toMatch(/^v22\.\d+\.\d+ function$/);
  });
});
