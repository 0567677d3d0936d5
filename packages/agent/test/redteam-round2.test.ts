// Red team, round 2: a hostile dependency that has read the agent's source attacks the places where
// what the agent judges and what the system call uses could differ: C strings that end at a NUL,
// byte paths the agent did not recognise, option objects of an unexpected type, duplicated
// environment entries, and built-in methods the agent still called on its decision path. The
// observers live in the test process (files that must not exist, a loopback server on 127.0.0.2
// that must see no connection); every attack got through before its fix (see the commit messages).
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentPath, appResults, cleanup, policy, runFixture } from './harness.js';
import { attackSource, DENY_ALL, targetDir, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

/** A scratch directory outside every governed directory (/dev/shm: not /tmp, not the app dir). */
function outsideDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync('/dev/shm/redteam2-outside-');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const PREFIX = `const path = require('node:path'); const DIR = process.env.RT_TARGET_DIR; const OUTSIDE = process.env.RT_OUTSIDE;
const NAME = path.basename(TARGET); const O_CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT;`;

interface Outcome {
  results: Record<string, unknown>[];
  created: string[];
  accepted: number;
}

/** Runs an attack with a fresh target directory under /tmp (with `secret.js` planted) and /dev/shm scratch. */
async function attack(body: string, group: Record<string, unknown> = DENY_ALL): Promise<Outcome> {
  const target = targetDir();
  const outside = outsideDir();
  writeFileSync(join(target.dir, 'secret.js'), 'module.exports = "s3cr3t";\n');
  try {
    const before = server.accepted();
    const run = await runFixture({
      policy: group,
      source: attackSource(`${PREFIX}\n${body}`),
      env: {
        RT_PORT: String(server.port),
        RT_TARGET: join(target.dir, 'written'),
        RT_TARGET_DIR: target.dir,
        RT_OUTSIDE: outside.dir,
        RT_NODE: process.execPath,
        RT_AGENT: agentPath,
      },
      timeoutMs: 20_000,
    });
    const results = appResults(run);
    cleanup(run);
    return {
      results,
      created: readdirSync(target.dir).filter((name) => name !== 'secret.js'),
      accepted: server.accepted() - before,
    };
  } finally {
    target.remove();
    outside.remove();
  }
}

// Node's public fs API refuses a NUL and takes Buffers; the fs binding (process.binding('fs'), a copy
// of the patched binding) takes any string or ArrayBufferView and hands libc a C string.
const BYTE_AND_NUL_PATHS: Record<string, string> = {
  "raw binding open('<target>\\0anything'): libc stops at the NUL": `
    report(attempt(() => process.binding('fs').open(TARGET + '\\0.ignored', O_CREATE, 0o666)));`,
  'raw binding open(Buffer with a NUL)': `
    report(attempt(() => process.binding('fs').open(Buffer.from(TARGET + '\\0.ignored'), O_CREATE, 0o666)));`,
  'raw binding open(Uint16Array): any typed array is a path to the binding': `
    const bytes = Buffer.from(TARGET + (TARGET.length % 2 ? '\\0' : '\\0\\0'));
    report(attempt(() => process.binding('fs').open(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2), O_CREATE, 0o666)));`,
  'raw binding open(DataView)': `
    report(attempt(() => process.binding('fs').open(new DataView(new Uint8Array(Buffer.from(TARGET)).buffer), O_CREATE, 0o666)));`,
  'Uint8Array[Symbol.hasInstance] answering false, then fs.writeFileSync(Buffer)': `
    Object.defineProperty(Uint8Array, Symbol.hasInstance, { value: () => false, configurable: true });
    report(attempt(() => fs.writeFileSync(Buffer.from(TARGET), 'x')));`,
  'symlink() with a Buffer link path outside the governed directories, then a write through it': `
    const link = OUTSIDE + '/link';
    const made = attempt(() => fs.symlinkSync(TARGET, Buffer.from(link)));
    attempt(() => fs.writeFileSync(link, 'x'));
    report(made);`,
  'symlink() with a relative link path after chdir outside, then a write through it': `
    process.chdir(OUTSIDE);
    const made = attempt(() => fs.symlinkSync(TARGET, 'link'));
    attempt(() => fs.writeFileSync(OUTSIDE + '/link', 'x'));
    report(made);`,
  'symlink() whose relative target String.prototype.charCodeAt makes look absolute': `
    fs.mkdirSync(OUTSIDE + '/a/b/c/d/e/f/g', { recursive: true });
    process.chdir(OUTSIDE + '/a/b/c/d/e/f/g');
    // from the link's directory this reaches the target; from the working directory, a place under OUTSIDE
    const relative = '../'.repeat(OUTSIDE.split('/').length - 1) + TARGET.slice(1);
    const charCodeAt = String.prototype.charCodeAt;
    String.prototype.charCodeAt = function (index) { return String(this) === relative && index === 0 ? 0x2f : charCodeAt.call(this, index); };
    const made = attempt(() => fs.symlinkSync(relative, OUTSIDE + '/link'));
    String.prototype.charCodeAt = charCodeAt;
    attempt(() => fs.writeFileSync(OUTSIDE + '/link', 'x'));
    report(made);`,
  'String.prototype.slice answering another parent directory for a new file': `
    const slice = String.prototype.slice;
    String.prototype.slice = function (...args) { const value = slice.apply(this, args); return value === DIR ? OUTSIDE : value; };
    const outcome = attempt(() => fs.writeFileSync(TARGET, 'x'));
    String.prototype.slice = slice;
    report(outcome);`,
};

const READS: Record<string, string> = {
  "raw binding readdir('<dir>\\0')": `
    report(attempt(() => process.binding('fs').readdir(DIR + '\\0', 'utf8', false)));`,
  'String.prototype.startsWith answering yes for the ES module loader prefix: readdirSync': `
    const startsWith = String.prototype.startsWith;
    String.prototype.startsWith = function (prefix, ...rest) { return prefix === 'node:internal/modules/esm/' || startsWith.call(this, prefix, ...rest); };
    const outcome = attempt(() => fs.readdirSync(DIR));
    String.prototype.startsWith = startsWith;
    report(outcome);`,
  'String.prototype.startsWith answering yes for the ES module loader prefix: readFileSync of a .js file': `
    const startsWith = String.prototype.startsWith;
    String.prototype.startsWith = function (prefix, ...rest) { return prefix === 'node:internal/modules/esm/' || startsWith.call(this, prefix, ...rest); };
    const outcome = attempt(() => fs.readFileSync(DIR + '/secret.js', 'utf8'));
    String.prototype.startsWith = startsWith;
    report(outcome);`,
};

describe('red team 2: writes that reached libc as another path than the one judged (filesystem deny)', () => {
  for (const [name, body] of Object.entries(BYTE_AND_NUL_PATHS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body);
      expect(created, JSON.stringify(results)).toEqual([]);
      expect(results[0], JSON.stringify(results)).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});

describe('red team 2: reads of a governed directory (filesystem deny)', () => {
  for (const [name, body] of Object.entries(READS)) {
    it(`blocks ${name}`, async () => {
      const { results } = await attack(body);
      expect(JSON.stringify(results)).not.toContain('secret');
      expect(results[0]).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});

describe('red team 2: a relative path and the working directory at the system call (filesystem deny)', () => {
  it('blocks async opens made while the main thread switches the working directory between them and the call', async () => {
    const { results, created } = await attack(`
      // keep libuv's threadpool busy, so the opens queued below run after the last chdir
      const crypto = require('node:crypto');
      const busy = [];
      for (let i = 0; i < 4; i++) busy.push(new Promise((resolve) => crypto.pbkdf2('x', 'y', 100000, 32, 'sha256', resolve)));
      const pending = [];
      for (let i = 0; i < 100; i++) {
        process.chdir(OUTSIDE);
        pending.push(new Promise((resolve) => fs.open('cb' + i, 'w', (error, fd) => { if (!error) fs.closeSync(fd); resolve(error ? error.code : 'ok'); })));
        process.chdir(DIR);
      }
      for (let i = 0; i < 100; i++) {
        process.chdir(OUTSIDE);
        pending.push(fs.promises.open('pr' + i, 'w').then((handle) => handle.close().then(() => 'ok'), (error) => error.code));
        process.chdir(DIR);
      }
      const outcomes = await Promise.all(pending);
      await Promise.all(busy);
      report({ ok: outcomes.filter((o) => o === 'ok').length, outside: fs.readdirSync(OUTSIDE).length });`);
    expect(created, JSON.stringify(results)).toEqual([]);
    // judged under OUTSIDE, so allowed, and made there: the attack ran, and landed where it was judged
    expect(results[0]).toEqual({ ok: 200, outside: 200 });
  });

  it("blocks a worker's relative writes while the main thread switches the working directory", async () => {
    const { results, created } = await attack(`
      const { Worker } = require('node:worker_threads');
      process.chdir(OUTSIDE);
      const worker = new Worker(
        "const fs = require('fs'); const end = Date.now() + 400; let i = 0; while (Date.now() < end) { try { fs.writeFileSync('w' + (i++ % 50), 'x'); } catch {} } require('worker_threads').parentPort.postMessage(i);",
        { eval: true },
      );
      const attempts = new Promise((resolve) => worker.on('message', resolve));
      const end = Date.now() + 400;
      while (Date.now() < end) { process.chdir(DIR); process.chdir(OUTSIDE); }
      report({ attempted: (await attempts) > 0 });`);
    expect(created, JSON.stringify(results)).toEqual([]);
    expect(results[0]).toEqual({ attempted: true });
  });

  it('gives relative paths back as written: results of mkdtemp/mkdir and error paths and messages (observe, same as bare node)', async () => {
    const source = `
      const fs = require('node:fs');
      const out = [];
      const settle = (p) => p.then((v) => v, (e) => e);
      (async () => {
        out.push(fs.mkdirSync('m1/m2', { recursive: true }));
        out.push(fs.mkdtempSync('t-').slice(0, 2));
        out.push((await fs.promises.mkdtemp('p-')).slice(0, 2));
        out.push(await new Promise((resolve) => fs.mkdtemp('c-', (error, made) => resolve(made.slice(0, 2)))));
        try { fs.openSync('missing/x'); } catch (error) { out.push([error.message, error.path]); }
        try { fs.renameSync('missing/a', 'b'); } catch (error) { out.push([error.message, error.path, error.dest]); }
        const failed = await settle(fs.promises.open('missing/z'));
        out.push([failed.message, failed.path]);
        out.push(await new Promise((resolve) => fs.open('missing/y', (error) => resolve([error.message, error.path]))));
        fs.writeFileSync('rel.txt', 'hello');
        out.push(fs.readFileSync('rel.txt', 'utf8'), fs.existsSync('rel.txt'), fs.realpathSync('rel.txt') === process.cwd() + '/rel.txt');
        console.log(JSON.stringify({ result: out }));
      })();`;
    const outcomes: unknown[] = [];
    for (const agent of [false, true]) {
      const scratch = outsideDir();
      const app = outsideDir();
      try {
        const run = await runFixture({
          source,
          agent,
          cwd: scratch.dir,
          policy: policy({ name: 'redteam2-observe', filesystem: 'observe' }),
          env: { LAMBDA_TASK_ROOT: app.dir },
        });
        outcomes.push(appResults(run)[0]);
        cleanup(run);
      } finally {
        scratch.remove();
        app.remove();
      }
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect(JSON.stringify(outcomes[0])).toContain("open 'missing/x'");
  });
});

describe('red team 2: UDP sends after connect() + disconnect()', () => {
  const SEND_AFTER_DISCONNECT = `
    const dgram = require('node:dgram');
    const receiver = dgram.createSocket('udp4');
    let received = 0;
    receiver.on('message', () => received++);
    await new Promise((resolve) => receiver.bind(0, FORBIDDEN, resolve));
    const socket = dgram.createSocket('udp4');
    await new Promise((resolve) => socket.connect(9, '127.0.0.1', resolve));
    socket.disconnect();
    const error = await new Promise((resolve) => socket.send('x', receiver.address().port, FORBIDDEN, resolve));
    await settle(100);
    socket.close();
    receiver.close();
    report({ error: error ? error.code : null, received });`;

  it('are judged again under deny: ERR_ACCESS_DENIED, nothing received', async () => {
    const run = await runFixture({ policy: DENY_ALL, source: attackSource(SEND_AFTER_DISCONNECT) });
    expect(appResults(run)).toEqual([{ error: 'ERR_ACCESS_DENIED', received: 0 }]);
    cleanup(run);
  });

  it('are reported under observe (the connect intent no longer covers them)', async () => {
    const run = await runFixture({
      policy: policy({ name: 'redteam2-net-observe', network: 'observe' }),
      source: attackSource(SEND_AFTER_DISCONNECT),
    });
    expect(appResults(run)).toEqual([{ error: null, received: 1 }]);
    const sends = run.events.filter((event) => event.operation === 'send');
    expect(sends.map((event) => event.target)).toEqual([expect.stringMatching(/^127\.0\.0\.2:\d+$/)]);
    cleanup(run);
  });
});

const SH_TOUCH = `['/bin/sh', '-c', 'echo > "$0"', TARGET]`;
const SPAWNS: Record<string, string> = {
  "raw spawn_sync with a function as options (V8's IsObject is true for functions)": `
    const options = function () {};
    Object.assign(options, { file: '/bin/sh', args: ${SH_TOUCH}, envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] });
    report(attempt(() => process.binding('spawn_sync').spawn(options).status));`,
  'raw process_wrap with a function as options': `
    const { Process } = process.binding('process_wrap');
    const child = new Process();
    const exited = new Promise((resolve) => { child.onexit = resolve; setTimeout(resolve, 1000).unref(); });
    const options = function () {};
    Object.assign(options, { file: '/bin/sh', args: ${SH_TOUCH}, envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] });
    const status = child.spawn(options);
    if (status === 0) await exited;
    report(status === 0 ? { spawned: true } : { error: 'ERR_ACCESS_DENIED', status });`,
  "raw spawn_sync of '/bin/sh\\0/../../usr/bin/git' (normalises to the allowed /usr/bin/git)": `
    const file = '/bin/sh\\0/../../usr/bin/git';
    report(attempt(() => process.binding('spawn_sync').spawn({ file, args: [file, '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] }).status));`,
  "raw spawn_sync of '/bin/sh\\0/convert' (basename of the allowed convert)": `
    const file = '/bin/sh\\0/convert';
    report(attempt(() => process.binding('spawn_sync').spawn({ file, args: ['sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] }).status));`,
  "process.dlopen('<addon>\\0/convert')": `
    const outcome = attempt(() => process.dlopen({ exports: {} }, OUTSIDE + '/evil.node\\0/convert'));
    // a granted load reaches dlopen, which fails on the missing file with ERR_DLOPEN_FAILED
    report(outcome);`,
};

describe('red team 2: starting programs under process deny (allowedCommands /usr/bin/git, convert)', () => {
  for (const [name, body] of Object.entries(SPAWNS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body, {
        ...DENY_ALL,
        allowedCommands: ['/usr/bin/git', 'convert'],
      });
      expect(created, JSON.stringify(results)).toEqual([]);
      expect(results[0], JSON.stringify(results)).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});

/** Node children and workers may start (observed), network is denied: each must carry the agent. */
const CHILDREN_OBSERVED = policy({
  name: 'redteam2-children',
  network: 'deny',
  filesystem: 'observe',
  process: 'observe',
  allowedDomains: ['localhost'],
});
const CONNECT = `"const s = require('net').connect({ host: '127.0.0.2', port: " + PORT + " }); const say = (m) => { try { require('worker_threads').parentPort.postMessage(m); } catch {} console.log('CHILD ' + m); }; s.on('connect', () => { say('connected'); s.destroy(); }); s.on('error', (e) => say(e.code));"`;
const workerOutcome = `(worker) => new Promise((resolve) => {
  worker.on('message', (m) => resolve({ child: m }));
  worker.on('error', (e) => resolve({ error: e.code || String(e) }));
  worker.on('exit', () => resolve({ exited: true }));
})`;
const CHILDREN: Record<string, string> = {
  "raw spawn_sync with envPairs ['NODE_OPTIONS=', 'NODE_OPTIONS=...'] (getenv answers the first)": `
    const run = process.binding('spawn_sync').spawn({
      file: process.env.RT_NODE, args: [process.env.RT_NODE, '-e', ${CONNECT}],
      envPairs: ['NODE_OPTIONS=', 'NODE_OPTIONS=--title=x', 'PATH=' + process.env.PATH],
      stdio: [{ type: 'ignore' }, { type: 'pipe', readable: true, writable: true }, { type: 'ignore' }],
    });
    const out = String(run.output && run.output[1]);
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')).map((l) => l.slice(6)).join() });`,
  'a Worker whose options are a function with env: {} and execArgv: []': `
    const { Worker } = require('node:worker_threads');
    const options = function () {};
    Object.assign(options, { eval: true, env: {}, execArgv: [] });
    let worker;
    try { worker = new Worker(${CONNECT}, options); } catch (error) { report({ error: error.code }); return; }
    report(await (${workerOutcome})(worker));`,
  'a Worker with options true and Boolean.prototype.eval/env/execArgv': `
    const { Worker } = require('node:worker_threads');
    process.env.NODE_OPTIONS = '';
    const file = OUTSIDE + '/worker.cjs';
    fs.writeFileSync(file, ${CONNECT});
    Object.assign(Boolean.prototype, { env: {}, execArgv: [] });
    let worker;
    try { worker = new Worker(file, true); } catch (error) { report({ error: error.code || String(error) }); return; }
    report(await (${workerOutcome})(worker));`,
};

describe('red team 2: Node children and workers keep the agent (process observe, network deny)', () => {
  for (const [name, body] of Object.entries(CHILDREN)) {
    it(`${name}: the child is still denied`, async () => {
      const { results, accepted } = await attack(body, CHILDREN_OBSERVED);
      expect(accepted, JSON.stringify(results)).toBe(0);
      expect(results[0]).toEqual({ child: 'ERR_ACCESS_DENIED' });
    });
  }

  it('a Worker whose options are a function with execArgv [--expose-internals] is judged (process deny)', async () => {
    const { results } = await attack(
      `
      const { Worker } = require('node:worker_threads');
      const options = function () {};
      Object.assign(options, { eval: true, execArgv: ['--expose-internals'] });
      let worker;
      try { worker = new Worker("require('worker_threads').parentPort.postMessage(typeof require('internal/test/binding').internalBinding)", options); }
      catch (error) { report({ error: error.code || String(error) }); return; }
      report(await (${workerOutcome})(worker));`,
      DENY_ALL,
    );
    expect(results[0]).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });
});

describe('red team 2: controls (the same attacks where the policy allows them)', () => {
  it('a raw binding open of a NUL-suffixed path creates the file under filesystem grant', async () => {
    const { results, created } = await attack(
      `report(attempt(() => typeof process.binding('fs').open(TARGET + '\\0.ignored', O_CREATE, 0o666)));`,
      policy({ name: 'redteam2-grant', filesystem: 'grant' }),
    );
    expect(results[0]).toEqual({ ok: 'number' });
    expect(created).toEqual(['written']);
  });

  it('an observed worker with function options still starts and runs', async () => {
    const { results } = await attack(
      `
      const { Worker } = require('node:worker_threads');
      const options = function () {};
      Object.assign(options, { eval: true, env: {}, execArgv: [], workerData: 41 });
      const worker = new Worker("const { parentPort, workerData } = require('worker_threads'); parentPort.postMessage(workerData + 1)", options);
      report(await (${workerOutcome})(worker));`,
      CHILDREN_OBSERVED,
    );
    expect(results[0]).toEqual({ child: 42 });
  });

  it('spawnSync of a real command with duplicated NODE_OPTIONS keeps one, with the agent first', async () => {
    const { results } = await attack(
      `
      const run = process.binding('spawn_sync').spawn({
        file: '/bin/sh', args: ['/bin/sh', '-c', 'env | grep -c ^NODE_OPTIONS=; printenv NODE_OPTIONS'],
        envPairs: ['NODE_OPTIONS=--max-old-space-size=64', 'NODE_OPTIONS=--title=x', 'PATH=' + process.env.PATH],
        stdio: [{ type: 'ignore' }, { type: 'pipe', readable: true, writable: true }, { type: 'ignore' }],
      });
      report({ out: String(run.output && run.output[1]).trim().split('\\n') });`,
      CHILDREN_OBSERVED,
    );
    const [count, value] = (results[0]?.out as string[]) ?? [];
    expect(count).toBe('1');
    expect(value).toMatch(/^--require \S*agent\.cjs --max-old-space-size=64$/);
  });
});
