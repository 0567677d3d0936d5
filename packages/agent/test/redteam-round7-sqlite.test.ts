// Red team, round 7: `node:sqlite` (Node 22.5+; unflagged on the nodejs22.x runtime). SQLite opens,
// creates and writes database files with its own VFS, outside the fs binding, and its SQL opens more
// (ATTACH, VACUUM INTO); `loadExtension` loads native code. A hostile app that knows the agent is there
// tries each road into a fresh directory under /tmp (governed); the test process checks that nothing
// appeared there. Each finding's test failed against the bundle before its fix (see the commit
// messages). Node 20 has no node:sqlite: these run on the Node 22 binary of testing/node22 whichever
// Node runs the suite, and the Node 20 check below makes sure the hook is a no-op there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appResults,
  cleanup,
  ensureAgentBuilt,
  node22Binary,
  policy,
  runFixture,
  testNodeBinary,
} from './harness.js';
import { attackSource, DENY_ALL, type FileAttack, runFileAttack, targetDir } from './redteam-support.js';

beforeAll(() => ensureAgentBuilt(), 120_000);

const majorOf = (binary: string): number =>
  Number(execFileSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0]);
// the Node the fixtures run on (APPDEFENDER_TEST_NODE), not the one running vitest
const SUITE_MAJOR = majorOf(testNodeBinary());
// node:sqlite needs Node 22: the suite's Node when it is 22, else the Node 22 binary of testing/node22
const sqliteNode = SUITE_MAJOR >= 22 ? testNodeBinary() : node22Binary;
const haveSqliteNode = existsSync(sqliteNode);
if (!haveSqliteNode)
  console.log(`redteam-round7-sqlite: no Node 22 binary at ${sqliteNode} (npm ci --prefix testing/node22)`);

function attack(
  body: string,
  options: {
    policy?: Record<string, unknown> | ((dir: string) => Record<string, unknown>);
    setup?: (dir: string) => void;
  } = {},
): Promise<FileAttack> {
  return runFileAttack(
    `const LOADED_AT_START = process.moduleLoadList.includes('NativeModule sqlite');
const sqlite = require('node:sqlite');
const { DatabaseSync } = sqlite;
${body}`,
    { ...options, nodeBinary: sqliteNode, targetName: 'written.db' },
  );
}

const merged = (results: Record<string, unknown>[]): Record<string, unknown> => Object.assign({}, ...results);

