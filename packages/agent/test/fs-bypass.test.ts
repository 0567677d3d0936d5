// Each technique a hostile dependency could use to get a file access past the agent, one test each.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
  const dir = mkdtempSync(join(tmpdir(), 'fs-bypass-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  mkdirSync(join(dir, 'allowed'));
  return dir;
}

/** Runs `body` (CommonJS, with `fs`, `dir` and `attempt(name, fn)` in scope) and returns name → outcome. */
async function attempts(
  dir: string,
  body: string,
  fields: Record<string, unknown> = { filesystem: 'deny' },
): Promise<{
  run: RunResult;
  outcome: Record<string, { ok: boolean; code: string | null; value?: unknown }>;
}> {
  const source = `
const fs = require('node:fs');
const dir = ${JSON.stringify(dir)};
const outcome = {};
async function attempt(name, fn) {
  try { const value = await fn(); outcome[name] = { ok: true, code: null, value: typeof value === 'string' ? value : undefined }; }
  catch (error) { outcome[name] = { ok: false, code: error.code ?? String(error) }; }
}
(async () => {
${body}
console.log(JSON.stringify({ result: outcome }));
})();
`;
  const run = await runFixture({
    ...appIn(dir, source),
    policy: policy({ network: 'grant', process: 'grant', ...fields }),
  });
  runs.push(run);
  return { run, outcome: appResult(run) };
}

describe('symbolic links', () => {
  it('judges a write through a link in an allowed directory by where the link leads', async () => {
    const dir = governedDir();
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'allowed', 'link'));
    const { outcome } = await attempts(
      dir,
      `await attempt('write', () => fs.writeFileSync(dir + '/allowed/link', 'pwned'));
       await attempt('read', () => fs.readFileSync(dir + '/allowed/link', 'utf8'));`,
      { filesystem: 'deny', allowedPaths: [join(dir, 'allowed')] },
    );
    expect(outcome.write).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.read).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(readFileSync(join(dir, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('follows a dangling link as open(O_CREAT) would, so it cannot create a file elsewhere', async () => {
    const dir = governedDir();
    symlinkSync(join(dir, 'created-by-link.txt'), join(dir, 'allowed', 'dangling'));
    const { outcome } = await attempts(
      dir,
      `await attempt('write', () => fs.writeFileSync(dir + '/allowed/dangling', 'x'));`,
      { filesystem: 'deny', allowedPaths: [join(dir, 'allowed')] },
    );
    expect(outcome.write).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync(join(dir, 'created-by-link.txt'))).toBe(false);
  });

  it('refuses to create a link in an allowed directory that points at a denied place', async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `await attempt('symlink', () => fs.symlinkSync(dir + '/secret.txt', dir + '/allowed/mine'));
       await attempt('relative', () => fs.symlinkSync('../secret.txt', dir + '/allowed/mine2'));
       await attempt('hardlink', () => fs.linkSync(dir + '/secret.txt', dir + '/allowed/hard'));
       await attempt('inside', () => fs.symlinkSync(dir + '/allowed/x', dir + '/allowed/ok'));`,
      { filesystem: 'deny', allowedPaths: [join(dir, 'allowed')] },
    );
    expect(outcome.symlink).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.relative).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.hardlink).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.inside).toMatchObject({ ok: true });
    expect(() => lstatSync(join(dir, 'allowed', 'mine'))).toThrow();
    expect(existsSync(join(dir, 'allowed', 'hard'))).toBe(false);
  });

  it('resolves afresh once a child process runs: a link an allowed command creates later is followed', async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `const cp = require('node:child_process');
       const child = cp.spawn('sh', ['-c', 'sleep 0.3; ln -s ' + dir + '/secret.txt ' + dir + '/allowed/late-link']);
       await attempt('statBefore', () => fs.statSync(dir + '/allowed/late-link'));
       await new Promise((resolve) => child.on('close', resolve));
       await attempt('readAfter', () => fs.readFileSync(dir + '/allowed/late-link', 'utf8'));`,
      { filesystem: 'deny', allowedPaths: [join(dir, 'allowed')], process: 'deny', allowedCommands: ['sh'] },
    );
    expect(outcome.statBefore).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(outcome.readAfter).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
  });

  it('resolves /proc/self/root and /proc/self/cwd, whose magic links lead into governed directories', async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `await attempt('root', () => fs.writeFileSync('/proc/self/root' + dir + '/via-root.txt', 'x'));
       await attempt('cwd', () => fs.readFileSync('/proc/self/cwd/secret.txt', 'utf8'));`,
    );
    expect(outcome.root).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.cwd).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync(join(dir, 'via-root.txt'))).toBe(false);
  });
});

