// Child Node processes keep the agent even when the caller strips it from their environment, and
// cannot swap in a lenient policy of their own.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appIn, appResult, cleanup, fixturePath, policy, type RunResult, runFixture } from './harness.js';

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

const childScript = fixturePath('process-child-write.cjs');

/** Runs `body` with `cp`, `node`, `child`, `dir`, `marker(name)` in scope; it reports name → child output. */
async function parent(body: string) {
  const dir = mkdtempSync(join(tmpdir(), 'process-propagation-'));
  dirs.push(dir);
  const lenient = join(dir, 'lenient.json');
  writeFileSync(
    lenient,
    JSON.stringify({ name: 'lenient', network: 'grant', filesystem: 'grant', process: 'grant' }),
  );
  const source = `
const cp = require('node:child_process');
const node = process.execPath;
const child = ${JSON.stringify(childScript)};
const dir = ${JSON.stringify(dir)};
const lenient = ${JSON.stringify(lenient)};
const marker = (name) => dir + '/marker-' + name;
const parse = (text) => { const line = String(text).split('\\n').find((l) => l.startsWith('{"child"')); return line ? JSON.parse(line) : { child: 'no output: ' + String(text) }; };
const out = {};
(async () => {
${body}
console.log(JSON.stringify({ result: out }));
})();
`;
  const run = await runFixture({
    ...appIn(dir, source),
    policy: policy({ network: 'grant', filesystem: 'deny', process: 'observe' }),
  });
  runs.push(run);
  return { run, dir, out: appResult<Record<string, { child: string; policyFile: string | null }>>(run) };
}

describe('agent propagation to child processes', () => {
  it('re-injects the agent when the caller passes an empty environment', async () => {
    const { out, dir } = await parent(`
      out.spawnSync = parse(cp.spawnSync(node, [child, marker('spawnSync')], { env: {} }).stdout);
      out.execFileSync = parse(cp.execFileSync(node, [child, marker('execFileSync')], { env: { PATH: process.env.PATH } }));
      out.shell = parse(cp.execSync(node + ' ' + child + ' ' + marker('shell'), { env: { PATH: process.env.PATH } }));
      out.spawn = await new Promise((resolve) => {
        let text = '';
        const c = cp.spawn(node, [child, marker('spawn')], { env: {} });
        c.stdout.on('data', (d) => (text += d));
        c.on('close', () => resolve(parse(text)));
      });
      out.fork = await new Promise((resolve) => {
        let text = '';
        const c = cp.fork(child, [marker('fork')], { env: {}, execArgv: [], silent: true });
        c.stdout.on('data', (d) => (text += d));
        c.on('close', () => resolve(parse(text)));
      });
    `);
    for (const name of ['spawnSync', 'execFileSync', 'shell', 'spawn', 'fork']) {
      expect(out[name]?.child, name).toBe('ERR_ACCESS_DENIED');
      expect(existsSync(join(dir, `marker-${name}`)), name).toBe(false);
    }
  });

  it('keeps its own policy when the caller points ES_POLICY_FILE at a lenient one or clears NODE_OPTIONS', async () => {
    const { out, dir } = await parent(`
      out.override = parse(cp.spawnSync(node, [child, marker('override')], {
        env: { ...process.env, ES_POLICY_FILE: lenient, NODE_OPTIONS: '' },
      }).stdout);
    `);
    expect(out.override?.child).toBe('ERR_ACCESS_DENIED');
    expect(out.override?.policyFile).not.toContain('lenient');
    expect(existsSync(join(dir, 'marker-override'))).toBe(false);
  });

  it('reports child starts under observe with the command line as target', async () => {
    const { run } = await parent(
      `out.one = parse(cp.spawnSync(node, [child, marker('one')], { env: {} }).stdout);`,
    );
    const spawns = run.events.filter((event) => event.operation === 'spawn');
    expect(spawns).toHaveLength(1);
    expect(spawns[0]).toMatchObject({ action: 'observe', category: 'process' });
    expect(spawns[0]?.target).toContain(childScript);
  });
});
