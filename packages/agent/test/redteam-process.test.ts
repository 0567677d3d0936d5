// Red team, processes: a hostile app tries to run a program under `process: deny`, and, where
// starting a Node child is allowed (process observe), to start it WITHOUT the agent so that the
// child can reach what the parent may not. The observers live in the test process: a loopback
// server on 127.0.0.2 that must see no connection, and a file that a child would create.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentPath, appResults, cleanup, policy, runFixture } from './harness.js';
import { attackSource, DENY_ALL, targetDir, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

/** Node children may start (observed), network is denied: a child must carry the agent. */
const NODE_CHILDREN_OBSERVED = policy({
  name: 'redteam-children',
  network: 'deny',
  filesystem: 'observe',
  process: 'observe',
  allowedDomains: ['localhost'],
});

async function attack(body: string, group: Record<string, unknown>) {
  const target = targetDir();
  const targetFile = join(target.dir, 'created-by-a-child');
  try {
    const before = server.accepted();
    const run = await runFixture({
      policy: group,
      source: attackSource(body),
      env: {
        RT_PORT: String(server.port),
        RT_TARGET: targetFile,
        RT_NODE: process.execPath,
        RT_AGENT: agentPath,
        // outside every governed directory, so even filesystem deny lets the app write it
        RT_OUTSIDE_FILE: join('/dev/shm', `redteam-preload-${process.pid}-${Date.now()}.cjs`),
      },
      timeoutMs: 20_000,
    });
    const results = appResults(run);
    const outcome = { results, accepted: server.accepted() - before, created: existsSync(targetFile) };
    cleanup(run);
    return outcome;
  } finally {
    target.remove();
  }
}

// A child that creates the target file; any child that runs at all leaves it behind.
const TOUCH = `['-c', 'echo > "$0"', TARGET]`;

const SPAWNS: Record<string, string> = {
  'child_process.execFileSync': `report(attempt(() => require('node:child_process').execFileSync('/bin/sh', ${TOUCH})));`,
  'child_process.execSync (a shell command line)': `report(attempt(() => require('node:child_process').execSync('echo > ' + JSON.stringify(TARGET))));`,
  'child_process.spawn, the error caught': `
    const child = require('node:child_process').spawn('/bin/sh', ${TOUCH});
    report(await new Promise((resolve) => { child.on('error', (error) => resolve({ error: error.code })); child.on('exit', () => resolve({ ran: true })); }));`,
  "raw process.binding('spawn_sync').spawn": `
    report(attempt(() => process.binding('spawn_sync').spawn({ file: '/bin/sh', args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] })));`,
  "raw process.binding('process_wrap') Process#spawn": `
    const { Process } = process.binding('process_wrap');
    const child = new Process();
    child.onexit = () => {};
    const status = child.spawn({ file: '/bin/sh', args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] });
    await settle(300);
    report({ error: status === 0 ? 'spawned' : 'ERR_ACCESS_DENIED', status });`,
  'process.execve (Node >= 22.15), absent elsewhere': `
    report(typeof process.execve === 'function'
      ? attempt(() => process.execve('/bin/sh', ['/bin/sh', '-c', 'echo > "$0"', TARGET]))
      : { error: 'ERR_ACCESS_DENIED', absent: true });`,
  'process.dlopen of a native addon': `report(attempt(() => process.dlopen({ exports: {} }, '/nonexistent/addon.node')));`,
  'a worker started with --expose-internals (internalBinding without any hook)': `
    const { Worker } = require('node:worker_threads');
    report(attempt(() => new Worker('1', { eval: true, execArgv: ['--expose-internals'] })));`,
  'a worker with --expose-internals while Array.prototype.some/map lie': `
    const { Worker } = require('node:worker_threads');
    Array.prototype.some = () => false;
    Array.prototype.map = function () { return []; };
    report(attempt(() => new Worker('1', { eval: true, execArgv: ['--expose-internals'] })));`,
  'an ERR_ACCESS_DENIED caught and the spawn retried': `
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(attempt(() => require('node:child_process').execFileSync('/bin/sh', ${TOUCH})).error);
    report({ error: [...new Set(outcomes)].join(',') });`,
};

// Each starts a Node child that tries to connect to the forbidden server and says how it ended.
const CHILD_SCRIPT = `"const s = require('net').connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { console.log('CHILD connected'); s.destroy(); }); s.on('error', (e) => console.log('CHILD ' + e.code));"`;
const CHILDREN: Record<string, string> = {
  'fork with execArgv: [] and env: {}': `
    const file = require('node:path').join(process.cwd(), 'child.cjs');
    require('node:fs').writeFileSync(file, ${CHILD_SCRIPT});
    const child = require('node:child_process').fork(file, [], { execArgv: [], env: {}, stdio: 'pipe' });
    let out = ''; child.stdout.on('data', (d) => { out += d; });
    await new Promise((resolve) => child.on('exit', resolve));
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'spawn node with NODE_OPTIONS cleared and a lenient ES_POLICY_FILE': `
    const fs = require('node:fs');
    const lenient = require('node:path').join(process.cwd(), 'lenient.json');
    fs.writeFileSync(lenient, JSON.stringify({ name: 'lenient', network: 'grant' }));
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: { NODE_OPTIONS: '', ES_POLICY_FILE: lenient } }).toString();
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  "spawn node with NODE_OPTIONS='--require /dev/null' (an unrelated preload)": `
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: { NODE_OPTIONS: '--require /dev/null' } }).toString();
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'process.env.NODE_OPTIONS deleted before a spawn that inherits the environment': `
    delete process.env.NODE_OPTIONS;
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}]).toString();
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  "NODE_OPTIONS merely mentioning the agent's path (--title=<agent>)": `
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: { NODE_OPTIONS: '--title=' + process.env.RT_AGENT } }).toString();
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'NODE_OPTIONS with a preload of the app that disarms the agent before it loads': `
    const evil = process.env.RT_OUTSIDE_FILE;
    require('node:fs').writeFileSync(evil, "Object.defineProperty(globalThis, Symbol.for('appdefender.agent'), { value: true });");
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: { NODE_OPTIONS: '--require ' + evil } }).toString();
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'a child whose --experimental-loader (module hooks thread) connects': `
    const hook = 'data:text/javascript,' + encodeURIComponent("import net from 'node:net'; const s = net.connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { process.stderr.write('CHILD connected\\\\n'); s.destroy(); }); s.on('error', (e) => process.stderr.write('CHILD ' + e.code + '\\\\n')); export async function resolve(s, c, n) { return n(s, c); }");
    const run = require('node:child_process').spawnSync(process.env.RT_NODE, ['--no-warnings', '--experimental-loader', hook, '-e', 'setTimeout(() => {}, 500)'], { env: {} });
    report({ child: String(run.stderr).split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'a child whose --import preload connects': `
    const preload = 'data:text/javascript,' + encodeURIComponent("import net from 'node:net'; const s = net.connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { process.stderr.write('CHILD connected\\\\n'); s.destroy(); }); s.on('error', (e) => process.stderr.write('CHILD ' + e.code + '\\\\n'));");
    const run = require('node:child_process').spawnSync(process.env.RT_NODE, ['--import', preload, '-e', 'setTimeout(() => {}, 500)'], { env: {} });
    report({ child: String(run.stderr).split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'String.prototype.includes lying that NODE_OPTIONS already holds the agent': `
    const includes = String.prototype.includes;
    const fromAgentHere = () => includes.call(new Error().stack || '', 'agent.cjs');
    String.prototype.includes = function (...args) { return fromAgentHere() && includes.call(String(this), '--max-old-space-size') ? true : includes.apply(this, args); };
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: { NODE_OPTIONS: '--max-old-space-size=64' } }).toString();
    String.prototype.includes = includes;
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
  'Array.prototype.push dropping the re-injected NODE_OPTIONS': `
    const push = Array.prototype.push;
    const includes = String.prototype.includes;
    const fromAgentHere = () => includes.call(new Error().stack || '', 'agent.cjs');
    Array.prototype.push = function (...items) { if (fromAgentHere() && items.some((item) => typeof item === 'string' && item.startsWith('NODE_OPTIONS='))) return this.length; return push.apply(this, items); };
    const out = require('node:child_process').execFileSync(process.env.RT_NODE, ['-e', ${CHILD_SCRIPT}], { env: {} }).toString();
    Array.prototype.push = push;
    report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
};

describe('red team: starting programs under process deny', () => {
  for (const [name, body] of Object.entries(SPAWNS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body, DENY_ALL);
      expect(created, JSON.stringify(results)).toBe(false);
      expect(String(results[0]?.error ?? results[0]?.crashed), JSON.stringify(results)).toBe(
        'ERR_ACCESS_DENIED',
      );
    });
  }
});

