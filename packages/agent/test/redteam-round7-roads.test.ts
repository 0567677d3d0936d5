// Red team, round 7 (roads): ways past the agent that earlier rounds missed. A hostile app that knows
// the agent is there; the observers live in the test process (target files in a fresh directory
// under /tmp that must not appear). Each finding's test failed against the bundle before its fix
// (see the commit messages).
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appResults,
  cleanup,
  ensureAgentBuilt,
  node22Binary,
  packageDir,
  requireDependency,
  testNodeBinary,
} from './harness.js';
import {
  DENY_ALL,
  type FileAttack,
  runAttack,
  runFileAttack,
  targetDir,
  useForbiddenServer,
} from './redteam-support.js';

beforeAll(() => ensureAgentBuilt(), 120_000);

function attack(
  body: string,
  policy: Record<string, unknown> = DENY_ALL,
  nodeBinary?: string,
): Promise<FileAttack> {
  return runFileAttack(`${INSPECTOR_ESCAPE}\n${body}`, { policy, nodeBinary });
}

/**
 * What a debugger session gives the app: `Runtime.getProperties` lists a function's `[[Scopes]]`,
 * its closures, where every hook keeps the original it wraps, and `Runtime.callFunctionOn` hands any
 * of them back to JavaScript. `collectOriginals(post)` gathers the functions in the closures of the
 * fs binding's (hooked) `open` into `globalThis.__rt7fns`; `useOriginals()` opens TARGET for writing
 * with whichever of them is Node's own `open`, out of every hook. `post(method, params)` → result.
 */
const INSPECTOR_ESCAPE = `
const WebSocket = ${requireDependency('ws')};
async function collectOriginals(post) {
  globalThis.__rt7 = process.binding('fs').open;
  const { result } = await post('Runtime.evaluate', { expression: 'globalThis.__rt7' });
  const props = await post('Runtime.getProperties', { objectId: result.objectId });
  const scopes = (props.internalProperties || []).find((p) => p.name === '[[Scopes]]');
  const chain = await post('Runtime.getProperties', { objectId: scopes.value.objectId, ownProperties: true });
  for (const scope of chain.result) {
    const vars = await post('Runtime.getProperties', { objectId: scope.value.objectId, ownProperties: true });
    for (const v of vars.result)
      if (v.value && v.value.type === 'function')
        await post('Runtime.callFunctionOn', { objectId: v.value.objectId, functionDeclaration: 'function () { (globalThis.__rt7fns ||= []).push(this); }' });
  }
}
function useOriginals() {
  const binding = process.binding('fs');
  for (const fn of globalThis.__rt7fns || []) {
    if (fn.name !== 'open' || fn === binding.open) continue;
    const fd = fn.call(binding, TARGET, 0o1101, 0o644); // O_WRONLY | O_CREAT | O_TRUNC
    fs.writeSync(fd, 'escaped');
    fs.closeSync(fd);
    return 'escaped';
  }
  return 'no original';
}
const sessionPost = (session) => (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
/** A debugger client of this process's own inspector port, as any process that reaches it could be. */
async function viaWebSocket(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  let id = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id && pending.has(message.id)) pending.get(message.id)(message);
  });
  const post = (method, params) => new Promise((resolve, reject) => {
    const n = ++id;
    pending.set(n, (message) => (message.error ? reject(new Error(message.error.message)) : resolve(message.result)));
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  await collectOriginals(post);
  ws.close();
  return useOriginals();
}
/** The inspector's URL once it is listening (activation by signal happens on another thread). */
async function inspectorUrl() {
  for (let i = 0; i < 100; i++) {
    const url = require('node:inspector').url();
    if (url) return url;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}
async function escapeStep(name, fn) {
  try { report({ [name]: await fn() }); } catch (error) { report({ [name]: error.code || String(error.message || error) }); }
}
`;

