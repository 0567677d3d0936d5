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