// `/bin/true` is allowed; each options object answers `/bin/true` to the first read and `/bin/sh`
// (which creates the target) to every later one: the binding must start what was judged.
const CHANGING_ANSWERS: Record<string, string> = {
  'spawn_sync binding options with a getter for file': `
    let reads = 0;
    const options = { args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }], get file() { return reads++ === 0 ? '/bin/true' : '/bin/sh'; } };
    report(attempt(() => process.binding('spawn_sync').spawn(options).status));`,
  'process_wrap options with a getter for file': `
    let reads = 0;
    const { Process } = process.binding('process_wrap');
    const child = new Process();
    child.onexit = () => {};
    const options = { args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }], get file() { return reads++ === 0 ? '/bin/true' : '/bin/sh'; } };
    const status = child.spawn(options);
    await settle(300);
    report({ error: status === 0 ? 'spawned' : 'ERR_ACCESS_DENIED', status });`,
  'ChildProcess#spawn options with a getter for file': `
    let reads = 0;
    const child = new (require('node:child_process').ChildProcess)();
    const options = { args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: 'ignore', get file() { return reads++ === 0 ? '/bin/true' : '/bin/sh'; } };
    const outcome = await new Promise((resolve) => {
      child.on('error', (error) => resolve({ error: error.code }));
      child.on('exit', () => resolve({ ran: true }));
      try { child.spawn(options); } catch (error) { resolve({ error: error.code }); }
    });
    report(outcome);`,
  'a file whose toString answers differently each time': `
    let reads = 0;
    const file = { toString: () => (reads++ === 0 ? '/bin/true' : '/bin/sh') };
    report(attempt(() => process.binding('spawn_sync').spawn({ file, args: ['/bin/sh', '-c', 'echo > "$0"', TARGET], envPairs: [], stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] }).status));`,
};