// A debugger attached to this process (an in-process Session, or the inspector's WebSocket, opened
// by the app or by a signal) can read every closure in the heap, the agent's included: each hook's
// original, unwrapped. GOT THROUGH before the fix (Node 20 and 22): every one of these wrote TARGET
// under filesystem deny with Node's own `open`. Fix: a debugger attached to the process is code
// outside the agent's reach, judged as a process `load` of `node:inspector` (the inspector binding's
// connections and `open`, `process._debugProcess`, and SIGUSR1, the signal that opens the inspector).
const INSPECTOR_ATTACKS: Record<string, string> = {
  'an in-process inspector.Session': `
    await escapeStep('escape', async () => {
      const session = new (require('node:inspector').Session)();
      session.connect();
      await collectOriginals(sessionPost(session));
      return useOriginals();
    });`,
  "the inspector binding's Connection, raw": `
    await escapeStep('escape', async () => {
      const { Connection } = process.binding('inspector');
      const callbacks = new Map();
      let id = 0;
      const connection = new Connection((message) => {
        const parsed = JSON.parse(message);
        if (parsed.id && callbacks.has(parsed.id)) callbacks.get(parsed.id)(parsed);
      });
      const post = (method, params) => new Promise((resolve, reject) => {
        const n = ++id;
        callbacks.set(n, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
        connection.dispatch(JSON.stringify({ id: n, method, params }));
      });
      await collectOriginals(post);
      return useOriginals();
    });`,
  'a worker attached to the main thread (Session.connectToMainThread)': `
    await escapeStep('escape', async () => {
      const { Worker } = require('node:worker_threads');
      const worker = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        \${collectOriginals.toString()}
        const sessionPost = \${sessionPost.toString()};
        (async () => {
          const session = new (require('node:inspector').Session)();
          session.connectToMainThread();
          await collectOriginals(sessionPost(session));
          parentPort.postMessage('collected');
        })().catch((error) => parentPort.postMessage(error.code || String(error)));\`, { eval: true });
      const message = await new Promise((resolve) => { worker.on('message', resolve); worker.on('error', (e) => resolve(e.code || String(e))); });
      await worker.terminate();
      return message === 'collected' ? useOriginals() : message;
    });`,
  'inspector.open() and a WebSocket client of its own': `
    await escapeStep('escape', async () => {
      require('node:inspector').open(0, '127.0.0.1');
      return viaWebSocket(require('node:inspector').url());
    });`,
  'SIGUSR1 to itself (the signal that starts the inspector)': `
    await escapeStep('escape', async () => {
      process.debugPort = 0;
      process.kill(process.pid, 'SIGUSR1');
      const url = await inspectorUrl();
      return url ? viaWebSocket(url) : 'no inspector';
    });`,
  'process._debugProcess(process.pid)': `
    await escapeStep('escape', async () => {
      process.debugPort = 0;
      process._debugProcess(process.pid);
      const url = await inspectorUrl();
      return url ? viaWebSocket(url) : 'no inspector';
    });`,
};

describe('red team 7: a debugger attached to the process (filesystem and process deny)', () => {
  for (const [name, body] of Object.entries(INSPECTOR_ATTACKS)) {
    it(`blocks ${name}`, async () => {
      const { results, created, events, stderr } = await attack(body);
      const detail = JSON.stringify({ results, events, stderr: stderr.slice(0, 2000) });
      expect(created, detail).toEqual([]);
      expect(results, detail).toEqual([{ escape: 'ERR_ACCESS_DENIED' }]);
      expect(
        events.map((event) => [event.action, event.operation, event.target]),
        detail,
      ).toContainEqual(['deny', 'load', expect.stringMatching(/^node:inspector /)]);
    });
  }

  it('under process observe, a session is allowed and reported once', async () => {
    const { results, events } = await attack(INSPECTOR_ATTACKS['an in-process inspector.Session'] as string, {
      ...DENY_ALL,
      process: 'observe',
    });
    expect(results).toEqual([{ escape: 'escaped' }]);
    expect(
      events
        .filter((event) => event.category === 'process')
        .map((event) => [event.action, event.operation, event.target]),
    ).toEqual([['observe', 'load', 'node:inspector inspector.Session']]);
  });

  it("'node:inspector' among allowedCommands grants it (process deny)", async () => {
    const { results, events } = await attack(INSPECTOR_ATTACKS['an in-process inspector.Session'] as string, {
      ...DENY_ALL,
      allowedCommands: ['node:inspector'],
    });
    expect(results).toEqual([{ escape: 'escaped' }]);
    expect(events.filter((event) => event.category === 'process')).toEqual([]);
  });

  it('SIGUSR1 given as a number is judged the same', async () => {
    const { results, created } = await attack(`
      await escapeStep('escape', async () => {
        process.debugPort = 0;
        process.kill(process.pid, require('node:os').constants.signals.SIGUSR1);
        const url = await inspectorUrl();
        return url ? viaWebSocket(url) : 'no inspector';
      });`);
    expect(created).toEqual([]);
    expect(results).toEqual([{ escape: 'ERR_ACCESS_DENIED' }]);
  });
});

