// The loader's escape hatches hand out hooked objects only, and the module loader's exemption
// covers Node's own reads of module files, never the code those modules run.
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
  const dir = mkdtempSync(join(tmpdir(), 'loader-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  return dir;
}

const denyAll = policy({ filesystem: 'deny', process: 'deny', network: 'grant' });

describe('loader escape hatches', () => {
  it('ESM named imports of node: builtins see the hooked functions', async () => {
    const dir = governedDir();
    const source = `
import { execSync, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as fsNamespace from 'node:fs';

const out = {};
const attempt = async (name, fn) => { try { await fn(); out[name] = 'allowed'; } catch (error) { out[name] = error.code; } };
await attempt('execSync', () => execSync('touch ${dir}/marker-esm'));
await attempt('spawnSync', () => { const r = spawnSync('touch', ['${dir}/marker-esm2']); if (r.error) throw r.error; });
await attempt('openSync', () => openSync('${dir}/esm-open.txt', 'w'));
await attempt('readFileSync', () => readFileSync('${dir}/secret.txt'));
await attempt('readFile', () => readFile('${dir}/secret.txt'));
await attempt('namespace', () => fsNamespace.writeFileSync('${dir}/esm-ns.txt', 'x'));
await attempt('default', () => fsNamespace.default.writeFileSync('${dir}/esm-default.txt', 'x'));
console.log(JSON.stringify({ result: out }));
`;
    const run = await runFixture({ ...appIn(dir, source, 'esm'), policy: denyAll });
    runs.push(run);
    const out = appResult<Record<string, string>>(run);
    for (const name of [
      'execSync',
      'spawnSync',
      'openSync',
      'readFileSync',
      'readFile',
      'namespace',
      'default',
    ]) {
      expect(out[name], name).toBe('ERR_ACCESS_DENIED');
    }
    for (const file of ['marker-esm', 'marker-esm2', 'esm-open.txt', 'esm-ns.txt', 'esm-default.txt']) {
      expect(existsSync(join(dir, file)), file).toBe(false);
    }
  });

  it('process.binding, process._linkedBinding and process.getBuiltinModule hand out hooked objects only', async () => {
    const dir = governedDir();
    const source = `
const out = {};
const attempt = (name, fn) => { try { fn(); out[name] = 'allowed'; } catch (error) { out[name] = error.code ?? error.message; } };
attempt('getBuiltinModule.fs', () => process.getBuiltinModule('fs').writeFileSync('${dir}/gbm.txt', 'x'));
attempt('getBuiltinModule.cp', () => process.getBuiltinModule('node:child_process').execFileSync('touch', ['${dir}/marker-gbm']));
attempt('binding.spawn_sync', () => process.binding('spawn_sync').spawn({ file: 'touch', args: ['touch', '${dir}/marker-raw'], envPairs: [], stdio: [] }));
attempt('binding.fs.twice', () => process.binding('fs').readFileUtf8('${dir}/secret.txt', 0));
attempt('linkedBinding.fs', () => process._linkedBinding('fs').readFileUtf8('${dir}/secret.txt', 0));
attempt('require.fs.promises', () => { throw Object.assign(new Error(), { code: require('node:fs/promises') === require('node:fs').promises ? 'same-object' : 'different' }); });
console.log(JSON.stringify({ result: out }));
`;
    const run = await runFixture({ ...appIn(dir, source), policy: denyAll });
    runs.push(run);
    const out = appResult<Record<string, string>>(run);
    expect(out['getBuiltinModule.fs']).toBe('ERR_ACCESS_DENIED');
    expect(out['getBuiltinModule.cp']).toBe('ERR_ACCESS_DENIED');
    expect(out['binding.spawn_sync']).toBe('ERR_ACCESS_DENIED');
    expect(out['binding.fs.twice']).toBe('ERR_ACCESS_DENIED');
    // only embedder-linked bindings are served there: Node's own are not
    expect(out['linkedBinding.fs']).not.toBe('allowed');
    expect(out['require.fs.promises']).toBe('same-object');
    expect(existsSync(join(dir, 'gbm.txt'))).toBe(false);
    expect(existsSync(join(dir, 'marker-gbm'))).toBe(false);
    expect(existsSync(join(dir, 'marker-raw'))).toBe(false);
  });

  it("does not exempt a module's own top-level code from judgement", async () => {
    const dir = governedDir();
    writeFileSync(
      join(dir, 'evil.cjs'),
      `let code = 'read'; try { require('node:fs').readFileSync(__dirname + '/secret.txt'); } catch (error) { code = error.code; } module.exports = code;`,
    );
    writeFileSync(
      join(dir, 'evil.mjs'),
      `import { readFileSync } from 'node:fs'; let code = 'read'; try { readFileSync(new URL('./secret.txt', import.meta.url)); } catch (error) { code = error.code; } export default code;`,
    );
    const source = `
const fromCjs = require('./evil.cjs');
import('./evil.mjs').then(({ default: fromEsm }) => console.log(JSON.stringify({ result: { fromCjs, fromEsm } })));
`;
    writeFileSync(join(dir, 'main.cjs'), source);
    const run = await runFixture({ file: join(dir, 'main.cjs'), cwd: dir, policy: denyAll });
    runs.push(run);
    expect(appResult(run)).toEqual({ fromCjs: 'ERR_ACCESS_DENIED', fromEsm: 'ERR_ACCESS_DENIED' });
    const reads = run.events.filter((event) => event.operation === 'read');
    expect([...new Set(reads.map((event) => event.target))]).toEqual([join(dir, 'secret.txt')]);
    expect(reads.reduce((sum, event) => sum + (event.count ?? 1), 0)).toBe(2);
  });
});