describe('path spellings', () => {
  it('normalises Buffer, file: URL, relative and .. paths before judging', async () => {
    const dir = governedDir();
    const { run, outcome } = await attempts(
      dir,
      `await attempt('buffer', () => fs.writeFileSync(Buffer.from(dir + '/buffer.txt'), 'x'));
       await attempt('url', () => fs.writeFileSync(new URL('file://' + dir + '/url.txt'), 'x'));
       await attempt('relative', () => fs.writeFileSync('relative.txt', 'x'));
       await attempt('dotdot', () => fs.writeFileSync('/var/../' + dir + '/./sub/../dotdot.txt', 'x'));
       await attempt('doubleSlash', () => fs.readFileSync(dir.replace('/tmp/', '/tmp//') + '/secret.txt'));
       await attempt('promisesUrl', () => fs.promises.readFile(new URL('file://' + dir + '/secret.txt')));`,
    );
    for (const name of ['buffer', 'url', 'relative', 'dotdot', 'doubleSlash', 'promisesUrl']) {
      expect(outcome[name], name).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    }
    for (const file of ['buffer.txt', 'url.txt', 'relative.txt', 'dotdot.txt'])
      expect(existsSync(join(dir, file))).toBe(false);
    const targets = run.events.map((event) => event.target);
    expect(targets).toContain(join(dir, 'relative.txt'));
    expect(targets).toContain(join(dir, 'dotdot.txt'));
  });
});

describe('file descriptors', () => {
  it('judges a metadata change through a read-only descriptor as a write to the path it was opened with', async () => {
    const dir = governedDir();
    const { run, outcome } = await attempts(
      dir,
      `const fd = fs.openSync(dir + '/secret.txt', 'r');
       await attempt('fchmod', () => fs.fchmodSync(fd, 0o600));
       await attempt('futimes', () => fs.futimesSync(fd, 1, 1));
       fs.closeSync(fd);`,
      { filesystem: 'observe' },
    );
    expect(outcome.fchmod).toMatchObject({ ok: true });
    const writes = run.events.filter(
      (event) => event.operation === 'write' && event.target === join(dir, 'secret.txt'),
    );
    expect(writes.length).toBeGreaterThan(0);
  });

  it('forgets a descriptor on close, so its number reused for an ungoverned file is not misjudged', async () => {
    const dir = governedDir();
    const outside = mkdtempSync(join('/var/tmp', 'fs-bypass-'));
    dirs.push(outside);
    writeFileSync(join(outside, 'free.txt'), 'free');
    const { run, outcome } = await attempts(
      dir,
      `const first = fs.openSync(dir + '/secret.txt', 'r');
       fs.closeSync(first);
       const second = fs.openSync(${JSON.stringify(join(outside, 'free.txt'))}, 'r');
       await attempt('sameNumber', () => String(first === second));
       await attempt('fchmod', () => fs.fchmodSync(second, 0o600));`,
      { filesystem: 'observe' },
    );
    expect(outcome.sameNumber?.value).toBe('true');
    expect(outcome.fchmod).toMatchObject({ ok: true });
    expect(run.events.filter((event) => event.operation === 'write')).toEqual([]);
  });
});

