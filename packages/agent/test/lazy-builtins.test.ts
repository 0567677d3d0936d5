// Modules the Lambda runtime never loads (child_process, dns, dgram) are hooked when the app loads
// them, not at start (src/builtin-loads.ts): whichever way they are loaded, the app gets the hooked
// functions, with the same errors as if they had been hooked at start; and an app that takes the
// watch out still gets every call judged by the bindings below.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appResult, cleanup, policy, type RunResult, runFixture } from './harness.js';

const DENY = policy({ name: 'lazy-deny', network: 'deny', filesystem: 'grant', process: 'deny' });
const OBSERVE = policy({ name: 'lazy-observe', network: 'observe', filesystem: 'grant', process: 'observe' });

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

async function run(source: string, fields: Record<string, unknown>, type: 'cjs' | 'esm' = 'cjs') {
  const dir = mkdtempSync(join(tmpdir(), 'lazy-builtins-'));
  dirs.push(dir);
  const result = await runFixture({ source, type, policy: fields, cwd: dir, args: [dir] });
  runs.push(result);
  const markers = readdirSync(dir).filter((name) => name.startsWith('marker-'));
  return { result, markers, outcome: appResult<Record<string, unknown>>(result) };
}

// Each operation's outcome: how it failed (code, and whether it threw synchronously) or that it ran.
const OPERATIONS = `
const dir = process.argv[2];
const touch = (name) => ['-c', 'touch ' + JSON.stringify(dir + '/marker-' + name)];
const outcome = {};
const settle = (name, promise) => promise.then(
  (value) => { outcome[name] = { ok: true, value }; },
  (error) => { outcome[name] = { code: error.code }; },
);
const syncOutcome = (name, work) => {
  try { outcome[name] = { ok: true, value: work() }; } catch (error) { outcome[name] = { code: error.code, threw: true }; }
};
async function operate({ execFileSync, spawn, spawnSync }, dnsPromises, dgram) {
  syncOutcome('execFileSync', () => String(execFileSync('/bin/sh', touch('execFileSync'))));
  try {
    const result = spawnSync('/bin/sh', touch('spawnSync'));
    outcome.spawnSync = { returnedError: result.error && result.error.code };
  } catch (error) { outcome.spawnSync = { code: error.code, threw: true }; }
  await settle('spawn', new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', touch('spawn'));
    child.on('error', reject);
    child.on('exit', resolve);
  }));
  await settle('resolveTxt', dnsPromises.resolveTxt('exfiltrate.example.invalid'));
  await settle('udpSend', new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.send('x', 9, '127.0.0.2', (error) => { socket.close(); error ? reject(error) : resolve(); });
  }));
}
const report = () => console.log(JSON.stringify({ result: outcome }));
`;

const DENIED_AS_AT_START = {
  execFileSync: { code: 'ERR_ACCESS_DENIED', threw: true },
  spawnSync: { returnedError: 'ERR_ACCESS_DENIED' },
  spawn: { code: 'ERR_ACCESS_DENIED' },
  resolveTxt: { code: 'ERR_ACCESS_DENIED' },
  udpSend: { code: 'ERR_ACCESS_DENIED' },
};

