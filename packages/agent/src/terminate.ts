/**
 * terminateOnDeny: ends the process right now, before the denied operation can happen. The exit
 * functions are captured at agent load, so an app that replaces `process.exit` or registers 'exit'
 * handlers cannot keep itself alive or run more code: `process.reallyExit` is the binding behind
 * `process.exit` and skips the 'exit' handlers.
 */
import { flushPendingEvents } from './report.js';

/** Exit status of a process ended by terminateOnDeny (non-zero, distinct from a plain crash's 1). */
export const TERMINATE_EXIT_CODE = 70;

type ReallyExit = (code: number) => never;
const reallyExit: ReallyExit | undefined = (process as unknown as { reallyExit?: ReallyExit }).reallyExit;
const exit = process.exit;
const kill = process.kill;
const pid = process.pid;

export function terminateProcess(): never {
  try {
    flushPendingEvents();
  } catch {
    // the deny event itself is already written; pending repeat counts are best effort
  }
  if (typeof reallyExit === 'function') Reflect.apply(reallyExit, process, [TERMINATE_EXIT_CODE]);
  Reflect.apply(exit, process, [TERMINATE_EXIT_CODE]);
  // only reached when process.exit was neutralised before the agent loaded
  Reflect.apply(kill, process, [pid, 'SIGKILL']);
  throw new Error('AppDefender could not terminate the process');
}
