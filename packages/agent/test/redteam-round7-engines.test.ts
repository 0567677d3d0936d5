// Red team, round 7: native code loaded through OpenSSL, outside `process.dlopen`.
// A shared object whose constructor writes a marker file is handed to OpenSSL as an engine (by path,
// or by id from OPENSSL_ENGINES), or named in an OpenSSL configuration that a child process reads at
// start (OPENSSL_CONF, --openssl-config, OPENSSL_MODULES with --enable-fips). Under `process: deny`
// the marker must never appear: the library is machine code the agent cannot see into, a `load`.
// Each finding's test failed against the bundle before its fix (see the commit messages).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  appResults,
  cleanup,
  ensureAgentBuilt,
  policy,
  runFixture,
  testNodeBinary,
} from './harness.js';
import { attackSource, DENY_ALL } from './redteam-support.js';

const gcc = spawnSync('gcc', ['--version']).status === 0 ? 'gcc' : undefined;
const SKIP_REASON = 'gcc is not installed: the attack library cannot be built';
// process.execve exists from Node 22.15 on, in the Node the fixtures run on
const hasExecve =
  execFileSync(testNodeBinary(), ['-p', 'typeof process.execve'], { encoding: 'utf8' }).trim() === 'function';
const openssl = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((path) => existsSync(path));

let dir = '';
let engine = '';
let marker = '';
let engineConfig = '';
let providerConfig = '';
let benignConfig = '';
let modulesDir = '';