// A Node child started with --inspect (in its argv or its NODE_OPTIONS) has its inspector open
// before its agent starts: the child, or anything reaching the port, attaches and unwraps the
// child's hooks as above, so `node` among allowedCommands started an ungoverned child.
// GOT THROUGH before the fix: the child wrote TARGET under filesystem deny.
// Fix: such a spawn is judged as `node (without the agent)`, as --build-snapshot is (round 5).
describe('red team 7: a Node child with its inspector open (node among allowedCommands)', () => {
  const child = `const fs = require('node:fs');
const TARGET = process.env.RT_TARGET;
${INSPECTOR_ESCAPE}
viaWebSocket(require('node:inspector').url()).then((outcome) => console.log(outcome), (error) => console.log(String(error)));`;
  it.each([
    ['--inspect in argv', `[ '--inspect=127.0.0.1:0', '-e', CHILD ]`, '{}'],
    ['--inspect in NODE_OPTIONS', `[ '-e', CHILD ]`, `{ NODE_OPTIONS: '--inspect=127.0.0.1:0' }`],
  ])('blocks %s', async (_name, argv, env) => {
    const { results, created } = await attack(
      `
      const CHILD = ${JSON.stringify(child)};
      const run = require('node:child_process').spawnSync(process.execPath, ${argv}, {
        env: { ...process.env, ...${env} }, encoding: 'utf8', timeout: 20000,
      });
      report({ child: run.error ? run.error.code : run.stdout.trim() });`,
      { ...DENY_ALL, allowedCommands: ['node'] },
    );
    expect(created, JSON.stringify(results)).toEqual([]);
    expect(results).toEqual([{ child: 'ERR_ACCESS_DENIED' }]);
  });
});

// NODE_V8_COVERAGE: Node turns coverage on in a worker when the process's environment holds the
// variable as the worker starts, and its C++ code writes `coverage-<pid>-<time>-<thread>.json` (with
// the app's script URLs and function names) into the directory the worker's own environment names,
// when the worker exits or calls v8.takeCoverage(): out of every fs hook.
// GOT THROUGH before the fix (Node 20 and 22): the coverage file landed in DIR under filesystem deny.
// Fix: the Worker hook judges the directory of the environment the worker gets (a write there); a
// SHARE_ENV worker, whose environment the app can change after `new Worker`, judges it again before
// the app's first line and stops coverage the operator did not ask for under filesystem deny.
const coverageWorker = (setup: string, options: string) => `
  const { Worker, SHARE_ENV } = require('node:worker_threads');
  ${setup}
  await new Promise((resolve) => {
    let worker;
    try { worker = new Worker('require("node:v8").takeCoverage(); setTimeout(() => {}, 50)', { eval: true, ...${options} }); }
    catch (error) { report({ worker: error.code }); resolve(); return; }
    ${options.includes('SHARE_ENV') ? 'process.env.NODE_V8_COVERAGE = DIR;' : ''}
    worker.on('error', (error) => report({ workerError: error.code || String(error) }));
    worker.on('exit', (code) => { report({ exited: code }); resolve(); });
  });`;

