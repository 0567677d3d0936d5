// Red team, round 7 (V8 flags and tracing): files Node and V8 write natively, outside the fs binding,
// under `filesystem: deny`, that round 6 did not see: V8 flags turned on at run time
// (`v8.setFlagsFromString`, the `v8` binding's own), `setHeapSnapshotNearHeapLimit` through the
// binding, and Node's tracing agent (`trace_events`). A hostile app asks for a file in a fresh
// directory under /tmp (governed); the test process checks that nothing appeared there. Writers the
// agent let the app arm from an ungoverned working directory must not follow a later `chdir` into a
// governed one. Each finding's test failed against the bundle before its fix (see the commit messages).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentBuilt, node22Binary, testNodeBinary } from './harness.js';
import { DENY_ALL, type FileAttack, runFileAttack } from './redteam-support.js';

beforeAll(() => ensureAgentBuilt(), 120_000);

// the Node the fixtures run on (APPDEFENDER_TEST_NODE), not the one running vitest
const NODE_MAJOR = Number(
  execFileSync(testNodeBinary(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0],
);
const OBSERVE = { ...DENY_ALL, filesystem: 'observe' };

/**
 * Runs `body` with DIR (a fresh governed directory that must stay empty under deny) and SHM (a fresh
 * ungoverned directory under /dev/shm, where the app may write), `optimize(source)` (TurboFan
 * compiles a function with that body now) and `v8`.
 */
async function attack(
  body: string,
  options: { policy?: Record<string, unknown>; nodeBinary?: string; nodeArgs?: string[] } = {},
): Promise<FileAttack> {
  const shm = mkdtempSync('/dev/shm/rt7-');
  try {
    return await runFileAttack(
      `const SHM = process.env.RT_SHM;
        const v8 = require('node:v8');
        const optimize = (source) => {
          const f = new Function('x', source);
          new Function('f', '%PrepareFunctionForOptimization(f); f(1); f(2); %OptimizeFunctionOnNextCall(f); f(3);')(f);
        };
        ${body}`,
      {
        nodeBinary: options.nodeBinary,
        policy: options.policy,
        // natives syntax from the command line: optimize() must not depend on a flag the hook judges
        nodeArgs: ['--allow-natives-syntax', ...(options.nodeArgs ?? [])],
        env: { RT_SHM: shm },
      },
    );
  } finally {
    rmSync(shm, { recursive: true, force: true });
  }
}

const hog = `{ const hog = []; for (;;) hog.push(new Array(1e5).fill(Math.random())); }`;

/** A worker with a small heap that asks (through `arm`, its source) for a snapshot near its limit, then fills its heap. */
const nearLimitWorker = (arm: string, beforeHog = '') => `
  const { Worker } = require('node:worker_threads');
  await new Promise((resolve) => {
    const worker = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      let refused = null;
      try { ${arm} } catch (error) { refused = error.code || String(error); }
      parentPort.postMessage({ armed: refused === null, refused });
      if (refused === null) parentPort.once('message', () => ${hog});\`,
      { eval: true, resourceLimits: { maxOldGenerationSizeMb: 20 } });
    worker.on('message', (message) => {
      report(message);
      if (message.armed) { ${beforeHog}; worker.postMessage('go'); }
    });
    worker.on('error', (error) => report({ workerError: error.code }));
    worker.on('exit', resolve);
  });
  process.chdir('/');`;

const tracePerf = `
  const { performance } = require('node:perf_hooks');
  for (let i = 0; i < 20; i++) performance.mark('forged-' + i);
  await new Promise((resolve) => setTimeout(resolve, 300));`;

// Each body writes (or would write) into DIR; `created` must stay empty.
const FINDINGS: Record<string, string> = {
  // TurboFan writes turbo-*.json (the function's source inside) into --trace-turbo-path
  'v8.setFlagsFromString --trace-turbo-path=DIR (--trace-turbo from an ungoverned cwd)': `
    process.chdir(SHM);
    report({ on: attempt(() => v8.setFlagsFromString('--trace-turbo')) });
    report({ path: attempt(() => v8.setFlagsFromString('--trace-turbo-path=' + DIR)) });
    optimize('return x * 2 + 1');
    process.chdir('/');`,
  // code traces (a function's source among them) into any file: the agent's spool, say
  'v8.setFlagsFromString --redirect-code-traces-to=DIR/events.ndjson --print-opt-source': `
    process.chdir(SHM);
    report(attempt(() => v8.setFlagsFromString('--redirect-code-traces --redirect-code-traces-to=' + DIR + '/events.ndjson --print-opt-source')));
    optimize('return x * 3 + 1');
    process.chdir('/');`,
  'underscores, single dashes, a value after a space, whitespace of every kind': `
    process.chdir(SHM);
    report(attempt(() => v8.setFlagsFromString(' \\t-redirect_code_traces\\n\\v-redirect_code_traces_to \\f' + DIR + '/a.asm\\r--print_opt_source')));
    optimize('return x * 4 + 1');
    process.chdir('/');`,
  // a boolean flag leaves the next word alone: the files still go into the cwd
  'v8.setFlagsFromString "--trace-turbo SHM" from the target directory': `
    process.chdir(DIR);
    report(attempt(() => v8.setFlagsFromString('--trace-turbo ' + SHM)));
    optimize('return x * 15 + 1');
    process.chdir('/');`,
  'v8.setFlagsFromString --trace-turbo-cfg-file=DIR/c.cfg': `
    process.chdir(SHM);
    report(attempt(() => v8.setFlagsFromString('--trace-turbo --trace-turbo-cfg-file=' + DIR + '/c.cfg')));
    optimize('return x * 5 + 1');
    process.chdir('/');`,
  'v8.setFlagsFromString --trace-turbo from the target directory (files into the cwd)': `
    process.chdir(DIR);
    report(attempt(() => v8.setFlagsFromString('--trace-turbo')));
    optimize('return x * 6 + 1');
    process.chdir('/');`,
  'v8.setFlagsFromString --redirect-code-traces from the target directory': `
    process.chdir(DIR);
    report(attempt(() => v8.setFlagsFromString('--redirect-code-traces --print-opt-source')));
    optimize('return x * 7 + 1');
    process.chdir('/');`,
  // the module captured its own reference to the binding's function at load
  "process.binding('v8').setFlagsFromString --redirect-code-traces-to=DIR/b.asm": `
    process.chdir(SHM);
    report(attempt(() => process.binding('v8').setFlagsFromString('--redirect-code-traces --redirect-code-traces-to=' + DIR + '/b.asm --print-opt-source')));
    optimize('return x * 8 + 1');
    process.chdir('/');`,
  // the ESM namespace of node:v8 (built from the module's exports) and a worker: V8 flags are process-wide
  "import('node:v8') namespace: --redirect-code-traces-to=DIR/e.asm": `
    process.chdir(SHM);
    const { setFlagsFromString } = await import('node:v8');
    report(attempt(() => setFlagsFromString('--redirect-code-traces --redirect-code-traces-to=' + DIR + '/e.asm --print-opt-source')));
    optimize('return x * 13 + 1');
    process.chdir('/');`,
  'v8.setFlagsFromString in a worker, the main thread compiling': `
    process.chdir(SHM);
    const { Worker } = require('node:worker_threads');
    await new Promise((resolve) => {
      const worker = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        try { require('node:v8').setFlagsFromString('--redirect-code-traces --redirect-code-traces-to=\${DIR}/w.asm --print-opt-source'); parentPort.postMessage('set'); }
        catch (error) { parentPort.postMessage(error.code); }\`, { eval: true });
      worker.on('message', (message) => report({ worker: message }));
      worker.on('exit', resolve);
    });
    optimize('return x * 14 + 1');
    process.chdir('/');`,
  // the flag is already on when the cwd changes: V8 opens turbo-<pid>-0.cfg at the first compile
  'v8.setFlagsFromString --trace-turbo in an ungoverned cwd, then chdir into the target': `
    process.chdir(SHM);
    report({ on: attempt(() => v8.setFlagsFromString('--trace-turbo')) });
    report({ chdir: attempt(() => process.chdir(DIR)) });
    optimize('return x * 9 + 1');
    process.chdir('/');`,
  // round 6 judged the module's function, not the binding's
  "process.binding('v8').setHeapSnapshotNearHeapLimit in a worker with a small heap, from the target directory": `
    process.chdir(DIR);
    ${nearLimitWorker("process.binding('v8').setHeapSnapshotNearHeapLimit(1);")}`,
  'v8.setHeapSnapshotNearHeapLimit in a worker armed in an ungoverned cwd, then chdir into the target': `
    process.chdir(SHM);
    ${nearLimitWorker("require('node:v8').setHeapSnapshotNearHeapLimit(1);", 'report({ chdir: attempt(() => process.chdir(DIR)) })')}`,
  // Node's tracing agent opens node_trace.<n>.log in the cwd at the first event
  "trace_events.createTracing({ categories: ['node.perf'] }).enable() from the target directory": `
    process.chdir(DIR);
    const tracing = require('node:trace_events').createTracing({ categories: ['node.perf'] });
    report(attempt(() => tracing.enable()));
    ${tracePerf}
    tracing.disable();
    process.chdir('/');`,
  // the first file is opened at enable (metadata events), the next ones every 2^19 events: in the cwd then
  'trace_events enabled in an ungoverned cwd, then chdir into the target before the file rotates': `
    process.chdir(SHM);
    const tracing = require('node:trace_events').createTracing({ categories: ['node.async_hooks'] });
    report(attempt(() => tracing.enable()));
    report({ chdir: attempt(() => process.chdir(DIR)) });
    for (let i = 0; i < 200000; i++) await null;
    await new Promise((resolve) => setTimeout(resolve, 300));
    tracing.disable();
    process.chdir('/');`,
  // Node 20 keeps the native handle under a symbol (Node 22: a private field)
  'the Tracing object’s native handle (Node 20), from the target directory': `
    process.chdir(DIR);
    const tracing = require('node:trace_events').createTracing({ categories: ['x'] });
    const handle = Object.getOwnPropertySymbols(tracing).map((key) => tracing[key]).find((value) => value && typeof value.enable === 'function');
    if (handle) report(attempt(() => new handle.constructor(['node.perf']).enable()));
    else report({ noHandle: true });
    ${tracePerf}
    process.chdir('/');`,
  // round 6's judgements of cwd-relative reports and worker profiles asked the app's process.cwd
  'process.cwd replaced: process.report.writeReport() from the target directory': `
    process.chdir(DIR);
    process.cwd = () => SHM;
    report(attempt(() => process.report.writeReport()));
    process.chdir('/');`,
  'process.cwd replaced: a worker with --cpu-prof from the target directory': `
    process.chdir(DIR);
    process.cwd = () => SHM;
    const { Worker } = require('node:worker_threads');
    await new Promise((resolve) => {
      try { new Worker('1', { eval: true, execArgv: ['--cpu-prof'] }).on('exit', resolve); }
      catch (error) { report({ error: error.code }); resolve(); }
    });
    process.chdir('/');`,
  // a relative --cpu-prof-dir is resolved when the worker exits, against the cwd of that moment
  // (without one Node takes the cwd at the worker's start)
  'a worker with a relative --cpu-prof-dir started in an ungoverned cwd, then chdir into the target': `
    process.chdir(SHM);
    const { Worker } = require('node:worker_threads');
    await new Promise((resolve) => {
      const worker = new Worker('require("node:worker_threads").parentPort.once("message", () => process.exit(0))', { eval: true, execArgv: ['--cpu-prof', '--cpu-prof-dir=.'] });
      worker.on('online', () => {
        report({ chdir: attempt(() => process.chdir(DIR)) });
        worker.postMessage('exit');
      });
      worker.on('exit', resolve);
    });
    process.chdir('/');`,
  // the load watch (builtin-loads.ts) taken out before trace_events is loaded
  'trace_events loaded with the builtin load watch taken out': `
    Object.setPrototypeOf(process.moduleLoadList, Array.prototype);
    process.chdir(DIR);
    const tracing = require('node:trace_events').createTracing({ categories: ['node.perf'] });
    report(attempt(() => tracing.enable()));
    ${tracePerf}
    tracing.disable();
    process.chdir('/');`,
};

describe('red team 7: V8 flags, near-heap-limit snapshots and tracing (filesystem deny)', () => {
  for (const [name, body] of Object.entries(FINDINGS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body);
      expect(created, JSON.stringify(results)).toEqual([]);
    });
  }

  it("blocks process.binding('v8').setHeapSnapshotNearHeapLimit in the main thread", async () => {
    const { results, created } = await attack(
      `process.chdir(DIR);
      report(attempt(() => process.binding('v8').setHeapSnapshotNearHeapLimit(1)));
      ${hog}`,
      { nodeArgs: ['--max-old-space-size=24'] },
    );
    expect(created, JSON.stringify(results)).toEqual([]);
  });

  it('blocks v8.setHeapSnapshotNearHeapLimit in the main thread armed in an ungoverned cwd, then chdir', async () => {
    const { results, created } = await attack(
      `process.chdir(SHM);
      report(attempt(() => v8.setHeapSnapshotNearHeapLimit(1)));
      report({ chdir: attempt(() => process.chdir(DIR)) });
      ${hog}`,
      { nodeArgs: ['--max-old-space-size=24'] },
    );
    expect(created, JSON.stringify(results)).toEqual([]);
  });

  // Node 22's V8 takes a directory for the perf map (Node 20's has no such flag), which a new isolate follows
  const node22 = NODE_MAJOR >= 22 ? testNodeBinary() : node22Binary;
  it.skipIf(!existsSync(node22))(
    'blocks --perf-basic-prof-path=DIR --perf-basic-prof (Node 22)',
    async () => {
      const { results, created } = await attack(
        `report(attempt(() => v8.setFlagsFromString('--perf-basic-prof-path=' + DIR + ' --perf-basic-prof')));
      // taken up by the next isolate V8 sets up: a worker's
      await new Promise((resolve) => new (require('node:worker_threads').Worker)('1', { eval: true }).on('exit', resolve));`,
        { nodeBinary: node22 },
      );
      expect(created, JSON.stringify(results)).toEqual([]);
    },
  );

  it('refuses with ERR_ACCESS_DENIED, synchronously, naming the policy group', async () => {
    const { results } = await attack(`
      process.chdir(SHM);
      for (const set of [v8.setFlagsFromString, process.binding('v8').setFlagsFromString]) {
        try { set('--expose-gc --trace-turbo-path=' + DIR); report({ thrown: null }); }
        catch (error) { report({ thrown: error.code, message: error.message }); }
      }
      process.chdir(DIR);
      try { require('node:trace_events').createTracing({ categories: ['node.perf'] }).enable(); report({ trace: null }); }
      catch (error) { report({ trace: error.code }); }
      process.chdir('/');`);
    expect(results).toEqual([
      { thrown: 'ERR_ACCESS_DENIED', message: expect.stringContaining('"redteam-deny"') },
      { thrown: 'ERR_ACCESS_DENIED', message: expect.stringContaining('"redteam-deny"') },
      { trace: 'ERR_ACCESS_DENIED' },
    ]);
  });
});