describe('modules hooked when the app loads them', () => {
  it('are not loaded by the agent itself', async () => {
    const { outcome } = await run(
      `const list = process.moduleLoadList;
       console.log(JSON.stringify({ result: ['child_process', 'dns', 'dns/promises', 'dgram'].filter((id) => list.includes('NativeModule ' + id)) }));`,
      DENY,
    );
    expect(outcome).toEqual([]);
  });

  it('fail under deny as if hooked at start when first loaded by ESM named imports', async () => {
    const { outcome, markers } = await run(
      `import { execFileSync, spawn, spawnSync } from 'node:child_process';
       import dnsPromises from 'node:dns/promises';
       import dgram from 'node:dgram';
       ${OPERATIONS}
       await operate({ execFileSync, spawn, spawnSync }, dnsPromises, dgram);
       report();`,
      DENY,
      'esm',
    );
    expect(outcome).toEqual(DENIED_AS_AT_START);
    expect(markers).toEqual([]);
  });

  it('fail under deny as if hooked at start when first loaded by require', async () => {
    const { outcome, markers } = await run(
      `${OPERATIONS}
       operate(require('node:child_process'), require('node:dns').promises, require('node:dgram')).then(report);`,
      DENY,
    );
    expect(outcome).toEqual(DENIED_AS_AT_START);
    expect(markers).toEqual([]);
  });

  it('are the hooked ones when loaded inside Node (net loads dns for its first lookup)', async () => {
    const { outcome } = await run(
      `const net = require('node:net');
       const socket = net.connect({ host: 'localhost', port: 9 });
       socket.on('error', () => {
         const dns = require('node:dns');
         console.log(JSON.stringify({ result: { loadedByNet: true, lookupHooked: !Function.prototype.toString.call(dns.lookup).includes('validateString(hostname') } }));
       });`,
      policy({
        name: 'lazy-allowed',
        network: 'deny',
        filesystem: 'grant',
        process: 'grant',
        allowedDomains: ['localhost'],
      }),
    );
    expect(outcome).toEqual({ loadedByNet: true, lookupHooked: true });
  });

  it('run and are reported under observe, the load list unchanged', async () => {
    const { outcome, markers, result } = await run(
      `import { execFileSync, spawn, spawnSync } from 'node:child_process';
       import dnsPromises from 'node:dns/promises';
       import dgram from 'node:dgram';
       ${OPERATIONS}
       await operate({ execFileSync, spawn, spawnSync }, dnsPromises, dgram);
       const list = process.moduleLoadList;
       outcome.list = { isArray: Array.isArray(list), noHoles: Object.keys(list).length === list.length, hasChildProcess: list.includes('NativeModule child_process') };
       report();`,
      OBSERVE,
      'esm',
    );
    expect(outcome.execFileSync).toEqual({ ok: true, value: '' });
    expect(outcome.spawn).toEqual({ ok: true, value: 0 });
    expect(outcome.list).toEqual({ isArray: true, noHoles: true, hasChildProcess: true });
    expect(markers.sort()).toEqual(['marker-execFileSync', 'marker-spawn', 'marker-spawnSync']);
    expect(result.events.filter((event) => event.category === 'process')).toHaveLength(3);
    expect(result.events.map((event) => [event.operation, event.target, event.details?.rrtype])).toEqual(
      expect.arrayContaining([
        ['dns', 'exfiltrate.example.invalid', 'TXT'],
        ['send', '127.0.0.2:9', undefined],
      ]),
    );
  });
});

describe('an app that breaks the load list', () => {
  // Node's push into a non-extensible list throws after the module was evaluated: each require fails
  // once per module it loads, until the module itself counts as loaded; it must come back hooked
  it('made non-extensible: a module required until it loads comes back hooked', async () => {
    const { outcome } = await run(
      `// what reporting and printing load lazily, loaded first: after this no module can load twice
       console.log('warm-up');
       require('node:dns');
       require('node:net').connect(9, '127.0.0.2').on('error', () => {});
       Object.preventExtensions(process.moduleLoadList);
       let failures = 0;
       const retry = (step) => {
         for (;;) {
           try { return step(); } catch (error) { if (++failures > 30) throw error; }
         }
       };
       const dgram = retry(() => require('node:dgram'));
       const socket = retry(() => dgram.createSocket('udp4'));
       socket.send('x', 9, '127.0.0.2', (error) => {
         socket.close();
         console.log(JSON.stringify({ result: { failedFirst: failures > 0, send: error && error.code } }));
       });`,
      DENY,
    );
    expect(outcome).toEqual({ failedFirst: true, send: 'ERR_ACCESS_DENIED' });
  });
});

describe('an app that takes the watch out before loading them', () => {
  it('still has every spawn, query and datagram judged by the bindings, and reported', async () => {
    const { outcome, markers, result } = await run(
      `Object.setPrototypeOf(process.moduleLoadList, Array.prototype);
       ${OPERATIONS}
       operate(require('node:child_process'), require('node:dns').promises, require('node:dgram')).then(report);`,
      DENY,
    );
    // every operation failed and no child ran; the errors are the bindings' own: EACCES where the
    // module hook would have put ERR_ACCESS_DENIED, spawnSync throwing where it would have returned it
    expect(outcome).toEqual({
      execFileSync: { code: 'ERR_ACCESS_DENIED', threw: true },
      spawnSync: { code: 'ERR_ACCESS_DENIED', threw: true },
      spawn: { code: 'EACCES' },
      resolveTxt: { code: 'EACCES' },
      udpSend: { code: 'EACCES' },
    });
    expect(markers).toEqual([]);
    const denied = result.events.filter((event) => event.action === 'deny');
    expect(denied.filter((event) => event.category === 'process')).toHaveLength(3);
    expect(denied.some((event) => event.operation === 'dns')).toBe(true);
    expect(denied.some((event) => event.operation === 'send')).toBe(true);
  });
});
