// Every filesystem interception point under deny (blocked, and really did not happen), observe
// (allowed, one event each) and grant (allowed, silent). One fixture process per mode runs them all.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appIn, appResult, cleanup, fixturePath, policy, type RunResult, runFixture } from './harness.js';

interface OpOutcome {
  name: string;
  ok: boolean;
  code: string | null;
  syncThrow: boolean;
}

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

/** A fresh governed directory (under /tmp) with the files fs-ops.cjs expects. */
function preparedDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-ops-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'existing.txt'), 'original');
  writeFileSync(join(dir, 'existing2.txt'), 'second');
  writeFileSync(join(dir, 'unlinkme.txt'), 'u');
  writeFileSync(join(dir, 'truncme.txt'), 'keep me');
  writeFileSync(join(dir, 'chmodme.txt'), 'c');
  chmodSync(join(dir, 'chmodme.txt'), 0o644);
  writeFileSync(join(dir, '.env'), 'FROM_ENV_FILE=1\n');
  mkdirSync(join(dir, 'rmme'));
  mkdirSync(join(dir, 'srcdir'));
  writeFileSync(join(dir, 'srcdir', 'a.txt'), 'a');
  return dir;
}

async function runOps(
  mode: 'deny' | 'observe' | 'grant',
  dir: string,
): Promise<{ run: RunResult; outcomes: Map<string, OpOutcome> }> {
  const run = await runFixture({
    file: fixturePath('fs-ops.cjs'),
    args: [dir],
    cwd: dir,
    policy: policy({ filesystem: mode, network: 'grant', process: 'grant' }),
  });
  runs.push(run);
  const outcomes = new Map(appResult<OpOutcome[]>(run).map((outcome) => [outcome.name, outcome]));
  return { run, outcomes };
}

const CREATED = [
  'w-sync.txt',
  'w-cb.txt',
  'w-promise.txt',
  'append.txt',
  'fh.txt',
  'stream.txt',
  'open-w.txt',
  'open-cb.txt',
  'renamed.txt',
  'copy.txt',
  'copy-promise.txt',
  'hardlink.txt',
  'newdir',
  'newdir-promise',
  'cpdir',
  'cpdir-promise',
];

describe('filesystem under deny', () => {
  it('blocks every interception point, failing each the way its API fails, and nothing happens', async () => {
    const dir = preparedDir();
    const { run, outcomes } = await runOps('deny', dir);

    const wrong = [...outcomes.values()].filter((outcome) =>
      outcome.name === 'readUngoverned'
        ? !outcome.ok
        : outcome.ok || outcome.code !== 'ERR_ACCESS_DENIED' || outcome.syncThrow,
    );
    expect(wrong).toEqual([]);
    for (const name of CREATED) expect(existsSync(join(dir, name)), name).toBe(false);
    expect(() => lstatSync(join(dir, 'link.txt'))).toThrow();
    expect(readFileSync(join(dir, 'existing.txt'), 'utf8')).toBe('original');
    expect(readFileSync(join(dir, 'truncme.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(join(dir, 'existing2.txt'))).toBe(true);
    expect(existsSync(join(dir, 'unlinkme.txt'))).toBe(true);
    expect(existsSync(join(dir, 'rmme'))).toBe(true);
    expect(statSync(join(dir, 'chmodme.txt')).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'existing.txt')).mtimeMs).toBeGreaterThan(1000);

    const denied = run.events.filter((event) => event.action === 'deny' && event.category === 'filesystem');
    expect(
      denied.some((event) => event.operation === 'write' && event.target === join(dir, 'w-sync.txt')),
    ).toBe(true);
    expect(
      denied.some((event) => event.operation === 'read' && event.target === join(dir, 'existing.txt')),
    ).toBe(true);
    expect(run.events.some((event) => event.target === '/etc/hostname')).toBe(false);
    for (const event of denied) expect(event.policyGroup).toBe('test-policy');
  });

  it('answers existsSync with false rather than throwing', async () => {
    const dir = preparedDir();
    const run = await runFixture({
      ...appIn(
        dir,
        `console.log(JSON.stringify({ result: require('node:fs').existsSync(${JSON.stringify(join(dir, 'existing.txt'))}) }));`,
      ),
      policy: policy({ filesystem: 'deny' }),
    });
    runs.push(run);
    expect(appResult(run)).toBe(false);
    expect(
      run.events.some((event) => event.action === 'deny' && event.target === join(dir, 'existing.txt')),
    ).toBe(true);
  });
});

describe('filesystem under observe', () => {
  it('lets every operation through and reports each governed target', async () => {
    const dir = preparedDir();
    const { run, outcomes } = await runOps('observe', dir);

    for (const [name, outcome] of outcomes)
      expect(outcome, `${name}: ${outcome.code}`).toMatchObject({ ok: true });
    expect(readFileSync(join(dir, 'w-sync.txt'), 'utf8')).toBe('x');
    expect(existsSync(join(dir, 'rmme'))).toBe(false);
    expect(existsSync(join(dir, 'cpdir', 'a.txt'))).toBe(true);

    const observed = run.events.filter((event) => event.category === 'filesystem');
    expect(observed.length).toBeGreaterThan(0);
    for (const event of observed) expect(event.action).toBe('observe');
    const targets = new Set(observed.map((event) => `${event.operation} ${event.target}`));
    for (const name of [
      'w-sync.txt',
      'w-cb.txt',
      'w-promise.txt',
      'fh.txt',
      'stream.txt',
      'renamed.txt',
      'copy.txt',
    ]) {
      expect(targets.has(`write ${join(dir, name)}`), name).toBe(true);
    }
    expect(targets.has(`read ${join(dir, 'existing.txt')}`)).toBe(true);
    expect(targets.has(`read ${join(dir, '.env')}`)).toBe(true);
    expect(run.events.some((event) => event.target === '/etc/hostname')).toBe(false);
  });
});

describe('filesystem under grant', () => {
  it('lets everything through and reports nothing', async () => {
    const dir = preparedDir();
    const { run, outcomes } = await runOps('grant', dir);
    for (const [name, outcome] of outcomes)
      expect(outcome, `${name}: ${outcome.code}`).toMatchObject({ ok: true });
    expect(existsSync(join(dir, 'w-sync.txt'))).toBe(true);
    expect(run.events).toEqual([]);
    expect(run.stdoutEvents).toEqual([]);
  });
});

describe('allowedPaths', () => {
  it('grants reads and writes under an allowed prefix even under deny', async () => {
    const dir = preparedDir();
    const run = await runFixture({
      file: fixturePath('fs-ops.cjs'),
      args: [dir, 'writeFileSync,readFileSync,promises.readFile,statSync'],
      cwd: dir,
      policy: policy({ filesystem: 'deny', allowedPaths: [dir] }),
    });
    runs.push(run);
    for (const outcome of appResult<OpOutcome[]>(run))
      expect(outcome, outcome.name).toMatchObject({ ok: true });
    expect(run.events).toEqual([]);
  });
});
