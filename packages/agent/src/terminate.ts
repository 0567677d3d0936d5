/**
 * terminateOnDeny: ends the process right now, before the denied operation can happen. The exit
 * functions are captured at agent load, so an app that replaces `process.exit` or registers 'exit'
 * handlers cannot keep itself alive or run more code: `process.reallyExit` is the binding behind
 * `process.exit` and skips the 'exit' handlers.
 *
 * In a worker thread `reallyExit` and `exit` end only the worker: the main thread would see it exit
 * with 70 and carry on (a dependency could probe denied operations from throwaway workers). There
 * the process is killed with SIGKILL: a thread cannot give its process an exit status, and no
 * handler can catch that signal. The main thread's pending repeat counts are lost then.
 */
import { logLine } from './log.js';
import { flushPendingEvents } from './report.js';
import { inWorkerThread } from './worker-thread.js';

/** Exit status of a process ended by terminateOnDeny (non-zero, distinct from a plain crash's 1). */
export const TERMINATE_EXIT_CODE = 70;

type ReallyExit = (code: number) => never;
const reallyExit: ReallyExit | undefined = (process as unknown as { reallyExit?: ReallyExit }).reallyExit;
const exit = process.exit;
const kill = process.kill;
// `process.kill` looks `process._kill` (the binding) up at call time: an app that replaces it makes
// the captured `kill` a no-op, so the binding itself is captured too (signal 9 is SIGKILL on Linux)
type RawKill = (pid: number, signal: number) => number;
const rawKill: RawKill | undefined = (process as unknown as { _kill?: RawKill })._kill;
const SIGKILL = 9;
const pid = process.pid;

export function terminateProcess(): never {
  try {
    flushPendingEvents();
  } catch {
    // the deny event itself is already written; pending repeat counts are best effort
  }
  if (inWorkerThread && typeof rawKill === 'function') Reflect.apply(rawKill, process, [pid, SIGKILL]);
  if (typeof reallyExit === 'function') Reflect.apply(reallyExit, process, [TERMINATE_EXIT_CODE]);
  Reflect.apply(exit, process, [TERMINATE_EXIT_CODE]);
  // only reached when process.exit was neutralised before the agent loaded
  if (typeof rawKill === 'function') Reflect.apply(rawKill, process, [pid, SIGKILL]);
  Reflect.apply(kill, process, [pid, 'SIGKILL']);
  throw new Error('AppDefender could not terminate the process');
}

/**
 * Ends this worker thread, or this process, before the app's code in it runs: a worker, or a child
 * of a governed process, must never run with the agent missing or some of its hooks missing. In a
 * worker `process.exit` stops only the worker, at once (its 'exit' event gets code 1); in a process,
 * `reallyExit` ends it with 1 before any 'exit' handler could run. Nothing of the app's has run yet.
 */
export function endBeforeAppCode(why: string): never {
  logLine(`${why}: the ${inWorkerThread ? 'worker' : 'process'} ends before its code runs`);
  if (!inWorkerThread && typeof reallyExit === 'function') Reflect.apply(reallyExit, process, [1]);
  Reflect.apply(exit, process, [1]);
  throw new Error('AppDefender could not end the thread');
}