describe('raw bindings and loader internals', () => {
  it("judges calls made directly on process.binding('fs')", async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `const b = process.binding('fs');
       const { O_WRONLY, O_CREAT } = fs.constants;
       await attempt('open', () => b.open(dir + '/raw.txt', O_WRONLY | O_CREAT, 0o644));
       await attempt('writeFileUtf8', () => b.writeFileUtf8(dir + '/raw2.txt', 'x', O_WRONLY | O_CREAT, 0o644));
       await attempt('readFileUtf8', () => b.readFileUtf8(dir + '/secret.txt', 0));
       // Node 22 dropped internalModuleReadJSON; internalModuleStat is its loader-only reader there
       const reader = typeof b.internalModuleReadJSON === 'function' ? 'internalModuleReadJSON' : 'internalModuleStat';
       await attempt('loaderReader', () => JSON.stringify(b[reader](dir + '/secret.txt')));
       await attempt('deleteThenCall', () => { try { delete b[reader]; } catch {} return JSON.stringify(b[reader](dir + '/secret.txt')); });
       await attempt('unlink', () => b.unlink(dir + '/secret.txt'));
       await attempt('viaPrototype', () => {
         const proto = Object.getPrototypeOf(b);
         if (typeof proto?.[reader] !== 'function') throw Object.assign(new Error('no prototype route'), { code: 'ERR_ACCESS_DENIED' });
         return JSON.stringify(proto[reader](dir + '/secret.txt'));
       });`,
    );
    for (const name of [
      'viaPrototype',
      'open',
      'writeFileUtf8',
      'readFileUtf8',
      'loaderReader',
      'deleteThenCall',
      'unlink',
    ]) {
      expect(outcome[name], name).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    }
    expect(existsSync(join(dir, 'raw.txt'))).toBe(false);
    expect(existsSync(join(dir, 'secret.txt'))).toBe(true);
  });

  it("judges the loader-only reader when the app tampered with Object.keys/defineProperty/entries and the array iterator before its first process.binding('fs')", async () => {
    // the app-facing copy is made at the first ask (loader-escapes.ts): a copy built with the app's
    // functions could skip the judged readers and keep the real ones
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `const realKeys = Object.keys;
       Object.keys = (o) => realKeys(o).filter((k) => !k.startsWith('internalModule'));
       Object.entries = () => [];
       Object.defineProperty = (o, k, d) => { if (!String(k).startsWith('internalModule')) Reflect.defineProperty(o, k, d); return o; };
       Array.prototype[Symbol.iterator] = function* () {};
       const b = process.binding('fs');
       const reader = typeof b.internalModuleReadJSON === 'function' ? 'internalModuleReadJSON' : 'internalModuleStat';
       await attempt('loaderReader', () => JSON.stringify(b[reader](dir + '/secret.txt')));
       await attempt('open', () => b.open(dir + '/raw.txt', fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644));`,
    );
    expect(outcome.loaderReader).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.open).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync(join(dir, 'raw.txt'))).toBe(false);
  });

  it('judges process.getBuiltinModule and a fake module handed to the CommonJS loader', async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `await attempt('getBuiltinModule', () => process.getBuiltinModule('node:fs').writeFileSync(dir + '/gbm.txt', 'x'));
       const Module = require('node:module');
       await attempt('fakeModule', () => {
         let stolen;
         const fake = { filename: dir + '/secret.txt', loaded: false, _compile(content) { stolen = content; } };
         Module._extensions['.js'](fake, dir + '/secret.txt');
         return stolen;
       });`,
    );
    expect(outcome.getBuiltinModule).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.fakeModule).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync(join(dir, 'gbm.txt'))).toBe(false);
  });

  it('gives nothing away when the app hijacks Reflect.apply and Function.prototype.apply/call', async () => {
    const dir = governedDir();
    const { outcome } = await attempts(
      dir,
      `const seen = [];
       const { apply: reflectApply } = Reflect;
       const fnApply = Function.prototype.apply;
       const fnCall = Function.prototype.call;
       Reflect.apply = function (fn, self, args) { seen.push(fn.name); return reflectApply(fn, self, args); };
       Function.prototype.apply = function (self, args) { seen.push(this.name); return reflectApply(this, self, args ?? []); };
       Function.prototype.call = function (self, ...args) { seen.push(this.name); return reflectApply(this, self, args); };
       await attempt('write', () => fs.writeFileSync(dir + '/after-hijack.txt', 'x'));
       fs.statSync('/etc/hostname');
       Reflect.apply = reflectApply; Function.prototype.apply = fnApply; Function.prototype.call = fnCall;
       await attempt('seen', () => seen.join(','));`,
    );
    expect(outcome.write).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    // whatever the app intercepted, none of it is an unwrapped binding method
    const seen = String(outcome.seen?.value ?? '')
      .split(',')
      .filter(Boolean);
    for (const name of seen) expect(['open', 'writeFileUtf8', 'stat', 'readFileUtf8']).not.toContain(name);
    expect(existsSync(join(dir, 'after-hijack.txt'))).toBe(false);
  });
});