const COVERAGE_ATTACKS: Record<string, string> = {
  'process.env.NODE_V8_COVERAGE, then a Worker with the default environment': coverageWorker(
    'process.env.NODE_V8_COVERAGE = DIR;',
    '{}',
  ),
  'a Worker whose env names the directory (the variable in process.env turns coverage on)': coverageWorker(
    "process.env.NODE_V8_COVERAGE = '/dev/shm';",
    '{ env: { ...process.env, NODE_V8_COVERAGE: DIR } }',
  ),
  'a SHARE_ENV Worker, the variable set right after new Worker': coverageWorker(
    'delete process.env.NODE_V8_COVERAGE;',
    '{ env: SHARE_ENV }',
  ),
};

describe('red team 7: NODE_V8_COVERAGE and workers (filesystem deny)', () => {
  for (const [name, body] of Object.entries(COVERAGE_ATTACKS)) {
    it(`blocks ${name}`, async () => {
      const { results, created, stderr } = await attack(body);
      const detail = JSON.stringify({ results, stderr: stderr.slice(0, 2000) });
      expect(created, detail).toEqual([]);
      if (name.includes('SHARE_ENV')) {
        // judged in the worker, before its code: it ends saying why
        expect(results, detail).toEqual([{ exited: 1 }]);
        expect(stderr, detail).toMatch(/ERR_ACCESS_DENIED|denied|not in allowedPaths/);
      } else expect(results, detail).toEqual([{ worker: 'ERR_ACCESS_DENIED' }]);
    });
  }

  it('under filesystem observe, the worker runs, writes its coverage and the write is reported', async () => {
    const { results, created, events } = await attack(
      COVERAGE_ATTACKS['process.env.NODE_V8_COVERAGE, then a Worker with the default environment'] as string,
      { ...DENY_ALL, filesystem: 'observe' },
    );
    expect(results).toEqual([{ exited: 0 }]);
    // one from v8.takeCoverage(), one at the worker's exit
    expect(created.length).toBeGreaterThan(0);
    for (const file of created) expect(file).toMatch(/^coverage-\d+-\d+-\d+\.json$/);
    expect(
      events
        .filter((event) => event.target.endsWith('/coverage.json'))
        .map((event) => [event.category, event.action, event.operation]),
    ).toEqual([['filesystem', 'observe', 'write']]);
  });
});