describe('red team 7: observe allows and reports once', () => {
  const CASES: Record<string, { body: string; file: string; call: string; nodeArgs?: string[] }> = {
    'v8.setFlagsFromString': {
      body: `process.chdir(SHM);
        report(attempt(() => v8.setFlagsFromString('--redirect-code-traces --redirect-code-traces-to=' + DIR + '/o.asm --print-opt-source')));
        optimize('return x * 11 + 1');
        process.chdir('/');`,
      file: 'o.asm',
      call: 'v8.setFlagsFromString',
    },
    "process.binding('v8').setFlagsFromString": {
      body: `process.chdir(SHM);
        report(attempt(() => process.binding('v8').setFlagsFromString('--trace-turbo-cfg-file=' + DIR + '/o.cfg --trace-turbo')));
        optimize('return x * 12 + 1');
        process.chdir('/');`,
      file: 'o.cfg',
      call: 'v8.setFlagsFromString',
    },
    'trace_events enable': {
      body: `process.chdir(DIR);
        const tracing = require('node:trace_events').createTracing({ categories: ['node.perf'] });
        report(attempt(() => tracing.enable()));
        ${tracePerf}
        tracing.disable();
        process.chdir('/');`,
      file: 'node_trace.1.log',
      call: 'trace_events.enable',
    },
    "process.binding('v8').setHeapSnapshotNearHeapLimit": {
      body: `process.chdir(DIR);
        ${nearLimitWorker("process.binding('v8').setHeapSnapshotNearHeapLimit(1);")}`,
      file: '.heapsnapshot',
      call: 'v8.setHeapSnapshotNearHeapLimit',
    },
  };
  for (const [name, { body, file, call }] of Object.entries(CASES)) {
    it(`${name}: written, one event`, async () => {
      const { results, created, events, stderr } = await attack(body, { policy: OBSERVE });
      expect(
        created.some((entry) => entry.endsWith(file)),
        `${JSON.stringify(results)} ${stderr}`,
      ).toBe(true);
      const judged = events.filter(
        (event) => event.category === 'filesystem' && (event.details as { call?: string })?.call === call,
      );
      expect(
        judged.map((event) => [event.action, event.operation]),
        JSON.stringify(events),
      ).toEqual([['observe', 'write']]);
    });
  }
});

