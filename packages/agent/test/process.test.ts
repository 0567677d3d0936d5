// Every process interception point under deny (blocked, the child never ran), observe (ran, one
// event each) and grant (ran, silent), plus allowedCommands.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appResult, cleanup, fixturePath, policy, type RunResult, runFixture } from './harness.js';

interface OpOutcome {
  name: string;
  ok: boolean;
  code: string | null;
  syncThrow: boolean;
}

const SPAWNS = [
  'spawn',
  'spawnShell',
  'exec',
  'execPromisified',
  'execFile',
  'fork',
  'spawnSync',
  'execSync',
  'execFileSync',
  'processWrapBinding',
  'spawnSyncBinding',
];

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

async function runOps(fields: Record<string, unknown>, only?: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'process-ops-'));
  dirs.push(dir);
  const run = await runFixture({
    file: fixturePath('process-ops.cjs'),
    args: only ? [dir, only.join(',')] : [dir],
    cwd: dir,
    policy: policy({ network: 'grant', filesystem: 'grant', ...fields }),
  });
  runs.push(run);
  const outcomes = new Map(appResult<OpOutcome[]>(run).map((outcome) => [outcome.name, outcome]));
  const markers = new Set(
    readdirSync(dir)
      .filter((name) => name.startsWith('marker-'))
      .map((name) => name.slice(7)),
  );
  return { run, outcomes, markers, dir };
}

describe('process under deny', () => {
  it('blocks every way of starting a child, failing each the way its API fails; no child runs', async () => {
    const { run, outcomes, markers, dir } = await runOps({ process: 'deny' });

    const wrong = SPAWNS.map((name) => outcomes.get(name)).filter(
      (outcome) => !outcome || outcome.ok || outcome.syncThrow,
    );
    expect(wrong).toEqual([]);
    for (const name of SPAWNS.filter((name) => !name.endsWith('Binding'))) {
      expect(outcomes.get(name)?.code, name).toBe('ERR_ACCESS_DENIED');
    }
    // the raw bindings fail as they do: process_wrap returns UV_EACCES, spawn_sync throws
    expect(outcomes.get('processWrapBinding')?.code).toBe('errno -13');
    expect(outcomes.get('spawnSyncBinding')?.code).toBe('ERR_ACCESS_DENIED');
    expect([...markers]).toEqual([]);

    expect(outcomes.get('dlopen')).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    const loads = run.events.filter((event) => event.operation === 'load');
    expect(loads.map((event) => event.target)).toEqual([join(dir, 'missing-addon.node')]);

    const spawns = run.events.filter((event) => event.category === 'process' && event.operation === 'spawn');
    for (const event of spawns) expect(event.action).toBe('deny');
    const targets = spawns.map((event) => event.target);
    expect(targets).toContain(`touch ${join(dir, 'marker-spawn')}`);
    expect(targets.some((target) => target.includes('-c') && target.includes('marker-exec'))).toBe(true);
  });

  it('ends the process before the child starts when terminateOnDeny is set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'process-ops-'));
    dirs.push(dir);
    const run = await runFixture({
      file: fixturePath('process-ops.cjs'),
      args: [dir, 'execSync'],
      cwd: dir,
      policy: policy({ network: 'grant', filesystem: 'grant', process: 'deny', terminateOnDeny: true }),
    });
    runs.push(run);
    expect(run.code).toBe(70);
    expect(run.appOutput.trim()).toBe('');
    expect(readdirSync(dir).filter((name) => name.startsWith('marker-'))).toEqual([]);
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'deny', operation: 'spawn', terminated: true });
  });
});

describe('process under observe', () => {
  it('lets every child run and reports each one once', async () => {
    const { run, outcomes, markers } = await runOps({ process: 'observe' });
    for (const name of SPAWNS) expect(outcomes.get(name), name).toMatchObject({ ok: true });
    for (const name of SPAWNS) expect(markers.has(name), name).toBe(true);
    const spawns = run.events.filter((event) => event.operation === 'spawn');
    for (const event of spawns) expect(event.action).toBe('observe');
    // one event per spawn: the ChildProcess layer and the binding below it do not both report
    expect(spawns.filter((event) => event.target.endsWith('marker-spawn'))).toHaveLength(1);
    expect(run.events.some((event) => event.operation === 'load')).toBe(true);
  });
});

describe('process under grant', () => {
  it('lets every child run and reports nothing', async () => {
    const { run, outcomes, markers } = await runOps({ process: 'grant' });
    for (const name of SPAWNS) expect(outcomes.get(name), name).toMatchObject({ ok: true });
    expect(markers.size).toBe(SPAWNS.length);
    expect(run.events).toEqual([]);
  });
});

describe('allowedCommands', () => {
  it('grants the listed executables under deny, silently', async () => {
    const { run, outcomes, markers } = await runOps({ process: 'deny', allowedCommands: ['touch'] }, [
      'spawn',
      'execFileSync',
      'exec',
    ]);
    expect(outcomes.get('spawn')).toMatchObject({ ok: true });
    expect(outcomes.get('execFileSync')).toMatchObject({ ok: true });
    // exec runs /bin/sh, which is not listed
    expect(outcomes.get('exec')).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
    expect(markers.has('spawn') && markers.has('execFileSync') && !markers.has('exec')).toBe(true);
    expect(run.events.filter((event) => event.target.startsWith('touch'))).toEqual([]);
    expect(existsSync(run.workDir)).toBe(true);
  });
});
