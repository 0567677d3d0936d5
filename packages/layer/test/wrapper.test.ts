/**
 * The exec wrapper on its own: real bash, real node, a layer copied into fresh temp dirs. The agent
 * here is a one-line fixture that marks the process, so these tests check only what the wrapper
 * does (NODE_OPTIONS, chaining, fallbacks); the real agent runs in layer-e2e tests.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { wrapperPath } from '../build.mjs';

const BASH = fs.existsSync('/bin/bash') ? '/bin/bash' : '/usr/bin/bash';
const MARKER_AGENT = 'globalThis.__appdefenderFixtureLoaded = true;\n';
const REPORT =
  'console.log(JSON.stringify({ loaded: globalThis.__appdefenderFixtureLoaded === true, nodeOptions: process.env.NODE_OPTIONS ?? null }))';

function makeLayer(options: { withAgent?: boolean; parent?: string } = {}): string {
  const root = fs.mkdtempSync(join(options.parent ?? tmpdir(), 'layer '));
  fs.copyFileSync(wrapperPath, join(root, 'appdefender_wrapper'));
  fs.chmodSync(join(root, 'appdefender_wrapper'), 0o755);
  fs.mkdirSync(join(root, 'appdefender'));
  if (options.withAgent !== false) fs.writeFileSync(join(root, 'appdefender', 'agent.cjs'), MARKER_AGENT);
  return root;
}

function runWrapper(wrapper: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  // PATH without coreutils: the wrapper must get by on bash builtins alone
  const result = spawnSync(BASH, [wrapper, ...args], {
    env: { PATH: '/nonexistent', ...env },
    encoding: 'utf8',
    ...(cwd ? { cwd } : {}),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('appdefender_wrapper', () => {
  it('puts the agent before the user NODE_OPTIONS, for a CommonJS and an ES module entry point', () => {
    const layer = makeLayer();
    const app = fs.mkdtempSync(join(tmpdir(), 'app-'));
    fs.writeFileSync(join(app, 'main.cjs'), REPORT);
    fs.writeFileSync(join(app, 'main.mjs'), REPORT);
    for (const entry of ['main.cjs', 'main.mjs']) {
      const run = runWrapper(join(layer, 'appdefender_wrapper'), [process.execPath, join(app, entry)], {
        NODE_OPTIONS: '--max-old-space-size=100',
      });
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({
        loaded: true,
        nodeOptions: `--require "${join(layer, 'appdefender', 'agent.cjs')}" --max-old-space-size=100`,
      });
    }
  });

  it('finds its own directory when started by a relative path from elsewhere (relocatable)', () => {
    const parent = fs.mkdtempSync(join(tmpdir(), 'reloc-'));
    const layer = makeLayer({ parent });
    const run = runWrapper(
      `${layer.split('/').pop()}/appdefender_wrapper`,
      [process.execPath, '-e', REPORT],
      {},
      parent,
    );
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).loaded).toBe(true);
  });

  it('chains to ES_CHAINED_WRAPPER with the agent already in NODE_OPTIONS', () => {
    const layer = makeLayer();
    const other = join(fs.mkdtempSync(join(tmpdir(), 'vendor-')), 'other_wrapper');
    fs.writeFileSync(other, '#!/bin/bash\nexport OTHER_VENDOR_RAN=1\nexec "$@"\n', { mode: 0o755 });
    const run = runWrapper(
      join(layer, 'appdefender_wrapper'),
      [
        process.execPath,
        '-e',
        'console.log(JSON.stringify({ loaded: globalThis.__appdefenderFixtureLoaded === true, other: process.env.OTHER_VENDOR_RAN }))',
      ],
      { ES_CHAINED_WRAPPER: other, PATH: '/usr/bin:/bin' },
    );
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ loaded: true, other: '1' });
  });

  it('does not loop or add the agent twice when a chained wrapper calls it again', () => {
    const layer = makeLayer();
    const wrapper = join(layer, 'appdefender_wrapper');
    const other = join(fs.mkdtempSync(join(tmpdir(), 'vendor-')), 'other_wrapper');
    fs.writeFileSync(other, `#!/bin/bash\nexec "${wrapper}" "$@"\n`, { mode: 0o755 });
    const run = runWrapper(wrapper, [process.execPath, '-e', REPORT], {
      ES_CHAINED_WRAPPER: other,
      PATH: '/usr/bin:/bin',
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).nodeOptions).toBe(`--require "${join(layer, 'appdefender', 'agent.cjs')}"`);

    const self = runWrapper(wrapper, [process.execPath, '-e', REPORT], { ES_CHAINED_WRAPPER: wrapper });
    expect(self.status).toBe(0);
    expect(JSON.parse(self.stdout).loaded).toBe(true);
    expect(self.stderr).toContain('not chaining to avoid a loop');
  });

  it('skips a chained wrapper that does not exist, saying so, and still runs the function', () => {
    const layer = makeLayer();
    const run = runWrapper(join(layer, 'appdefender_wrapper'), [process.execPath, '-e', REPORT], {
      ES_CHAINED_WRAPPER: '/nonexistent/wrapper',
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).loaded).toBe(true);
    expect(run.stderr).toContain('ES_CHAINED_WRAPPER=/nonexistent/wrapper is not an executable file');
  });

  it('runs the function unprotected, with one log line, when the agent is missing', () => {
    const layer = makeLayer({ withAgent: false });
    const run = runWrapper(join(layer, 'appdefender_wrapper'), [process.execPath, '-e', REPORT], {
      NODE_OPTIONS: '--max-old-space-size=100',
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ loaded: false, nodeOptions: '--max-old-space-size=100' });
    expect(run.stderr.trim().split('\n')).toEqual([
      `[appdefender] agent not found at ${join(layer, 'appdefender', 'agent.cjs')}; running the function UNPROTECTED`,
    ]);
  });

  it('runs the function unprotected when the agent file is empty (a damaged layer)', () => {
    const layer = makeLayer();
    fs.writeFileSync(join(layer, 'appdefender', 'agent.cjs'), '');
    const run = runWrapper(join(layer, 'appdefender_wrapper'), [process.execPath, '-e', REPORT]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ loaded: false, nodeOptions: null });
    expect(run.stderr).toContain('is empty (a damaged layer?); running the function UNPROTECTED');
  });

  it('passes runtimes that are not Node.js through unchanged, with a log line', () => {
    const layer = makeLayer();
    const python = join(fs.mkdtempSync(join(tmpdir(), 'runtime-')), 'python3');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash parameter expansion, not a template
    fs.writeFileSync(python, '#!/bin/bash\necho "args=$* NODE_OPTIONS=${NODE_OPTIONS-unset}"\n', {
      mode: 0o755,
    });
    const run = runWrapper(join(layer, 'appdefender_wrapper'), [python, '-u', 'bootstrap.py']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('args=-u bootstrap.py NODE_OPTIONS=unset\n');
    expect(run.stderr).toContain("runtime 'python3' is not Node.js");
  });

  it('keeps the exit status of the function it ran', () => {
    const layer = makeLayer();
    const run = runWrapper(join(layer, 'appdefender_wrapper'), [process.execPath, '-e', 'process.exit(7)']);
    expect(run.status).toBe(7);
  });
});