describe('red team 7: flags that write nothing keep working under deny (transparency)', () => {
  it('--expose-gc, --allow-natives-syntax, --max-old-space-size, --stack-size, --no-opt; chdir with nothing armed', async () => {
    const { results, events } = await attack(`
      for (const flags of ['--expose-gc', '--allow-natives-syntax', '--max-old-space-size=200', '--stack-size=900', '--no-opt', '--no-turbo-inlining\\t--no-lazy-feedback-allocation']) {
        report({ flags, set: attempt(() => v8.setFlagsFromString(flags)).error ?? 'ok' });
      }
      report({ binding: attempt(() => process.binding('v8').setFlagsFromString('--expose-gc')).error ?? 'ok' });
      report({ gc: require('node:vm').runInNewContext('typeof gc') });
      report({ chdir: attempt(() => { process.chdir(DIR); process.chdir('/'); }).error ?? 'ok' });
      const tracing = require('node:trace_events').createTracing({ categories: ['node.perf'] });
      report({ tracing: tracing.categories });`);
    expect(results).toEqual([
      { flags: '--expose-gc', set: 'ok' },
      { flags: '--allow-natives-syntax', set: 'ok' },
      { flags: '--max-old-space-size=200', set: 'ok' },
      { flags: '--stack-size=900', set: 'ok' },
      { flags: '--no-opt', set: 'ok' },
      { flags: '--no-turbo-inlining\t--no-lazy-feedback-allocation', set: 'ok' },
      { binding: 'ok' },
      { gc: 'function' },
      { chdir: 'ok' },
      { tracing: 'node.perf' },
    ]);
    expect(events.filter((event) => event.category === 'filesystem')).toEqual([]);
  });
});
