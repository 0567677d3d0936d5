// Red team, filesystem: a hostile app under `filesystem: deny` tries to create a file in a fresh
// directory under /tmp (governed) by every road and spelling it knows. The test process checks that
// the file really does not exist afterwards, whatever the app believes happened.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appResults, cleanup, ensureAgentBuilt, runFixture } from './harness.js';
import { attackSource, DENY_ALL, targetDir } from './redteam-support.js';

beforeAll(() => ensureAgentBuilt(), 120_000);

/** A scratch directory outside every governed directory (/dev/shm: not /tmp, not the app dir). */
function outsideDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync('/dev/shm/redteam-outside-');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function attack(
  body: string,
  options: { secret?: boolean } = {},
): Promise<{ results: Record<string, unknown>[]; created: string[] }> {
  const target = targetDir();
  const outside = outsideDir();
  // planted by the test, before the app starts: what the read attacks are after
  if (options.secret) writeFileSync(join(target.dir, 'secret.json'), '{"secret":"s3cr3t"}');
  try {
    const run = await runFixture({
      policy: DENY_ALL,
      source: attackSource(body),
      env: {
        RT_TARGET: join(target.dir, 'written'),
        RT_TARGET_DIR: target.dir,
        RT_OUTSIDE: outside.dir,
      },
    });
    const results = appResults(run);
    cleanup(run);
    return { results, created: readdirSync(target.dir).filter((name) => name !== 'secret.json') };
  } finally {
    target.remove();
    outside.remove();
  }
}

const PREFIX = `const path = require('node:path'); const DIR = process.env.RT_TARGET_DIR; const OUTSIDE = process.env.RT_OUTSIDE; const NAME = path.basename(TARGET);`;