describe('red team: process.dlopen loads exactly what was judged', () => {
  it('a filename whose toString answers an allowed addon first and another one next', async () => {
    const { results } = await attack(
      `let reads = 0;
       const filename = { toString: () => (reads++ === 0 ? '/nonexistent/allowed.node' : '/nonexistent/evil.node') };
       try { process.dlopen({ exports: {} }, filename); report({ loaded: true }); }
       catch (error) { report({ error: error.code, message: String(error.message) }); }`,
      { ...DENY_ALL, allowedCommands: ['/nonexistent/allowed.node'] },
    );
    // dlopen was handed the judged (allowed) path, which does not exist: evil.node was never tried
    expect(String(results[0]?.message)).toContain('allowed.node');
    expect(String(results[0]?.message)).not.toContain('evil.node');
  });
});

describe('red team: the binding starts exactly what was judged (process deny, /bin/true allowed)', () => {
  for (const [name, body] of Object.entries(CHANGING_ANSWERS)) {
    it(`blocks ${name}`, async () => {
      const { results, created } = await attack(body, { ...DENY_ALL, allowedCommands: ['/bin/true'] });
      // what ran (if anything) is the judged /bin/true, or the changed answer was judged and denied
      expect(created, JSON.stringify(results)).toBe(false);
    });
  }
});

describe('red team: Node children keep the agent (process observe, network deny)', () => {
  for (const [name, body] of Object.entries(CHILDREN)) {
    it(`${name}: the child is still denied`, async () => {
      const { results, accepted } = await attack(body, NODE_CHILDREN_OBSERVED);
      expect(accepted, JSON.stringify(results)).toBe(0);
      expect(results[0]).toEqual({ child: ['CHILD ERR_ACCESS_DENIED'] });
    });
  }

  // KNOWN BYPASS: a program that is not Node (here a shell, allowed because process is only
  // observed) can start a Node grandchild without NODE_OPTIONS; the agent lives in Node processes
  // and cannot follow a shell's own exec. Mitigation: `process: deny` with a narrow allowedCommands.
  it.skip('a shell that unsets NODE_OPTIONS and execs node: the grandchild is still denied', async () => {
    const { results, accepted } = await attack(
      `const out = require('node:child_process').execFileSync('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$0" -e "$1"', process.env.RT_NODE, ${CHILD_SCRIPT}]).toString();
       report({ child: out.split('\\n').filter((l) => l.startsWith('CHILD')) });`,
      NODE_CHILDREN_OBSERVED,
    );
    expect(accepted).toBe(0);
    expect(results[0]).toEqual({ child: ['CHILD ERR_ACCESS_DENIED'] });
  });
});

describe('red team: worker options', () => {
  it('an execArgv getter answering the judge nothing and the Worker --expose-internals gives the worker no internals', async () => {
    const { results } = await attack(
      `
    const { Worker } = require('node:worker_threads');
    let reads = 0;
    const options = { eval: true, get execArgv() { return reads++ === 0 ? undefined : ['--expose-internals']; } };
    const outcome = await new Promise((resolve) => {
      let worker;
      try { worker = new Worker("require('worker_threads').parentPort.postMessage(typeof require('internal/test/binding').internalBinding)", options); }
      catch (error) { resolve({ error: error.code || String(error) }); return; }
      worker.on('message', (type) => resolve({ internals: type }));
      worker.on('error', (error) => resolve({ error: error.code || String(error) }));
    });
    report(outcome);`,
      DENY_ALL,
    );
    // the Worker got the judged answer (no flags): internal modules are not there, or it was denied
    expect(results[0]).not.toEqual({ internals: 'function' });
    expect(String(results[0]?.error)).toMatch(/MODULE_NOT_FOUND|ERR_ACCESS_DENIED/);
  });
});