beforeAll(async () => {
  await ensureAgentBuilt();
  if (!gcc) return;
  dir = mkdtempSync(join(tmpdir(), 'redteam-engines-'));
  marker = join(dir, 'marker');
  writeFileSync(
    join(dir, 'eng.c'),
    `#include <stdio.h>
__attribute__((constructor)) static void ran(void) {
  FILE *f = fopen(${JSON.stringify(marker)}, "a");
  if (f) { fputs("ran\\n", f); fclose(f); }
}
`,
  );
  engine = join(dir, 'eng.so');
  execFileSync(gcc, ['-shared', '-fPIC', '-o', engine, join(dir, 'eng.c')]);
  // OPENSSL_ENGINES / OPENSSL_MODULES directories: an engine id `evil` is <dir>/evil.so, the FIPS
  // provider that --enable-fips loads is <dir>/fips.so
  modulesDir = join(dir, 'modules');
  execFileSync('mkdir', [modulesDir]);
  copyFileSync(engine, join(modulesDir, 'evil.so'));
  copyFileSync(engine, join(modulesDir, 'fips.so'));
  engineConfig = join(dir, 'engine.cnf');
  writeFileSync(
    engineConfig,
    `nodejs_conf = init\nopenssl_conf = init\n[init]\nengines = engine_list\n[engine_list]\nevil = evil_engine\n[evil_engine]\ndynamic_path = ${engine}\n`,
  );
  providerConfig = join(dir, 'provider.cnf');
  writeFileSync(
    providerConfig,
    `nodejs_conf = init\nopenssl_conf = init\n[init]\nproviders = provider_list\n[provider_list]\ndefault = default_provider\nevil = evil_provider\n[default_provider]\nactivate = 1\n[evil_provider]\nmodule = ${engine}\nactivate = 1\n`,
  );
  benignConfig = join(dir, 'benign.cnf');
  writeFileSync(benignConfig, 'nodejs_conf = init\n[init]\n');
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  ran: boolean;
  results: Record<string, unknown>;
  events: AgentEvent[];
}

/** Runs `body` as a hostile app; did the library's constructor run? */
async function attack(
  body: string,
  options: { policy?: Record<string, unknown>; env?: Record<string, string> } = {},
): Promise<Outcome> {
  rmSync(marker, { force: true });
  const run = await runFixture({
    policy: options.policy ?? DENY_ALL,
    source: attackSource(body),
    env: {
      RT_ENGINE: engine,
      RT_MODULES: modulesDir,
      RT_ENGINE_CNF: engineConfig,
      RT_PROVIDER_CNF: providerConfig,
      RT_BENIGN_CNF: benignConfig,
      ...options.env,
    },
    timeoutMs: 30_000,
  });
  const results = Object.assign({}, ...appResults(run)) as Record<string, unknown>;
  cleanup(run);
  const ran = existsSync(marker);
  rmSync(marker, { force: true });
  return { ran, results, events: run.events };
}

const DENY_BUT_NODE = policy({ ...DENY_ALL, allowedCommands: ['node'] });
const OBSERVE_PROCESS = policy({
  name: 'redteam-observe',
  network: 'deny',
  filesystem: 'deny',
  process: 'observe',
});

// In-process: each body hands the library to OpenSSL and reports `{ r: <error code or 'ok'> }`.
const KEY = `privateKeyEngine: process.env.RT_ENGINE, privateKeyIdentifier: 'k'`;
const IN_PROCESS: Record<string, string> = {
  'crypto.setEngine(path)': `report({ r: attempt(() => require('node:crypto').setEngine(process.env.RT_ENGINE)).error });`,
  'crypto.setEngine(path, flags)': `report({ r: attempt(() => require('node:crypto').setEngine(process.env.RT_ENGINE, require('node:crypto').constants.ENGINE_METHOD_RSA)).error });`,
  // not a path: OpenSSL's dynamic engine finds <OPENSSL_ENGINES>/evil.so
  "crypto.setEngine('evil') with OPENSSL_ENGINES set at run time": `
    process.env.OPENSSL_ENGINES = process.env.RT_MODULES;
    report({ r: attempt(() => require('node:crypto').setEngine('evil')).error });`,
  'tls.createSecureContext({ privateKeyEngine })': `report({ r: attempt(() => require('node:tls').createSecureContext({ ${KEY} })).error });`,
  'tls.createSecureContext({ clientCertEngine })': `report({ r: attempt(() => require('node:tls').createSecureContext({ clientCertEngine: process.env.RT_ENGINE })).error });`,
  'tls.connect({ privateKeyEngine })': `
    report({ r: attempt(() => { const s = require('node:tls').connect({ host: 'localhost', port: 9, ${KEY} }); s.on('error', () => {}); s.destroy(); }).error });`,
  'https.request({ privateKeyEngine })': `
    report({ r: attempt(() => { const q = require('node:https').request({ host: 'localhost', port: 9, ${KEY} }); q.on('error', () => {}); q.destroy(); }).error });`,
  'https.Agent({ clientCertEngine })': `
    report({ r: attempt(() => { const https = require('node:https'); const q = https.get({ host: 'localhost', port: 9, agent: new https.Agent({ clientCertEngine: process.env.RT_ENGINE }) }); q.on('error', () => {}); q.destroy(); }).error });`,
  'tls.createServer({ privateKeyEngine })': `report({ r: attempt(() => require('node:tls').createServer({ ${KEY} })).error });`,
  'http2.connect({ privateKeyEngine })': `
    report({ r: attempt(() => { const c = require('node:http2').connect('https://localhost:9', { ${KEY} }); c.on('error', () => {}); c.destroy(); }).error });`,
  'http2.createSecureServer({ clientCertEngine })': `report({ r: attempt(() => require('node:http2').createSecureServer({ clientCertEngine: process.env.RT_ENGINE })).error });`,
  // the binding itself, reachable by the app
  "process.binding('crypto').setEngine": `report({ r: attempt(() => process.binding('crypto').setEngine(process.env.RT_ENGINE, 0xffff)).error });`,
  "process.binding('crypto').SecureContext.prototype.setEngineKey": `
    const context = require('node:tls').createSecureContext().context;
    report({ r: attempt(() => process.binding('crypto').SecureContext.prototype.setEngineKey.call(context, 'k', process.env.RT_ENGINE)).error });`,
  "process.binding('crypto').SecureContext.prototype.setClientCertEngine": `
    const context = require('node:tls').createSecureContext().context;
    report({ r: attempt(() => process.binding('crypto').SecureContext.prototype.setClientCertEngine.call(context, process.env.RT_ENGINE)).error });`,
  // the engine id read twice: a decoy for the judge, the library for OpenSSL
  'setEngineKey with an engine object whose toString changes its answer': `
    const context = require('node:tls').createSecureContext().context;
    let reads = 0;
    const id = { toString: () => (reads++ === 0 ? 'rdrand' : process.env.RT_ENGINE) };
    report({ r: attempt(() => context.setEngineKey('k', id)).error });`,
  'setEngine with a NUL after the path': `report({ r: attempt(() => process.binding('crypto').setEngine(process.env.RT_ENGINE + '\\0/rdrand', 0xffff)).error });`,
};

describe.skipIf(!gcc)(
  `red team 7: OpenSSL engines in this process (process deny)${gcc ? '' : ` — ${SKIP_REASON}`}`,
  () => {
    for (const [name, body] of Object.entries(IN_PROCESS)) {
      it(`refuses ${name}`, async () => {
        const { ran, results } = await attack(body);
        expect(ran, JSON.stringify(results)).toBe(false);
        expect(results.r, JSON.stringify(results)).toBe('ERR_ACCESS_DENIED');
      });
    }

    it('names the engine, the policy group and the rule in the error and in one deny event', async () => {
      const { ran, results, events } = await attack(`
      try { require('node:crypto').setEngine(process.env.RT_ENGINE); } catch (error) { report({ message: error.message, code: error.code }); }`);
      expect(ran).toBe(false);
      expect(results.code).toBe('ERR_ACCESS_DENIED');
      expect(String(results.message)).toContain(engine);
      expect(String(results.message)).toContain('redteam-deny');
      const loads = events.filter((event) => event.operation === 'load');
      expect(loads).toHaveLength(1);
      expect(loads[0]).toMatchObject({ category: 'process', action: 'deny', target: engine });
    });

    it('allows and reports an engine once under process observe', async () => {
      const { ran, events } = await attack(
        `report({ r: attempt(() => require('node:tls').createSecureContext({ ${KEY} })).error });`,
        { policy: OBSERVE_PROCESS },
      );
      expect(ran).toBe(true);
      const loads = events.filter((event) => event.operation === 'load');
      expect(loads).toHaveLength(1);
      expect(loads[0]).toMatchObject({ category: 'process', action: 'observe', target: engine });
    });

    it('puts no hooks on the crypto binding under process grant', async () => {
      const { ran, results, events } = await attack(
        `const b = process.binding('crypto');
      report({ native: [b.setEngine, b.SecureContext.prototype.setEngineKey, b.SecureContext.prototype.setClientCertEngine]
        .every((f) => Function.prototype.toString.call(f).includes('[native code]')) });
      report({ r: attempt(() => require('node:crypto').setEngine(process.env.RT_ENGINE)).error });`,
        { policy: policy({ name: 'redteam-grant', network: 'deny', filesystem: 'deny', process: 'grant' }) },
      );
      expect(ran).toBe(true);
      expect(results.native).toBe(true);
      expect(events.filter((event) => event.category === 'process')).toEqual([]);
    });
  },
);

// Node children that `node` in allowedCommands lets start: OpenSSL loads what they are pointed at
// before their agent runs. `spawnSync` reports the refusal in `error`; `r` is that code, or the exit.
const child = (args: string, env = '{}') => `
  const r = require('node:child_process').spawnSync(process.execPath, ${args}, { env: { ...process.env, ...${env} }, encoding: 'utf8' });
  report({ r: r.error ? r.error.code : r.status, stderr: (r.stderr || '').slice(0, 300) });`;
const CHILDREN: Record<string, string> = {
  'OPENSSL_CONF naming an engine': child(`['-e', '1']`, `{ OPENSSL_CONF: process.env.RT_ENGINE_CNF }`),
  'OPENSSL_CONF naming a provider module': child(
    `['-e', '1']`,
    `{ OPENSSL_CONF: process.env.RT_PROVIDER_CNF }`,
  ),
  '--openssl-config=<file> in argv': child(`['--openssl-config=' + process.env.RT_PROVIDER_CNF, '-e', '1']`),
  '--openssl-config <file> in argv': child(`['--openssl-config', process.env.RT_PROVIDER_CNF, '-e', '1']`),
  '--openssl_config=<file> (underscore spelling) in argv': child(
    `['--openssl_config=' + process.env.RT_PROVIDER_CNF, '-e', '1']`,
  ),
  '--openssl-config in NODE_OPTIONS': child(
    `['-e', '1']`,
    `{ NODE_OPTIONS: '--openssl-config="' + process.env.RT_PROVIDER_CNF + '"' }`,
  ),
  '--openssl-shared-config with OPENSSL_CONF': child(
    `['--openssl-shared-config', '-e', '1']`,
    `{ OPENSSL_CONF: process.env.RT_PROVIDER_CNF }`,
  ),
  'OPENSSL_MODULES with --enable-fips': child(
    `['--enable-fips', '-e', '1']`,
    `{ OPENSSL_MODULES: process.env.RT_MODULES }`,
  ),
  // where an engine named by id in a configuration (the deployer's own, say) is looked for
  OPENSSL_ENGINES: child(`['-e', '1']`, `{ OPENSSL_ENGINES: process.env.RT_MODULES }`),
  // not OpenSSL, the same road: the dynamic loader maps the library into node before its main
  LD_PRELOAD: child(`['-e', '1']`, `{ LD_PRELOAD: process.env.RT_ENGINE }`),
  LD_AUDIT: child(`['-e', '1']`, `{ LD_AUDIT: process.env.RT_ENGINE }`),
  'a second OPENSSL_CONF entry in raw envPairs': `
    const { spawn } = process.binding('spawn_sync');
    const envPairs = Object.entries(process.env).map(([k, v]) => k + '=' + v);
    envPairs.push('OPENSSL_CONF=' + process.env.RT_BENIGN_CNF, 'OPENSSL_CONF=' + process.env.RT_PROVIDER_CNF);
    report({ r: attempt(() => spawn({ file: process.execPath, args: [process.execPath, '-e', '1'], envPairs, stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }] }).status).error });`,
};

describe.skipIf(!gcc)(
  `red team 7: Node children pointed at OpenSSL code (node allowed)${gcc ? '' : ` — ${SKIP_REASON}`}`,
  () => {
    for (const [name, body] of Object.entries(CHILDREN)) {
      it(`refuses a child with ${name}`, async () => {
        const { ran, results } = await attack(body, { policy: DENY_BUT_NODE });
        expect(ran, JSON.stringify(results)).toBe(false);
        expect(results.r, JSON.stringify(results)).toBe('ERR_ACCESS_DENIED');
      });
    }

    it("fails child_process.spawn with an 'error' event (ERR_ACCESS_DENIED) naming the configuration", async () => {
      const { ran, results } = await attack(
        `const c = require('node:child_process').spawn(process.execPath, ['-e', '1'], { env: { ...process.env, OPENSSL_CONF: process.env.RT_ENGINE_CNF } });
      report(await new Promise((resolve) => { c.on('error', (e) => resolve({ r: e.code, message: e.message })); c.on('exit', (code) => resolve({ r: code })); }));`,
        { policy: DENY_BUT_NODE },
      );
      expect(ran).toBe(false);
      expect(results.r).toBe('ERR_ACCESS_DENIED');
      expect(String(results.message)).toContain(engineConfig);
    });

    it('lets a child start with the OpenSSL configuration this process itself started with', async () => {
      const { results } = await attack(child(`['-e', 'process.exit(7)']`), {
        policy: DENY_BUT_NODE,
        env: { OPENSSL_CONF: benignConfig },
      });
      expect(results.r).toBe(7);
      const fromOptions = await attack(child(`['-e', 'process.exit(7)']`), {
        policy: DENY_BUT_NODE,
        env: { NODE_OPTIONS: `--openssl-config=${benignConfig}` },
      });
      expect(fromOptions.results.r).toBe(7);
    });

    it.skipIf(!hasExecve)('refuses process.execve of a Node with OPENSSL_CONF (Node 22)', async () => {
      const { ran, results } = await attack(
        `report({ r: attempt(() => process.execve(process.execPath, [process.execPath, '-e', '1'], { ...process.env, OPENSSL_CONF: process.env.RT_PROVIDER_CNF })).error });`,
        { policy: DENY_BUT_NODE },
      );
      expect(ran).toBe(false);
      expect(results.r).toBe('ERR_ACCESS_DENIED');
    });

    it('allows the child and reports the configuration as a load once under process observe', async () => {
      const { ran, results, events } = await attack(
        child(`['-e', 'process.exit(7)']`, `{ OPENSSL_CONF: process.env.RT_PROVIDER_CNF }`),
        { policy: OBSERVE_PROCESS },
      );
      expect(ran).toBe(true);
      expect(results.r).toBe(7);
      const loads = events.filter((event) => event.operation === 'load');
      expect(loads).toHaveLength(1);
      expect(loads[0]).toMatchObject({ category: 'process', action: 'observe', target: providerConfig });
    });

    it.skipIf(!openssl)('refuses a program that is not Node (openssl) with OPENSSL_CONF', async () => {
      const { ran, results } = await attack(
        `const r = require('node:child_process').spawnSync(${JSON.stringify(openssl)}, ['version'], { env: { ...process.env, OPENSSL_CONF: process.env.RT_PROVIDER_CNF } });
      report({ r: r.error ? r.error.code : r.status });`,
        { policy: policy({ ...DENY_ALL, allowedCommands: [openssl] }) },
      );
      expect(ran).toBe(false);
      expect(results.r).toBe('ERR_ACCESS_DENIED');
    });
  },
);

describe('red team 7: found on the way', () => {
  // Node reads `_` in an option's name as `-`: `--build_snapshot` runs the script without the
  // preload modules, as `--build-snapshot` does (test/redteam-round5.test.ts)
  it('judges node --build_snapshot as a Node without the agent', async () => {
    const target = mkdtempSync(join(tmpdir(), 'redteam-target-'));
    try {
      const script = join(target, '..', `${target.split('/').pop()}-snap.cjs`);
      writeFileSync(
        script,
        `require('node:fs').writeFileSync(${JSON.stringify(join(target, 'written'))}, 'x');`,
      );
      const run = await runFixture({
        policy: DENY_BUT_NODE,
        source: attackSource(`
          const r = require('node:child_process').spawnSync(process.execPath, ['--build_snapshot', ${JSON.stringify(script)}], { cwd: ${JSON.stringify(target)}, encoding: 'utf8' });
          report({ r: r.error ? r.error.code : r.status });`),
        timeoutMs: 30_000,
      });
      const results = appResults(run);
      cleanup(run);
      rmSync(script, { force: true });
      expect(readdirSync(target), JSON.stringify(results)).not.toContain('written');
      expect(results[0]).toMatchObject({ r: 'ERR_ACCESS_DENIED' });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });
});