// Each body creates (or would create) a file in DIR; `created` must stay empty. `mem` is an in-memory
// database to run SQL on.
const MEM = `const mem = new DatabaseSync(':memory:');`;
const FINDINGS: Record<string, string> = {
  // the constructor, every path form it takes
  'new DatabaseSync(path)': `report(attempt(() => new DatabaseSync(TARGET)));`,
  'new DatabaseSync(Buffer)': `report(attempt(() => new DatabaseSync(Buffer.from(TARGET))));`,
  'new DatabaseSync(file: URL)': `report(attempt(() => new DatabaseSync(require('node:url').pathToFileURL(TARGET))));`,
  'new DatabaseSync({ href }) (a URL-like object)': `report(attempt(() => new DatabaseSync({ href: 'file://' + TARGET })));`,
  "new DatabaseSync('file:...?mode=rwc') (a URI file name)": `report(attempt(() => new DatabaseSync('file:' + TARGET + '?mode=rwc')));`,
  "new DatabaseSync('file://localhost/...%2E...') (percent-encoded)": `
    report(attempt(() => new DatabaseSync('file://localhost' + DIR + '/written%2Edb')));`,
  'new DatabaseSync(relative path) from the target directory': `
    process.chdir(DIR);
    report(attempt(() => new DatabaseSync('written.db')));
    process.chdir('/');`,
  'new DatabaseSync(path, { readOnly: true }) on an existing file (read)': `
    report(attempt(() => new DatabaseSync(TARGET, { readOnly: true }).prepare('SELECT 1').get()));`,
  'new DatabaseSync(path, { open: false }).open()': `
    report(attempt(() => new DatabaseSync(TARGET, { open: false }).open()));`,
  'db.constructor of an in-memory database': `${MEM}
    report(attempt(() => new mem.constructor(TARGET)));`,
  'Object.getPrototypeOf(db).constructor': `${MEM}
    report(attempt(() => new (Object.getPrototypeOf(mem).constructor)(TARGET)));`,
  'a subclass of DatabaseSync': `
    class Mine extends DatabaseSync {}
    report(attempt(() => new Mine(TARGET)));`,
  'Reflect.construct(DatabaseSync, [path], AnotherClass)': `
    function Other() {}
    Other.prototype = DatabaseSync.prototype;
    report(attempt(() => Reflect.construct(DatabaseSync, [TARGET], Other)));`,
  'the ESM named import': `
    const file = '/dev/shm/rt7-esm-' + process.pid + '.mjs';
    fs.writeFileSync(file, "import { DatabaseSync } from 'node:sqlite'; try { new DatabaseSync(process.env.RT_TARGET); } catch {}");
    try { await import(file); } finally { fs.unlinkSync(file); }
    report({ done: true });`,
  // SQL that opens files
  "exec('ATTACH <literal>')": `${MEM}
    report(attempt(() => mem.exec("ATTACH DATABASE '" + TARGET + "' AS e; CREATE TABLE e.z(b)")));`,
  "exec('attach <literal>') in lower case after a comment and a string": `${MEM}
    report(attempt(() => mem.exec("SELECT '--;' /* ; */; -- ;\\n attach '" + TARGET + "' as e")));`,
  "prepare('ATTACH ? AS e').run(path) (a bound parameter)": `${MEM}
    report(attempt(() => mem.prepare('ATTACH ? AS e').run(TARGET)));`,
  "prepare('ATTACH :f AS e').all({ f }) / get / iterate": `${MEM}
    report(attempt(() => mem.prepare('ATTACH :f AS e').all({ f: TARGET })));
    report(attempt(() => mem.prepare('ATTACH :f AS e2').get({ f: TARGET + '2' })));
    report(attempt(() => mem.prepare('ATTACH :f AS e3').iterate({ f: TARGET + '3' }).next()));`,
  'ATTACH of a concatenation': `${MEM}
    report(attempt(() => mem.exec("ATTACH '" + DIR + "/' || 'written.db' AS e")));`,
  "ATTACH behind a TCL-style variable ($a(')...')) that hides it from a naive tokenizer": `${MEM}
    report(attempt(() => mem.exec("SELECT $a(');ATTACH '" + TARGET + "' AS t;--')")));
    report(attempt(() => mem.exec("SELECT @b(');ATTACH '" + TARGET + "2' AS t2;--')")));`,
  'ATTACH of a quoted identifier, a bracket name and a backtick name': `${MEM}
    report(attempt(() => mem.exec('ATTACH "' + TARGET + '" AS q1')));
    report(attempt(() => mem.exec('ATTACH [' + TARGET + '2] AS q2')));
    report(attempt(() => mem.exec('ATTACH \`' + TARGET + '3\` AS q3')));`,
  'ATTACH of a bare identifier (a relative file) from the target directory': `${MEM}
    process.chdir(DIR);
    report(attempt(() => mem.exec('ATTACH written AS w')));
    process.chdir('/');`,
  "ATTACH 'file:...?mode=rwc' (a URI)": `${MEM}
    report(attempt(() => mem.exec("ATTACH 'file:" + TARGET + "?mode=rwc' AS u")));`,
  'ATTACH as the second statement of an exec, on a file database in an ungoverned directory': `
    const db = new DatabaseSync('/dev/shm/rt7-main-' + process.pid + '.db');
    report(attempt(() => db.exec("CREATE TABLE IF NOT EXISTS a(x); ATTACH '" + TARGET + "' AS e")));
    db.close();
    require('node:fs').rmSync('/dev/shm/rt7-main-' + process.pid + '.db', { force: true });`,
  "VACUUM INTO '<literal>'": `${MEM}
    report(attempt(() => mem.exec("CREATE TABLE t(x); VACUUM INTO '" + TARGET + "'")));`,
  'VACUUM main INTO a concatenation, and INTO ?': `${MEM}
    report(attempt(() => mem.exec("VACUUM main INTO '" + DIR + "/' || 'a.db'")));
    report(attempt(() => mem.prepare('VACUUM INTO ?').run(TARGET)));`,
  'new DatabaseSync(path) and ATTACH in a worker thread': `
    const { Worker } = require('node:worker_threads');
    await new Promise((resolve) => {
      const worker = new Worker(\`
        const { DatabaseSync } = require('node:sqlite');
        const { parentPort } = require('node:worker_threads');
        const code = (fn) => { try { fn(); return 'done'; } catch (error) { return error.code; } };
        parentPort.postMessage({ open: code(() => new DatabaseSync(process.env.RT_TARGET)),
          attach: code(() => new DatabaseSync(':memory:').exec("ATTACH '" + process.env.RT_TARGET + "2' AS e")) });\`,
        { eval: true });
      worker.on('message', (message) => report({ worker: message }));
      worker.on('error', (error) => report({ workerError: error.code }));
      worker.on('exit', resolve);
    });`,
  'backup(db, path)': `${MEM}
    report(await sqlite.backup(mem, TARGET).then((pages) => ({ pages }), (error) => ({ error: error.code })));`,
};

