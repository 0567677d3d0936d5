// Worker threads carry the agent whatever options they are started with, and the Worker class the
// app can reach never leads back to an unwrapped constructor.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appIn, appResult, cleanup, policy, type RunResult, runFixture } from './harness.js';

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

function governedDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'worker-'));
  dirs.push(dir);
  return dir;
}

/** Worker body: tries a governed write and posts back what happened. */
const workerBody = (marker: string) => `
const { parentPort } = require('node:worker_threads');
let code = 'written';
try { require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x'); } catch (error) { code = error.code; }
parentPort.postMessage(code);
`;

describe('worker threads', () => {
  it('keep the agent with env: {}, execArgv: [], eval: true and from an ES module', async () => {
    const dir = governedDir();
    const cases = {
      envEmpty: { env: {} },
      execArgvEmpty: { execArgv: [] },
      both: { env: {}, execArgv: [] },
      envWithOwnNodeOptions: { env: { NODE_OPTIONS: '--no-warnings' } },
    };
    const source = `
import { Worker } from 'node:worker_threads';

const cases = ${JSON.stringify(cases)};
const out = {};
for (const [name, options] of Object.entries(cases)) {
  const body = ${JSON.stringify(workerBody('MARKER'))}.replace('MARKER', ${JSON.stringify(dir)} + '/marker-' + name);
  out[name] = await new Promise((resolve) => {
    const worker = new Worker(body, { eval: true, ...options });
    worker.on('message', resolve);
    worker.on('error', (error) => resolve('worker error: ' + error.message));
  });
}
console.log(JSON.stringify({ result: out }));
`;
    const run = await runFixture({ ...appIn(dir, source, 'esm'), policy: policy({ filesystem: 'deny' }) });
    runs.push(run);
    const out = appResult<Record<string, string>>(run);
    for (const name of Object.keys(cases)) {
      expect(out[name], name).toBe('ERR_ACCESS_DENIED');
      expect(existsSync(join(dir, `marker-${name}`)), name).toBe(false);
    }
  });

  it("keep this process's policy when the app rewrote process.env.ES_POLICY_FILE before starting them", async () => {
    // Prepare: a lenient policy the app's own package could ship, named in process.env, then workers
    // started with the inherited environment (default, null, process.env itself, SHARE_ENV)
    const dir = governedDir();
    const lenient = join(dir, 'lenient.json');
    writeFileSync(
      lenient,
      JSON.stringify({ name: 'lenient', network: 'grant', filesystem: 'grant', process: 'grant' }),
    );
    writeFileSync(
      join(dir, 'worker.cjs'),
      workerBody('MARKER').replace('"MARKER"', 'require("node:worker_threads").workerData'),
    );
    writeFileSync(join(dir, 'worker-bare.cjs'), workerBody(join(dir, 'marker-noOptions')));
    const source = `
const { Worker, SHARE_ENV } = require('node:worker_threads');
process.env.ES_POLICY_FILE = ${JSON.stringify(lenient)};
const dir = ${JSON.stringify(dir)};
const cases = {
  noOptions: () => new Worker(dir + '/worker-bare.cjs'),
  defaultEnv: () => new Worker(dir + '/worker.cjs', { workerData: dir + '/marker-defaultEnv' }),
  envNull: () => new Worker(dir + '/worker.cjs', { env: null, workerData: dir + '/marker-envNull' }),
  envProcessEnv: () => new Worker(dir + '/worker.cjs', { env: process.env, workerData: dir + '/marker-envProcessEnv' }),
  shareEnv: () => new Worker(dir + '/worker.cjs', { env: SHARE_ENV, workerData: dir + '/marker-shareEnv' }),
  // the real environment keeps the lenient policy; the JS-visible process.env is a decoy
  shareEnvReplaced: () => {
    process.env.ES_POLICY_FILE = ${JSON.stringify(lenient)};
    process.env = { ...process.env };
    return new Worker(dir + '/worker.cjs', { env: SHARE_ENV, workerData: dir + '/marker-shareEnvReplaced' });
  },
};
(async () => {
  const out = {};
  for (const [name, start] of Object.entries(cases)) {
    out[name] = await new Promise((resolve) => {
      const worker = start();
      worker.on('message', resolve);
      worker.on('error', (error) => resolve('worker error: ' + error.message));
    });
  }
  console.log(JSON.stringify({ result: out }));
})();
`;

    // Act
    const run = await runFixture({ ...appIn(dir, source), policy: policy({ filesystem: 'deny' }) });
    runs.push(run);

    // Assess
    const out = appResult<Record<string, string>>(run);
    for (const name of [
      'noOptions',
      'defaultEnv',
      'envNull',
      'envProcessEnv',
      'shareEnv',
      'shareEnvReplaced',
    ]) {
      expect(out[name], name).toBe('ERR_ACCESS_DENIED');
      expect(existsSync(join(dir, `marker-${name}`)), name).toBe(false);
    }
  });

  it('work as before under grant and observe: messages, instanceof, subclasses', async () => {
    const dir = governedDir();
    const source = `
const { Worker } = require('node:worker_threads');
class Sub extends Worker {}
const worker = new Sub("require('node:worker_threads').parentPort.postMessage(21 * 2)", { eval: true, env: {} });
worker.on('message', (value) => {
  console.log(JSON.stringify({ result: {
    value,
    isWorker: worker instanceof Worker,
    isSub: worker instanceof Sub,
    constructorIsExport: Worker.prototype.constructor === Worker,
    parentIsFunctionPrototype: Object.getPrototypeOf(Worker) === Function.prototype || Object.getPrototypeOf(Worker).name !== 'Worker',
  } }));
});
`;
    for (const mode of ['grant', 'observe'] as const) {
      const run = await runFixture({
        ...appIn(dir, source),
        policy: policy({ filesystem: mode, process: mode }),
      });
      runs.push(run);
      expect(appResult(run), mode).toEqual({
        value: 42,
        isWorker: true,
        isSub: true,
        constructorIsExport: true,
        parentIsFunctionPrototype: true,
      });
    }
  });

  it('judges a worker started with --expose-internals (unfiltered bindings) as a process start', async () => {
    const dir = governedDir();
    const source = `
const { Worker } = require('node:worker_threads');
let outcome = 'started';
try {
  new Worker("require('node:worker_threads').parentPort.postMessage(typeof require('internal/test/binding'))", { eval: true, execArgv: ['--expose-internals'] }).terminate();
} catch (error) { outcome = error.code; }
console.log(JSON.stringify({ result: outcome }));
`;
    const run = await runFixture({ ...appIn(dir, source), policy: policy({ process: 'deny' }) });
    runs.push(run);
    expect(appResult(run)).toBe('ERR_ACCESS_DENIED');
    expect(run.events).toEqual([
      expect.objectContaining({
        category: 'process',
        action: 'deny',
        target: 'worker_threads.Worker --expose-internals',
      }),
    ]);
  });
});
