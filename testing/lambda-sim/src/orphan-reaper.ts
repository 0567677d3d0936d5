import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

// Reads "+PGID" / "-PGID" lines; when its stdin closes (this process ended, even by SIGKILL, which no
// exit hook survives) it SIGKILLs the groups still listed, so frozen processes are never left behind.
export const REAPER_SCRIPT = `
declare -A groups
while IFS= read -r line; do
  case "$line" in
    +*) groups["\${line#+}"]=1 ;;
    -*) unset "groups[\${line#-}]" ;;
  esac
done
for group in "\${!groups[@]}"; do kill -KILL -- "-$group" 2>/dev/null; done
`;

let reaper: ChildProcess | undefined;

function ensureReaper(): ChildProcess | undefined {
  if (reaper?.stdin?.writable) return reaper;
  try {
    reaper = spawn('/bin/bash', ['-c', REAPER_SCRIPT], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.on('error', () => {
      reaper = undefined;
    });
    reaper.stdin?.on('error', () => {});
    // Neither the reaper nor its pipe may keep this process alive.
    reaper.unref();
    (reaper.stdin as Socket | null)?.unref();
    return reaper;
  } catch {
    return undefined;
  }
}

/** Has the process group SIGKILLed if this process ends without releasing it. */
export function watchGroup(pgid: number): void {
  ensureReaper()?.stdin?.write(`+${pgid}\n`);
}

/** The group is dead (we killed it): forget it, so a reused id is never killed. */
export function releaseGroup(pgid: number): void {
  if (reaper?.stdin?.writable) reaper.stdin.write(`-${pgid}\n`);
}