// Attacks on the judgement itself: arguments that answer the agent one thing and Node another (each
// read once, and Node given what was read).
const AGAINST_THE_JUDGEMENT: Record<string, string> = {
  'new DatabaseSync({ href }) whose href answers an ungoverned file first': `
    let reads = 0;
    report(attempt(() => new DatabaseSync({ get href() { return reads++ === 0 ? 'file:///dev/shm/rt7-' + process.pid : 'file://' + TARGET; } })));`,
  'an options object whose open getter answers false to the agent and true to Node': `
    let reads = 0;
    report(attempt(() => new DatabaseSync(TARGET, { get open() { return reads++ !== 0; } })));`,
};

describe.skipIf(!haveSqliteNode)('red team 7: node:sqlite files (filesystem deny)', () => {
  for (const [name, body] of [...Object.entries(FINDINGS), ...Object.entries(AGAINST_THE_JUDGEMENT)]) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body, {
        // the read-only open needs an existing file: the test process makes it (a write the agent never sees)
        setup: name.includes('readOnly') ? (dir) => writeFileSync(join(dir, 'written.db'), '') : undefined,
      });
      if (name.includes('readOnly')) {
        expect(merged(results), JSON.stringify(results)).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
        expect(created).toEqual(['written.db']);
      } else expect(created, JSON.stringify(results)).toEqual([]);
      // (the worker did run: it reports its own refusals)
      if (name.includes('worker'))
        expect(merged(results).worker).toEqual({ open: 'ERR_ACCESS_DENIED', attach: 'ERR_ACCESS_DENIED' });
    });
  }

  it('refuses with ERR_ACCESS_DENIED naming the policy group and rule, one deny event per target', async () => {
    const { results, created, events } = await attack(`${MEM}
      const first = attempt(() => new DatabaseSync(TARGET));
      let message = '';
      try { new DatabaseSync(TARGET); } catch (error) { message = error.message; }
      report({ first, message,
        attach: attempt(() => mem.exec("ATTACH '" + TARGET + "' AS e")),
        param: attempt(() => mem.prepare('ATTACH ? AS e').run(TARGET)) });`);
    expect(created).toEqual([]);
    const result = merged(results);
    expect(result).toMatchObject({
      first: { error: 'ERR_ACCESS_DENIED' },
      attach: { error: 'ERR_ACCESS_DENIED' },
      param: { error: 'ERR_ACCESS_DENIED' },
    });
    expect(result.message).toContain('policy group "redteam-deny"');
    const denies = events.filter((event) => event.category === 'filesystem' && event.action === 'deny');
    const targets = denies.map((event) => event.target);
    expect(targets.filter((target) => target.endsWith('/written.db')).length).toBeGreaterThanOrEqual(1);
    expect(targets.some((target) => target.includes('ATTACH ?'))).toBe(true);
  });
});