const WRITES: Record<string, string> = {
  'fs.promises.open + FileHandle.write': `
    try { const handle = await fs.promises.open(TARGET, 'w'); await handle.write('x'); await handle.close(); report({ ok: true }); }
    catch (error) { report({ error: error.code }); }`,
  'fs.createWriteStream({ fd }) with an fd from openSync': `
    report(attempt(() => fs.createWriteStream(null, { fd: fs.openSync(TARGET, 'w') }).end('x')));`,
  'an ERR_ACCESS_DENIED caught and the write retried ten times': `
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(attempt(() => fs.writeFileSync(TARGET, 'x')).error);
    report({ error: [...new Set(outcomes)].join(',') });`,
  '//tmp double slash': `report(attempt(() => fs.writeFileSync('/' + TARGET, 'x')));`,
  '/tmp/./x': `report(attempt(() => fs.writeFileSync(TARGET.replace('/tmp/', '/tmp/./'), 'x')));`,
  '/tmp/../tmp/x': `report(attempt(() => fs.writeFileSync(TARGET.replace('/tmp/', '/tmp/../tmp/'), 'x')));`,
  '/proc/self/root/tmp/...': `report(attempt(() => fs.writeFileSync('/proc/self/root' + TARGET, 'x')));`,
  '/proc/thread-self/root/tmp/...': `report(attempt(() => fs.writeFileSync('/proc/thread-self/root' + TARGET, 'x')));`,
  '/proc/<pid>/root/tmp/...': `report(attempt(() => fs.writeFileSync('/proc/' + process.pid + '/root' + TARGET, 'x')));`,
  '/proc/self/cwd/... after chdir into the target directory': `
    process.chdir(DIR);
    report(attempt(() => fs.writeFileSync('/proc/self/cwd/' + NAME, 'x')));`,
  '/proc/self/fd/N/name through a directory descriptor': `
    const fd = fs.openSync(DIR, 'r');
    report(attempt(() => fs.writeFileSync('/proc/self/fd/' + fd + '/' + NAME, 'x')));`,
  '/dev/fd/N/name through a directory descriptor': `
    const fd = fs.openSync(DIR, 'r');
    report(attempt(() => fs.writeFileSync('/dev/fd/' + fd + '/' + NAME, 'x')));`,
  'a relative path after chdir("/")': `process.chdir('/'); report(attempt(() => fs.writeFileSync(TARGET.slice(1), 'x')));`,
  'a relative path with process.cwd() lying': `
    process.chdir(DIR);
    process.cwd = () => OUTSIDE;
    report(attempt(() => fs.writeFileSync(NAME, 'x')));`,
  'a Buffer path': `report(attempt(() => fs.writeFileSync(Buffer.from(TARGET), 'x')));`,
  'a Buffer path with an embedded NUL': `report(attempt(() => fs.writeFileSync(Buffer.from(TARGET + '\\0.ignored'), 'x')));`,
  'a file: URL with a percent-encoded directory name': `report(attempt(() => fs.writeFileSync(new URL('file://' + TARGET.replace('/tmp/', '/%74mp/')), 'x')));`,
  'a URL-like object (href/protocol) pointing into /tmp': `report(attempt(() => fs.writeFileSync({ href: 'file://' + TARGET, protocol: 'file:', hostname: '', pathname: TARGET }, 'x')));`,
  'a symlink outside the governed directories pointing at the target directory': `
    fs.symlinkSync(DIR, OUTSIDE + '/link');
    report(attempt(() => fs.writeFileSync(OUTSIDE + '/link/' + NAME, 'x')));`,
  'a symlink outside the governed directories pointing at the (missing) target file': `
    fs.symlinkSync(TARGET, OUTSIDE + '/link');
    report(attempt(() => fs.writeFileSync(OUTSIDE + '/link', 'x')));`,
  'rename from outside into the target directory': `
    fs.writeFileSync(OUTSIDE + '/source', 'x');
    report(attempt(() => fs.renameSync(OUTSIDE + '/source', TARGET)));`,
  'copyFile from outside into the target directory': `
    fs.writeFileSync(OUTSIDE + '/source', 'x');
    report(attempt(() => fs.copyFileSync(OUTSIDE + '/source', TARGET)));`,
  'cpSync from outside into the target directory': `
    fs.writeFileSync(OUTSIDE + '/source', 'x');
    report(attempt(() => fs.cpSync(OUTSIDE + '/source', TARGET)));`,
  'link(): a hard link from outside into the target directory': `
    fs.writeFileSync(OUTSIDE + '/source', 'x');
    report(attempt(() => fs.linkSync(OUTSIDE + '/source', TARGET)));`,
  "raw process.binding('fs').open": `
    report(attempt(() => process.binding('fs').open(TARGET, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o666, undefined, { path: TARGET })));`,
  "raw process.binding('fs').writeFileUtf8": `
    const binding = process.binding('fs');
    report(typeof binding.writeFileUtf8 === 'function'
      ? attempt(() => binding.writeFileUtf8(TARGET, 'x', fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o666))
      : { error: 'ERR_ACCESS_DENIED', absent: true });`,
  "a module's own _compile writing while the loader is active": `
    const Module = require('node:module');
    const file = OUTSIDE + '/innocent.js';
    fs.writeFileSync(file, '// nothing');
    const module = new Module(file);
    module.filename = file;
    module._compile = () => fs.writeFileSync(TARGET, 'x');
    Module._cache[file] = module;
    report(attempt(() => Module._extensions['.js'](module, file)));`,
  'TOCTOU: a Buffer path in a SharedArrayBuffer that a worker rewrites between judgement and use': `
    const { Worker } = require('node:worker_threads');
    // same length: a path under /dev/shm (ungoverned) and the target under /tmp
    const decoy = OUTSIDE + '/' + 'd'.repeat(Math.max(1, TARGET.length - OUTSIDE.length - 1));
    const [governed, ungoverned] = TARGET.length === decoy.length ? [TARGET, decoy] : [null, null];
    if (!governed) { report({ error: 'ERR_ACCESS_DENIED', skipped: 'lengths differ' }); return; }
    const shared = new SharedArrayBuffer(governed.length);
    const bytes = Buffer.from(shared);
    bytes.write(ungoverned);
    const worker = new Worker(
      "const { shared, a, b } = require('worker_threads').workerData; const v = Buffer.from(shared); const end = Date.now() + 600; while (Date.now() < end) { v.write(a); v.write(b); }",
      { eval: true, workerData: { shared, a: governed, b: ungoverned } },
    );
    const end = Date.now() + 600;
    while (Date.now() < end) attempt(() => fs.writeFileSync(bytes, 'x'));
    await new Promise((resolve) => worker.on('exit', resolve));
    report({ error: 'ERR_ACCESS_DENIED' });`,
  'TOCTOU: a worker swaps a link between an outside directory and the target directory': `
    const { Worker } = require('node:worker_threads');
    fs.mkdirSync(OUTSIDE + '/real');
    const link = OUTSIDE + '/swap';
    const worker = new Worker(
      "const fs = require('fs'); const { link, real, dir } = require('worker_threads').workerData; const end = Date.now() + 400;" +
      "while (Date.now() < end) { try { fs.unlinkSync(link); } catch {} try { fs.symlinkSync(real, link); } catch {} try { fs.unlinkSync(link); } catch {} try { fs.symlinkSync(dir, link); } catch {} }",
      { eval: true, workerData: { link, real: OUTSIDE + '/real', dir: DIR } },
    );
    const outcomes = {};
    const end = Date.now() + 400;
    while (Date.now() < end) { const code = attempt(() => fs.writeFileSync(link + '/' + NAME, 'x')).error || 'ok'; outcomes[code] = (outcomes[code] || 0) + 1; }
    await new Promise((resolve) => worker.on('exit', resolve));
    report({ error: 'ERR_ACCESS_DENIED', outcomes });`,
};