// The agent learns which addresses an allowed name resolves to from the system resolver's
// completions, and a completion counts only when it runs in the lookup request's own async context
// with nothing below it on the stack (round 5). Both are read from state Node keeps in typed arrays
// that `process.binding('async_wrap')` hands out writable: a promise reaction run from the
// checkpoint after an fs.watch callback (empty stack) wrote the request's id into
// `async_id_fields[kExecutionAsyncId]`, and the next one ran the request's wrapped `oncomplete`
// with 127.0.0.2 while the real lookup was still out (the thread pool kept busy).
// GOT THROUGH before the fix (Node 20 and 22): `localhost` (allowed) vouched for 127.0.0.2, the
// server accepted the connection under network deny, and under observe nothing was reported.
// Fix: the app's `process.binding('async_wrap')` is a copy without Node's async-context state and
// the functions that write it (Node keeps its own); the typed arrays are copies.
describe('red team 7: a forged async context makes a forged lookup completion count', () => {
  const server = useForbiddenServer();
  const FORGE = `
    const binding = process.binding('async_wrap');
    const fields = binding.async_id_fields;
    const K = binding.constants.kExecutionAsyncId;
    const cares = process.binding('cares_wrap');
    for (let i = 0; i < 16; i++) require('node:crypto').pbkdf2('x', 'y', 200000, 32, 'sha256', () => {});
    const request = new cares.GetAddrInfoReqWrap();
    request.oncomplete = () => {};
    cares.getaddrinfo(request, 'localhost', 4, 0, 0);
    const wrapped = request.oncomplete;
    const id = request.getAsyncId();
    const dir = fs.mkdtempSync('/dev/shm/rt7-');
    await new Promise((resolve) => {
      const watcher = fs.watch(dir, () => {
        setTimeout(() => { watcher.close(); resolve(); }, 20);
        let saved;
        Promise.resolve().then(() => { saved = fields[K]; fields[K] = id; });
        Promise.resolve().then(wrapped.bind(request, 0, [FORBIDDEN]));
        Promise.resolve().then(() => { fields[K] = saved; });
      });
      fs.writeFileSync(dir + '/x', 'x');
    });
    fs.rmSync(dir, { recursive: true, force: true });
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`;

  it('under network deny, the connection is refused', async () => {
    const { run, accepted } = await runAttack(server, FORGE);
    const detail = JSON.stringify({ out: run.appOutput, stderr: run.stderr.slice(0, 2000) });
    expect(accepted, detail).toBe(0);
    expect(appResults(run)[0], detail).toEqual({ error: 'ERR_ACCESS_DENIED' });
    cleanup(run);
  });

  it('under network observe, the connection is reported', async () => {
    const { run } = await runAttack(server, FORGE, { policy: { ...DENY_ALL, network: 'observe' } });
    const detail = JSON.stringify({ out: run.appOutput, events: run.events });
    expect(appResults(run)[0], detail).toEqual({ connected: true });
    expect(
      run.events.filter((event) => event.target === `127.0.0.2:${server.port}`).map((event) => event.action),
      detail,
    ).toEqual(['observe']);
    cleanup(run);
  });
});

