import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { REAPER_SCRIPT } from '../src/orphan-reaper.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the orphan reaper', () => {
  it('SIGKILLs the groups still listed when its stdin closes, and spares released ones', async () => {
    // Prepare: two stopped process groups, as frozen environments are.
    const doomed = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const released = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const doomedExit = once(doomed, 'exit');
    const doomedPid = doomed.pid ?? 0;
    const releasedPid = released.pid ?? 0;
    process.kill(-doomedPid, 'SIGSTOP');
    const reaper = spawn('/bin/bash', ['-c', REAPER_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });

    // Act: the host "dies" (its end of the pipe closes).
    reaper.stdin.write(`+${doomedPid}\n+${releasedPid}\n-${releasedPid}\n`);
    reaper.stdin.end();
    await once(reaper, 'exit');
    const [, doomedSignal] = await doomedExit;

    // Assess
    expect(doomedSignal).toBe('SIGKILL');
    expect(isAlive(releasedPid)).toBe(true);
    released.kill('SIGKILL');
    expect(isAlive(doomedPid)).toBe(false);
  });
});