describe.skipIf(!haveSqliteNode)('red team 7: node:sqlite, refused without a file to show for it', () => {
  // SQLite's temporary files go there, created and unlinked at once (nothing stays to be seen), and
  // it tells whether the directory exists and is writable: refused like any write there
  it('refuses PRAGMA temp_store_directory naming a governed directory (ungoverned: allowed)', async () => {
    const { results, events } = await attack(`${MEM}
      report({ governed: attempt(() => mem.exec("PRAGMA temp_store_directory = '" + DIR + "'")),
        quoted: attempt(() => mem.exec("PRAGMA main.\\"TEMP_STORE_DIRECTORY\\"('" + DIR + "')")),
        ungoverned: attempt(() => mem.exec("PRAGMA temp_store_directory = '/dev/shm'; PRAGMA temp_store_directory = ''")),
        query: attempt(() => mem.prepare('PRAGMA temp_store_directory').all().length) });`);
    expect(merged(results)).toEqual({
      governed: { error: 'ERR_ACCESS_DENIED' },
      quoted: { error: 'ERR_ACCESS_DENIED' },
      ungoverned: {},
      query: { ok: expect.any(Number) },
    });
    const denies = events.filter((event) => event.action === 'deny');
    expect(denies.length).toBeGreaterThan(0);
    for (const event of denies)
      expect(event).toMatchObject({ operation: 'write', details: { call: 'sqlite.DatabaseSync.exec' } });
  });
});

describe.skipIf(!haveSqliteNode)('red team 7: node:sqlite, held (regression)', () => {
  it('no binding below node:sqlite, one module object, EXPLAIN runs nothing, load_extension() in SQL unauthorised', async () => {
    const { results, created } = await attack(`${MEM}
      report({ binding: attempt(() => process.binding('sqlite')).error,
        same: process.getBuiltinModule('node:sqlite') === sqlite,
        nul: attempt(() => mem.exec("SELECT 1;\0ATTACH '" + TARGET + "' AS n")).error,
        sqlFunction: attempt(() => mem.prepare("SELECT load_extension('/nonexistent/x')").get()).error });`);
    expect(created).toEqual([]);
    expect(merged(results)).toMatchObject({ same: true, sqlFunction: 'ERR_SQLITE_ERROR' });
    expect(merged(results).binding).not.toBeUndefined();
  });
});

describe.skipIf(!haveSqliteNode)('red team 7: sqlite extensions (process deny)', () => {
  const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((path) => existsSync(path));
  it.skipIf(!cc)(
    'blocks loadExtension(path) of a shared object whose constructor writes a file',
    async () => {
      const build = targetDir();
      try {
        const source = join(build.dir, 'ext.c');
        const library = join(build.dir, 'ext.so');
        writeFileSync(
          source,
          `#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void loaded(void) {
  const char *dir = getenv("RT_TARGET_DIR");
  char path[4096];
  if (!dir) return;
  snprintf(path, sizeof path, "%s/extension-ran", dir);
  FILE *f = fopen(path, "w");
  if (f) fclose(f);
}
int sqlite3_extension_init(void *db, char **error, const void *api) { return 0; }
`,
        );
        execFileSync(cc as string, ['-shared', '-fPIC', '-o', library, source]);
        // filesystem granted: only the process hook judges the load (the constructor writes into DIR)
        const { results, created, events } = await attack(
          `const db = new DatabaseSync(':memory:', { allowExtension: true });
        db.enableLoadExtension(true);
        report(attempt(() => db.loadExtension(${JSON.stringify(library)})));
        report({ sql: attempt(() => db.prepare(${JSON.stringify(`SELECT load_extension('${library}')`)}).get()) });`,
          { policy: policy({ name: 'rt7-process', network: 'deny', filesystem: 'grant', process: 'deny' }) },
        );
        expect(created, JSON.stringify(results)).toEqual([]);
        const result = merged(results);
        expect(result).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
        // held: the SQL function load_extension() stays unauthorised (Node enables only the C API)
        expect(result.sql).toMatchObject({ error: 'ERR_SQLITE_ERROR' });
        expect(
          events
            .filter((event) => event.category === 'process' && event.operation === 'load')
            .map((e) => e.target),
        ).toEqual([library]);
      } finally {
        build.remove();
      }
    },
  );
});

