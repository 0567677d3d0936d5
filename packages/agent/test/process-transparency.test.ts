// Under grant and observe, a real library (execa) behaves exactly as it does without the agent.
import { afterEach, describe, expect, it } from 'vitest';
import { appResult, cleanup, fixturePath, policy, type RunResult, runFixture } from './harness.js';

const runs: RunResult[] = [];
afterEach(() => {
  for (const run of runs.splice(0)) cleanup(run);
});

async function workload(options: { agent: boolean; mode?: 'grant' | 'observe' }) {
  const run = await runFixture({
    file: fixturePath('process-execa.mjs'),
    agent: options.agent,
    policy: options.mode ? policy({ process: options.mode, network: 'grant', filesystem: 'grant' }) : null,
  });
  runs.push(run);
  return { run, summary: appResult(run) };
}

describe('execa transparency', () => {
  it('gives the same results under grant and observe as without the agent', async () => {
    const bare = await workload({ agent: false });
    expect(bare.summary.echo).toBe('hello world');
    expect(bare.summary.node).toBe('from node');
    const granted = await workload({ agent: true, mode: 'grant' });
    const observed = await workload({ agent: true, mode: 'observe' });
    expect(granted.summary).toEqual(bare.summary);
    expect(observed.summary).toEqual(bare.summary);
    expect(granted.run.events).toEqual([]);
    const spawns = observed.run.events.filter((event) => event.operation === 'spawn');
    expect(spawns.length).toBeGreaterThanOrEqual(8);
    expect(spawns.every((event) => event.action === 'observe')).toBe(true);
  });
});