describe('native file access outside the fs binding', () => {
  it('judges WASI preopens, process.report.writeReport and v8.writeHeapSnapshot', async () => {
    const dir = governedDir();
    const { run, outcome } = await attempts(
      dir,
      `const { WASI } = require('node:wasi');
       await attempt('wasi', () => new WASI({ version: 'preview1', preopens: { '/sandbox': dir } }));
       await attempt('wasiUngoverned', () => new WASI({ version: 'preview1', preopens: { '/sandbox': '/usr' } }));
       await attempt('report', () => process.report.writeReport(dir + '/report.json'));
       await attempt('heapSnapshot', () => require('node:v8').writeHeapSnapshot(dir + '/heap.heapsnapshot'));`,
    );
    expect(outcome.wasi).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.wasiUngoverned).toMatchObject({ ok: true });
    expect(outcome.report).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(outcome.heapSnapshot).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync(join(dir, 'report.json'))).toBe(false);
    expect(existsSync(join(dir, 'heap.heapsnapshot'))).toBe(false);
    // the agent's own load of node:wasi prints nothing the app did not cause
    const quiet = await runFixture({
      source: 'console.log(JSON.stringify({ result: 1 }))',
      policy: policy({ filesystem: 'deny' }),
    });
    runs.push(quiet);
    expect(quiet.stderr).not.toMatch(/ExperimentalWarning/);
    expect(run.stderr).not.toMatch(/appdefender\] hook/);
  });
});

describe('module loading', () => {
  it('is never judged: CommonJS, JSON and ES modules load from a denied application directory', async () => {
    const dir = governedDir();
    writeFileSync(join(dir, 'lib.cjs'), 'module.exports = { answer: 42 };');
    writeFileSync(join(dir, 'data.json'), '{"value": "json"}');
    writeFileSync(join(dir, 'esm-lib.mjs'), 'export const fromEsm = "esm";');
    writeFileSync(join(dir, 'package.json'), '{"name": "app", "type": "commonjs"}');
    const source = `
import lib from './lib.cjs';
import { fromEsm } from './esm-lib.mjs';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const data = require('./data.json');
const dynamic = await import('./esm-lib.mjs?again');
let write = 'allowed';
try { writeFileSync(${JSON.stringify(join(dir, 'esm-named.txt'))}, 'x'); } catch (error) { write = error.code; }
console.log(JSON.stringify({ result: { answer: lib.answer, fromEsm, json: data.value, dynamic: dynamic.fromEsm, write } }));
`;
    writeFileSync(join(dir, 'main.mjs'), source);
    const run = await runFixture({
      file: join(dir, 'main.mjs'),
      cwd: dir,
      policy: policy({ filesystem: 'deny' }),
    });
    runs.push(run);
    expect(appResult(run)).toEqual({
      answer: 42,
      fromEsm: 'esm',
      json: 'json',
      dynamic: 'esm',
      write: 'ERR_ACCESS_DENIED',
    });
    // the only event is the app's own write, through an ESM named import of node:fs
    expect(run.events.map((event) => `${event.action} ${event.operation} ${event.target}`)).toEqual([
      `deny write ${join(dir, 'esm-named.txt')}`,
    ]);
    expect(existsSync(join(dir, 'esm-named.txt'))).toBe(false);
  });
});
