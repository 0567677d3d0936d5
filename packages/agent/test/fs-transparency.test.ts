// Under grant and observe, a real library (fs-extra) behaves exactly as it does without the agent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appResult, cleanup, fixturePath, policy, type RunResult, runFixture } from './harness.js';

const dirs: string[] = [];
const runs: RunResult[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const run of runs.splice(0)) cleanup(run);
});

async function workload(options: { agent: boolean; mode?: 'grant' | 'observe' }) {
  const dir = mkdtempSync(join(tmpdir(), 'fs-extra-'));
  dirs.push(dir);
  const run = await runFixture({
    file: fixturePath('fs-extra-ops.cjs'),
    args: [dir],
    cwd: dir,
    agent: options.agent,
    policy: options.mode ? policy({ filesystem: options.mode, network: 'grant', process: 'grant' }) : null,
  });
  runs.push(run);
  // paths differ per run: compare relative to the run's own directory
  const summary = JSON.parse(JSON.stringify(appResult(run)).replaceAll(dir, '<dir>'));
  return { run, summary };
}

describe('fs-extra transparency', () => {
  it('gives the same results and leaves the same files under grant and observe as without the agent', async () => {
    const bare = await workload({ agent: false });
    expect(bare.summary.steps.readMissing).toBe('error ENOENT');
    const granted = await workload({ agent: true, mode: 'grant' });
    const observed = await workload({ agent: true, mode: 'observe' });
    expect(granted.summary).toEqual(bare.summary);
    expect(observed.summary).toEqual(bare.summary);
    expect(granted.run.events).toEqual([]);
    expect(observed.run.events.length).toBeGreaterThan(0);
    expect(
      observed.run.events.every((event) => event.action === 'observe' && event.category === 'filesystem'),
    ).toBe(true);
    expect(observed.run.stderr).not.toMatch(/appdefender/i);
  });
});