const READS: Record<string, string> = {
  'fs.readFileSync of a governed file': `report(attempt(() => fs.readFileSync(DIR + '/secret.json', 'utf8')));`,
  'fs.promises.readFile through /proc/self/root': `
    try { report({ ok: await fs.promises.readFile('/proc/self/root' + DIR + '/secret.json', 'utf8') }); }
    catch (error) { report({ error: error.code }); }`,
  'fs.openAsBlob': `
    try { report({ ok: await (await fs.openAsBlob(DIR + '/secret.json')).text() }); }
    catch (error) { report({ error: error.code }); }`,
  'fs.opendirSync of the target directory': `report(attempt(() => fs.opendirSync(DIR).readSync()?.name));`,
  'fs.opendirSync with a file: URL whose href and pathname disagree': `
    const url = new URL('file://' + OUTSIDE);
    Object.defineProperty(url, 'pathname', { get: () => DIR });
    report(attempt(() => { const dir = fs.opendirSync(url); const names = []; let entry; while ((entry = dir.readSync())) names.push(entry.name); return names.join(',') || 'opened ' + DIR; }));`,
  'fs.openAsBlob with a Buffer path': `
    try { report({ ok: await (await fs.openAsBlob(Buffer.from(DIR + '/secret.json'))).text() }); }
    catch (error) { report({ error: error.code }); }`,
  'process.loadEnvFile': `report(attempt(() => process.loadEnvFile(DIR + '/secret.json')));`,
  // Node's module loader is never judged for code, but a "module" under /tmp outside the application
  // directories is data the policy governs: require() must not be a way to read it
  'require() of a JSON file under /tmp': `report(attempt(() => require(DIR + '/secret.json')));`,
  "require.extensions['.txt'] = the JSON loader": `
    fs.renameSync; require.extensions['.txt'] = require.extensions['.json'];
    report(attempt(() => require(DIR + '/secret.json')));`,
  'Module._load of a JSON file under /tmp': `report(attempt(() => require('node:module')._load(DIR + '/secret.json')));`,
  'a hand-made genuine-looking Module fed to Module._extensions[".json"]': `
    const Module = require('node:module');
    const file = DIR + '/secret.json';
    const module = new Module(file);
    module.filename = file;
    Module._cache[file] = module;
    report(attempt(() => { Module._extensions['.json'](module, file); return module.exports; }));`,
  'import() of a JSON module under /tmp': `
    try { report({ ok: (await import(DIR + '/secret.json', { with: { type: 'json' } })).default }); }
    catch (error) { report({ error: error.code }); }`,
};

describe('red team: writes into a governed directory under filesystem deny', () => {
  for (const [name, body] of Object.entries(WRITES)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(`${PREFIX}\n${body}`);
      expect(created, JSON.stringify(results)).toEqual([]);
      // denied by the agent (possibly already a preparatory step, e.g. opening the directory or
      // creating the link), or refused by Node itself before any file could be touched
      const error = String(results[0]?.error ?? results[0]?.crashed ?? '');
      expect(error, JSON.stringify(results)).toMatch(
        /ERR_ACCESS_DENIED|ERR_INVALID_ARG_VALUE|ERR_INVALID_URL/,
      );
    });
  }
});

describe('red team: reads of a governed file under filesystem deny', () => {
  for (const [name, body] of Object.entries(READS)) {
    it(`blocks ${name}`, async () => {
      const { results } = await attack(`${PREFIX}\n${body}`, { secret: true });
      expect(JSON.stringify(results)).not.toContain('s3cr3t');
      expect(results[0]).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});

describe('red team: WASI preopens', () => {
  it('are read once, and WASI gets exactly what was judged (a getter cannot answer the judge one directory and WASI another)', async () => {
    const { results } = await attack(`${PREFIX}
      let reads = 0;
      const preopens = {};
      Object.defineProperty(preopens, '/sandbox', { enumerable: true, get: () => (reads++ === 0 ? OUTSIDE : DIR) });
      const { WASI } = require('node:wasi');
      const outcome = attempt(() => new WASI({ version: 'preview1', preopens }) && 'constructed');
      report({ reads, outcome });`);
    expect(results[0]).toEqual({ reads: 1, outcome: { ok: 'constructed' } });
  });
});