describe.skipIf(!haveSqliteNode)('red team 7: node:sqlite transparency and modes', () => {
  it('under deny: in-memory, temporary and ungoverned databases keep working, and SQL that only looks like ATTACH', async () => {
    const shm = `/dev/shm/rt7-ok-${process.pid}`;
    rmSync(shm, { recursive: true, force: true });
    mkdirSync(shm);
    try {
      const { results, events, created } = await attack(`
        const mem = new DatabaseSync(':memory:');
        mem.exec("CREATE TABLE attach(vacuum, \\"into\\"); INSERT INTO attach VALUES ('please attach it', 'VACUUM INTO x')");
        mem.exec("CREATE TRIGGER tr AFTER INSERT ON attach BEGIN SELECT 'ATTACH'; END; INSERT INTO attach VALUES (1, 2)");
        const rows = mem.prepare('SELECT attach.vacuum AS v FROM attach ORDER BY rowid').all().map((row) => row.v);
        mem.exec("ATTACH ':memory:' AS scratch; CREATE TABLE scratch.s(x); DETACH scratch");
        mem.exec("ATTACH '' AS temporary; DETACH temporary");
        mem.exec("ATTACH 'file:memdb1?mode=memory&cache=shared' AS shared; DETACH shared");
        const temporary = new DatabaseSync('');
        temporary.exec('CREATE TABLE t(x)');
        const file = new DatabaseSync(${JSON.stringify(`${shm}/app.db`)});
        file.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)");
        file.exec("ATTACH '${shm}/other.db' AS other; CREATE TABLE other.o(x); VACUUM INTO '${shm}/copy.db'");
        const uri = new DatabaseSync('file:${shm}/uri.db?mode=rwc');
        uri.exec('CREATE TABLE u(x)');
        const url = new DatabaseSync(new URL('file://${shm}/url.db'));
        const later = new DatabaseSync('${shm}/later.db', { open: false });
        later.open();
        class Mine extends DatabaseSync { hello() { return 'hi'; } }
        const mine = new Mine(':memory:');
        const pages = await sqlite.backup(file, '${shm}/backup.db');
        report({ rows, hello: mine.hello(), instance: mine instanceof DatabaseSync, sameClass: mem.constructor === DatabaseSync,
          name: DatabaseSync.name, length: DatabaseSync.length, pages: pages > 0,
          notNew: attempt(() => DatabaseSync(':memory:')).error, badPath: attempt(() => new DatabaseSync(5)).error });`);
      expect(merged(results)).toEqual({
        rows: ['please attach it', 1],
        hello: 'hi',
        instance: true,
        sameClass: true,
        name: 'DatabaseSync',
        length: 0,
        pages: true,
        notNew: 'ERR_CONSTRUCT_CALL_REQUIRED',
        badPath: 'ERR_INVALID_ARG_TYPE',
      });
      expect(created).toEqual([]);
      expect(events.filter((event) => event.category === 'filesystem')).toEqual([]);
      expect(readdirSync(shm).sort()).toEqual(
        expect.arrayContaining([
          'app.db',
          'backup.db',
          'copy.db',
          'later.db',
          'other.db',
          'uri.db',
          'url.db',
        ]),
      );
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });

  it('under deny: a database under allowedPaths keeps working', async () => {
    const { results, created, events } = await attack(
      `const db = new DatabaseSync(DIR + '/allowed.db');
      db.exec("CREATE TABLE t(x); ATTACH '" + DIR + "/more.db' AS more; CREATE TABLE more.m(y)");
      report({ rows: db.prepare('SELECT count(*) AS n FROM t').get().n });`,
      {
        policy: (dir) =>
          policy({
            name: 'rt7-allowed',
            network: 'deny',
            filesystem: 'deny',
            process: 'deny',
            allowedPaths: [dir],
          }),
      },
    );
    expect(merged(results)).toEqual({ rows: 0 });
    expect(created.sort()).toEqual(['allowed.db', 'more.db']);
    expect(events.filter((event) => event.category === 'filesystem')).toEqual([]);
  });

  it('under observe: allowed and reported once per target', async () => {
    const { results, created, events } = await attack(
      `${MEM}
      for (let i = 0; i < 2; i++) new DatabaseSync(TARGET).close();
      mem.exec("ATTACH '" + DIR + "/attached.db' AS a; DETACH a");
      mem.exec("ATTACH '" + DIR + "/attached.db' AS a; DETACH a");
      mem.prepare('ATTACH ? AS p').run(DIR + '/param.db');
      report({ done: true });`,
      { policy: policy({ name: 'rt7-observe', network: 'deny', filesystem: 'observe', process: 'deny' }) },
    );
    expect(merged(results)).toEqual({ done: true });
    expect(created.sort()).toEqual(['attached.db', 'param.db', 'written.db']);
    const observed = events.filter((event) => event.category === 'filesystem');
    expect(observed.every((event) => event.action === 'observe')).toBe(true);
    // one event at the first occurrence, repeats only counted (report.ts): the counts add up to the calls
    const counted = (suffix: string) =>
      observed
        .filter((event) => event.target.endsWith(suffix))
        .reduce((sum, event) => sum + (event.count ?? 1), 0);
    expect([counted('/written.db'), counted('/attached.db'), counted('sqlite ATTACH ?')]).toEqual([2, 2, 1]);
    expect(observed.find((event) => event.target.endsWith('/written.db'))).toMatchObject({
      operation: 'write',
      details: { call: 'sqlite.DatabaseSync' },
    });
    expect(observed.filter((event) => event.target.endsWith('/param.db'))).toEqual([]);
  });

  it('under grant: no hooks, and node:sqlite is not loaded by the agent', async () => {
    const { results } = await attack(
      `const native = (fn) => Function.prototype.toString.call(fn).includes('[native code]');
      report({ loadedAtStart: LOADED_AT_START, native: native(DatabaseSync),
        methods: ['open', 'exec', 'prepare', 'loadExtension'].every((key) => native(DatabaseSync.prototype[key])),
        backup: native(sqlite.backup) });`,
      { policy: policy({ name: 'rt7-grant', network: 'deny', filesystem: 'grant', process: 'grant' }) },
    );
    expect(merged(results)).toEqual({ loadedAtStart: false, native: true, methods: true, backup: true });
  });
});

describe('red team 7: node:sqlite on Node 20', () => {
  it.skipIf(SUITE_MAJOR >= 22)(
    'the hook is a no-op where Node has no node:sqlite (runs when the suite runs on Node 20)',
    async () => {
      const run = await runFixture({
        policy: DENY_ALL,
        source: attackSource(
          `report({ sqlite: attempt(() => require('node:sqlite')).error, version: process.versions.node });`,
        ),
        timeoutMs: 30_000,
      });
      const results = appResults(run);
      cleanup(run);
      expect(merged(results)).toMatchObject({ sqlite: 'ERR_UNKNOWN_BUILTIN_MODULE' });
      expect(run.stderr).not.toContain('could not be installed');
      expect(run.stderr).not.toContain('ExperimentalWarning');
    },
  );
});
