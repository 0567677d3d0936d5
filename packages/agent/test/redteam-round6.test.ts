// Red team, round 6: files written natively, outside the fs binding, under `filesystem: deny`.
// A hostile app that knows the agent is there asks Node's diagnostics, the module compile cache or a
// Unix-socket listener to create a file in a fresh directory under /tmp (governed); the test process
// checks that nothing appeared there. Each finding's test failed against the bundle before its fix
// (see the commit messages); attacks that held are kept, grouped, as a regression test.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentBuilt, node22Binary, testNodeBinary } from './harness.js';
import { type FileAttack, runFileAttack } from './redteam-support.js';

beforeAll(() => ensureAgentBuilt(), 120_000);

// the Node the fixtures run on (APPDEFENDER_TEST_NODE), not the one running vitest
const NODE_MAJOR = Number(
  execFileSync(testNodeBinary(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0],
);

function attack(body: string, nodeBinary?: string): Promise<FileAttack> {
  return runFileAttack(body, { nodeBinary });
}

const workerExit = (execArgv: string[]) => `
  const { Worker } = require('node:worker_threads');
  await new Promise((resolve) => {
    let worker;
    try { worker = new Worker('1', { eval: true, execArgv: ${JSON.stringify(execArgv)}.map((f) => f.replace('DIR', DIR)) }); }
    catch (error) { report({ error: error.code }); resolve(); return; }
    worker.on('error', (error) => report({ error: error.code }));
    worker.on('exit', () => { report({ exited: true }); resolve(); });
  });`;

// Each body writes (or would write) into DIR; `created` must stay empty.
const FINDINGS: Record<string, string> = {
  // the report module writes with its own C++ file stream; writeReport() without a name used
  // `report.filename`, which the hook did not look at (it judged <cwd>/report.json)
  'process.report.filename + writeReport() from an ungoverned working directory': `
    process.chdir('/dev/shm');
    report(attempt(() => { process.report.filename = TARGET; process.report.writeReport(); }));`,
  // reports Node writes by itself, on a signal or an uncaught exception, into report.directory
  'process.report.reportOnSignal with report.directory set': `
    report(attempt(() => { const r = process.report; r.directory = DIR; r.signal = 'SIGUSR2'; r.reportOnSignal = true; }));
    process.kill(process.pid, 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 300));`,
  'process.report.reportOnSignal enabled in an ungoverned cwd, then chdir into the target': `
    process.chdir('/dev/shm');
    report(attempt(() => { const r = process.report; r.signal = 'SIGUSR2'; r.reportOnSignal = true; }));
    process.chdir(DIR);
    process.kill(process.pid, 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.chdir('/');`,
  // profiles and snapshots a worker writes natively when it exits (or nears its heap limit)
  'a worker with --cpu-prof --cpu-prof-dir': workerExit(['--cpu-prof', '--cpu-prof-dir=DIR']),
  'a worker with --heap-prof --heap-prof-dir': workerExit(['--heap-prof', '--heap-prof-dir=DIR']),
  'a worker with --diagnostic-dir --cpu-prof': workerExit(['--diagnostic-dir=DIR', '--cpu-prof']),
  'a worker with --cpu-prof started from the target directory': `
    process.chdir(DIR);
    ${workerExit(['--cpu-prof'])}
    process.chdir('/');`,
  // a worker with a small heap reaches its limit on demand; the snapshot lands in the cwd
  'v8.setHeapSnapshotNearHeapLimit in a worker with a small heap, from the target directory': `
    process.chdir(DIR);
    const { Worker } = require('node:worker_threads');
    await new Promise((resolve) => {
      const worker = new Worker(\`
        let refused = null;
        try { require('node:v8').setHeapSnapshotNearHeapLimit(1); } catch (error) { refused = error.code; }
        if (refused) require('node:worker_threads').parentPort.postMessage(refused);
        else { const hog = []; for (;;) hog.push(new Array(1e5).fill(Math.random())); }\`,
        { eval: true, resourceLimits: { maxOldGenerationSizeMb: 20 } });
      worker.on('message', (code) => report({ error: code }));
      worker.on('error', (error) => report({ workerError: error.code }));
      worker.on('exit', resolve);
    });
    process.chdir('/');`,
  // the socket file is created by bind(2) in pipe_wrap, not by the fs binding
  'net.Server.listen({ path }) under the target directory': `
    const server = require('node:net').createServer();
    report(await new Promise((resolve) => {
      server.on('error', (error) => resolve({ error: error.code }));
      server.listen({ path: TARGET }, () => resolve({ listening: true }));
    }));
    // not closed: close() would unlink the socket file the attack is about`,
};

describe('red team 6: files Node writes natively (filesystem deny)', () => {
  for (const [name, body] of Object.entries(FINDINGS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body);
      expect(created, JSON.stringify(results)).toEqual([]);
    });
  }

  // Node 22 only: on the Node 22 binary of testing/node22 whichever Node runs the suite (skipped,
  // as test/node22.test.ts is, only when that binary is not installed)
  const compileCacheNode = NODE_MAJOR >= 22 ? testNodeBinary() : node22Binary;
  it.skipIf(!existsSync(compileCacheNode))('blocks module.enableCompileCache(dir) (Node 22)', async () => {
    const { results, created } = await attack(
      `
      const fs = require('node:fs');
      const source = '/dev/shm/rt6-module-' + process.pid + '.cjs';
      fs.writeFileSync(source, 'module.exports = () => 1;');
      report(attempt(() => require('node:module').enableCompileCache(DIR)));
      require(source);
      require('node:module').flushCompileCache?.();
      fs.unlinkSync(source);`,
      compileCacheNode,
    );
    expect(created, JSON.stringify(results)).toEqual([]);
  });
});

describe('red team 6: held (regression)', () => {
  it('fs.watch, an inspector heap snapshot saved through fs, fd 0 closed and the target opened in its place, a zlib pipeline', async () => {
    const { results, created } = await attack(`
      // control: the report settings still take an ungoverned directory
      report({ reportToStdout: attempt(() => { process.report.directory = '/dev/shm'; return typeof process.report.getReport(); }).ok });
      report({ watch: attempt(() => fs.watch(DIR).close()).error });
      // (an inspector session is itself refused under process deny since round 7: a heap snapshot
      // streamed to JavaScript another way)
      report({ inspector: attempt(() => new (require('node:inspector').Session)().connect()).error });
      const chunks = [];
      for await (const chunk of require('node:v8').getHeapSnapshot()) { chunks.push(chunk); if (chunks.length > 2) break; }
      report({ snapshot: attempt(() => fs.writeFileSync(DIR + '/inspector.heapsnapshot', chunks.join(''))).error });
      report({ fd0: attempt(() => { fs.closeSync(0); return fs.openSync(TARGET, 'w'); }).error });
      const { pipeline, Readable } = require('node:stream');
      report({ pipeline: await new Promise((resolve) => {
        try {
          pipeline(Readable.from(['x']), require('node:zlib').createGzip(), fs.createWriteStream(DIR + '/piped.gz'), (error) => resolve(error ? error.code : 'ok'));
        } catch (error) { resolve(error.code); }
      }) });`);
    expect(created).toEqual([]);
    const merged = Object.assign({}, ...results);
    expect(merged).toMatchObject({
      watch: 'ERR_ACCESS_DENIED',
      inspector: 'ERR_ACCESS_DENIED',
      snapshot: 'ERR_ACCESS_DENIED',
      fd0: 'ERR_ACCESS_DENIED',
      pipeline: 'ERR_ACCESS_DENIED',
      reportToStdout: 'object',
    });
  });
});