// A Node child writes files natively where its flags and environment say, before (or beside) its
// agent: profiles at exit (--cpu-prof, --heap-prof), coverage (NODE_V8_COVERAGE), the compile cache
// (NODE_COMPILE_CACHE, Node 22), reports. Round 6 judged these for workers; a child process under
// process observe (or `node` among allowedCommands) still wrote them under filesystem deny.
// GOT THROUGH before the fix: the files landed in DIR.
// Fix: a spawn whose argv, NODE_OPTIONS or environment arms such a writer is judged as a write
// where the file would land (the child's cwd for relative places); refused, the spawn fails.
describe('red team 7: a Node child that writes natively (filesystem deny, node allowed)', () => {
  const CHILD_WRITERS: Array<[string, string, string]> = [
    ['--cpu-prof --cpu-prof-dir in argv', `['--cpu-prof', '--cpu-prof-dir=' + DIR, '-e', '1']`, '{}'],
    [
      '--heap-prof in NODE_OPTIONS, cwd in the target',
      `['-e', '1']`,
      `{ NODE_OPTIONS: '--heap-prof' }, cwd: DIR`,
    ],
    ['NODE_V8_COVERAGE in its environment', `['-e', '1']`, `{ NODE_V8_COVERAGE: DIR }`],
    [
      '--heap-prof-dir and --heap-prof in NODE_OPTIONS',
      `['-e', '1']`,
      `{ NODE_OPTIONS: '--heap-prof-dir=' + DIR + ' --heap-prof' }`,
    ],
  ];
  it.each(CHILD_WRITERS)('blocks %s', async (_name, argv, env) => {
    const [envObject, cwd] = env.split(', cwd: ');
    const { results, created } = await attack(
      `
      const run = require('node:child_process').spawnSync(process.execPath, ${argv}, {
        env: { ...process.env, ...${envObject} }, ${cwd ? `cwd: ${cwd},` : ''} encoding: 'utf8', timeout: 20000,
      });
      report({ child: run.error ? run.error.code : run.status });`,
      { ...DENY_ALL, allowedCommands: ['node'] },
    );
    expect(created, JSON.stringify(results)).toEqual([]);
    expect(results).toEqual([{ child: 'ERR_ACCESS_DENIED' }]);
  });

  // Node 22 only: on the Node 22 binary of testing/node22 whichever Node runs the suite
  const major = Number(
    execFileSync(testNodeBinary(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0],
  );
  const compileCacheNode = major >= 22 ? testNodeBinary() : node22Binary;
  it.skipIf(!existsSync(compileCacheNode))(
    'blocks NODE_COMPILE_CACHE in its environment (Node 22)',
    async () => {
      const { results, created } = await attack(
        `
      const run = require('node:child_process').spawnSync(process.execPath, ['-e', 'require(process.env.RT_MODULE)'], {
        env: { ...process.env, NODE_COMPILE_CACHE: DIR, RT_MODULE: ${JSON.stringify(join(packageDir, 'test', 'fixtures', 'net-helpers.cjs'))} },
        encoding: 'utf8', timeout: 20000,
      });
      report({ child: run.error ? run.error.code : run.status });`,
        { ...DENY_ALL, allowedCommands: ['node'] },
        compileCacheNode,
      );
      expect(created, JSON.stringify(results)).toEqual([]);
      expect(results).toEqual([{ child: 'ERR_ACCESS_DENIED' }]);
    },
  );

  it('the same child under filesystem observe runs, writes and is reported', async () => {
    const { results, created, events } = await attack(
      `
      const run = require('node:child_process').spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir=' + DIR, '-e', '1'], { encoding: 'utf8' });
      report({ child: run.error ? run.error.code : run.status });`,
      { ...DENY_ALL, filesystem: 'observe', allowedCommands: ['node'] },
    );
    expect(results).toEqual([{ child: 0 }]);
    expect(created).toEqual([expect.stringMatching(/\.cpuprofile$/)]);
    expect(
      events
        .filter((event) => event.category === 'filesystem')
        .map((event) => [event.action, event.operation]),
    ).toEqual([['observe', 'write']]);
  });
});

// While the agent does its own work (writing an event, resolving the allowed names), Node's
// internals read properties of plain objects that an app can define on Object.prototype; a hook is
// then passed only when every frame down to the agent's work is the agent's or Node's (integrity
// test). Frames were told by file name, and code compiled under the agent's file name (`vm`
// `filename`) passed for the agent's.
// GOT THROUGH before the fix (Node 20 and 22): such a getter wrote files under /tmp under
// filesystem deny. Fix: a frame naming the agent's file counts as the agent's only when V8's script
// hash is the bundle's.
describe("red team 7: code compiled under the agent's file name or a node: one", () => {
  const AGENT = JSON.stringify(join(packageDir, 'dist', 'agent.cjs'));
  const ROADS: Array<[string, string]> = [
    ['vm.runInThisContext, the agent’s file', `vm.runInThisContext(source, { filename: ${AGENT} })`],
    [
      'vm.runInThisContext, node:internal/fs/utils',
      `vm.runInThisContext(source, { filename: 'node:internal/fs/utils' })`,
    ],
    ['new vm.Script, node:fs', `new vm.Script(source, { filename: 'node:fs' }).runInThisContext()`],
    [
      'vm.compileFunction, node:dns',
      `vm.compileFunction('return ' + source, [], { filename: 'node:dns' })()`,
    ],
    [
      'Module#_compile, node:internal/dns/utils',
      `(() => { const m = new (require('node:module'))('node:internal/dns/utils'); m._compile('module.exports = ' + source, 'node:internal/dns/utils'); return m.exports; })()`,
    ],
  ];
  it.each(ROADS)('%s gets no exemption from the agent’s own work (filesystem deny)', async (_name, road) => {
    const { results, created } = await attack(`
      const vm = require('node:vm');
      const named = (source) => ${road};
      globalThis.__rt7tries = {};
      globalThis.__rt7write = named(\`(function (name) {
        const fs = process.mainModule.require('node:fs');
        try { fs.writeFileSync(process.env.RT_TARGET_DIR + '/inside-' + name, 'x'); return 'wrote'; }
        catch (error) { return error.code; }
      })\`);
      const names = ['hints', 'family', 'verbatim', 'order', 'errno', 'syscall'];
      for (const name of names)
        Object.defineProperty(Object.prototype, name, {
          configurable: true,
          get: named(\`(function () { globalThis.__rt7tries[\${JSON.stringify(name)}] = globalThis.__rt7write(\${JSON.stringify(name)}); })\`),
          set(value) { Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true }); },
        });
      await new Promise((resolve) => setTimeout(resolve, 100));
      // the agent's first resolution of the allowed names (its own work) starts with this connect
      await tryConnect({ host: FORBIDDEN, port: 1 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const name of names) delete Object.prototype[name];
      report(globalThis.__rt7tries);`);
    expect(created, JSON.stringify(results)).toEqual([]);
    const tries = results[0] as Record<string, string>;
    expect(Object.keys(tries).length, JSON.stringify(results)).toBeGreaterThan(0);
    for (const outcome of Object.values(tries)) expect(outcome).toBe('ERR_ACCESS_DENIED');
  });
});

describe('red team 7: held (regression)', () => {
  it("node:test's run() starts its test files in child processes: refused under process deny", async () => {
    // the test file writes DIR/ran when it runs; under deny it must never run
    const body = `
      const testFile = '/dev/shm/rt7-run-' + process.pid + '.test.js';
      fs.writeFileSync(testFile, "require('node:fs').writeFileSync(" + JSON.stringify(DIR + '/ran') + ", 'x');");
      const stream = require('node:test').run({ files: [testFile] });
      let failed = 0;
      stream.on('test:fail', () => failed++);
      await new Promise((resolve) => { stream.on('end', resolve); stream.on('close', resolve); stream.resume(); });
      fs.unlinkSync(testFile);
      report({ failed: failed > 0 });`;
    const denied = await attack(body, { ...DENY_ALL, filesystem: 'observe' });
    expect(denied.created).toEqual([]);
    expect(denied.results).toEqual([{ failed: true }]);
    expect(denied.events.some((event) => event.action === 'deny' && event.operation === 'spawn')).toBe(true);
    // control: under process observe the test file runs (and its start is reported)
    const observed = await attack(body, { ...DENY_ALL, filesystem: 'observe', process: 'observe' });
    expect(observed.created).toEqual(['ran']);
    expect(observed.events.some((event) => event.action === 'observe' && event.operation === 'spawn')).toBe(
      true,
    );
  });

  it('a sourceMappingURL naming a governed file is read through the fs binding (judged)', async () => {
    const mapDir = targetDir();
    const secret = join(mapDir.dir, 'map.json');
    writeFileSync(secret, JSON.stringify({ version: 3, secret: 'rt7', sources: [], mappings: '' }));
    const body = `
      const module = '/dev/shm/rt7-map-' + process.pid + '.js';
      fs.writeFileSync(module, 'module.exports = 1;\\n//# sourceMappingURL=' + ${JSON.stringify(secret)} + '\\n');
      process.setSourceMapsEnabled(true);
      require(module);
      const map = require('node:module').findSourceMap(module);
      report({ sourceMap: map ? map.payload.secret : 'none' });
      fs.unlinkSync(module);
      // Node reads NODE_REDIRECT_WARNINGS when it starts, not when a warning is emitted
      process.env.NODE_REDIRECT_WARNINGS = DIR + '/warnings.txt';
      process.emitWarning('rt7');
      await new Promise((resolve) => setTimeout(resolve, 50));`;
    try {
      const denied = await attack(body);
      expect(denied.created).toEqual([]);
      expect(denied.results).toEqual([{ sourceMap: 'none' }]);
      // control: under observe the map is read, and the read reported
      const observed = await attack(body, { ...DENY_ALL, filesystem: 'observe' });
      expect(observed.results).toEqual([{ sourceMap: 'rt7' }]);
      expect(observed.events.map((event) => [event.action, event.operation, event.target])).toContainEqual([
        'observe',
        'read',
        secret,
      ]);
    } finally {
      mapDir.remove();
    }
  });
});
