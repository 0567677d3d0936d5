/**
 * The agent in a worker thread. Two things differ from a process's main thread:
 *
 * - **The policy is inherited.** A worker's agent that read ES_POLICY_FILE or the extension's
 *   policy.json again would read them as they are NOW: an app allowed to write there (filesystem
 *   observe, one event; filesystem grant, no hooks) could replace the file with a grant-everything
 *   policy and start a worker that then ignores network or process deny
 *   (test/redteam-round4.test.ts). So the Worker hook hands the policy in force to the worker through
 *   worker_threads environment data, set only for the synchronous construction (Node copies the
 *   environment data into the worker's start message there), and the worker's agent takes it and
 *   deletes it before the app's first line: neither the app nor its own workers ever see it there.
 * - **terminateOnDeny must end the process, not the thread.** `process.reallyExit`/`exit` in a
 *   worker stop only that worker (terminate.ts).
 * - **The stack can be tiny.** `resourceLimits.stackSizeMb` sets a worker's stack; below about
 *   0.255 MB (Node 20 and 22) the agent ran out of it part-way through installing its hooks and the
 *   worker's code ran with some of them missing (test/redteam-round4.test.ts). The Worker hook raises
 *   a smaller value to MIN_WORKER_STACK_MB; a worker whose stack is still smaller (one started while
 *   the Worker hook was not installed: process grant), or whose agent could not install a hook the
 *   starting thread has, is ended before its code runs (terminate.ts `endBeforeAppCode`).
 *
 * Which thread this is gets decided once, at agent load, before any application code runs here.
 */
import { type PolicyGroup, parsePolicyGroup } from '@appdefender/policy';
import { isBuiltinLoaded } from './builtin-loads.js';
import { builtin } from './builtins.js';
import type { PolicySource } from './context.js';
import { adoptArmedBuffer } from './hooks/support/armed-writers.js';

type WorkerThreads = typeof import('node:worker_threads');

/** The environment-data key of the hand-off (a string: environment data is structured-cloned). */
const POLICY_KEY = 'appdefender.agent.policy';

export interface InheritedPolicy {
  policy: PolicyGroup;
  source: PolicySource;
  reason?: string;
  /** The hooks installed in the starting thread: the worker must have them too. */
  hooks?: readonly string[];
  /** The starting thread's application directories (the worker is the same process). */
  appDirs?: readonly string[];
  /** Which cwd-relative native writers are armed, shared by every thread (hooks/support/armed-writers.ts). */
  armed?: SharedArrayBuffer;
  /** NODE_V8_COVERAGE as the operator started the process with it (hooks/worker.ts). */
  coverage?: string;
  /** The worker shares this process's environment (SHARE_ENV): it judges its coverage itself. */
  sharedEnv?: boolean;
}

/**
 * The smallest worker stack (MB) the agent accepts: Node's worker bootstrap plus the agent's start
 * need about 0.255 MB (measured on Node 20 and 22, 192 KiB of it Node's own reserve), and the app's
 * first lines need some more; twice that leaves room for the agent to grow.
 */
export const MIN_WORKER_STACK_MB = 0.5;

/**
 * Node's worker bootstrap loads `worker_threads` before the preloads run; the main thread normally
 * has not loaded it when the agent starts, and loading it there would cost ~1.3 ms of cold start.
 * When it is loaded (an earlier preload), `isMainThread` decides.
 */
function detectWorkerThread(): WorkerThreads | undefined {
  if (!isBuiltinLoaded('worker_threads')) return undefined;
  const workerThreads = builtin<WorkerThreads>('node:worker_threads');
  return workerThreads.isMainThread ? undefined : workerThreads;
}

const workerThreads = detectWorkerThread();

/** True in a worker thread. */
export const inWorkerThread: boolean = workerThreads !== undefined;

/**
 * The policy handed over by the thread that started this worker, taken out of the environment data
 * (so the app cannot read it back); undefined in the main thread, or when the starting thread's
 * agent did not hand one over (a Worker constructed before its policy was known: nothing runs then).
 */
export function takeInheritedPolicy(): InheritedPolicy | undefined {
  if (!workerThreads) return undefined;
  const handOff = workerThreads.getEnvironmentData(POLICY_KEY) as Partial<InheritedPolicy> | undefined;
  workerThreads.setEnvironmentData(POLICY_KEY, undefined);
  if (!handOff || typeof handOff !== 'object' || typeof handOff.source !== 'string') return undefined;
  adoptArmedBuffer(handOff.armed);
  return {
    policy: parsePolicyGroup(handOff.policy),
    source: handOff.source,
    ...(typeof handOff.reason === 'string' ? { reason: handOff.reason } : {}),
    ...(Array.isArray(handOff.hooks) ? { hooks: handOff.hooks } : {}),
    ...(Array.isArray(handOff.appDirs) ? { appDirs: handOff.appDirs } : {}),
    ...(typeof handOff.coverage === 'string' ? { coverage: handOff.coverage } : {}),
    ...(handOff.sharedEnv === true ? { sharedEnv: true } : {}),
  };
}

/** This worker's stack, as Node set it (at least Node's own 192 KiB reserve); undefined in the main thread. */
export function workerStackSizeMb(): number | undefined {
  const size = workerThreads?.resourceLimits?.stackSizeMb;
  return typeof size === 'number' ? size : undefined;
}

/**
 * Runs `construct` (a Worker's construction) with `handOff` in the environment data, and removes it
 * again whatever happens: the app's own `getEnvironmentData` never sees it.
 */
export function withPolicyHandOff<T>(
  setEnvironmentData: WorkerThreads['setEnvironmentData'],
  handOff: InheritedPolicy,
  construct: () => T,
): T {
  setEnvironmentData(POLICY_KEY, handOff as unknown as import('node:worker_threads').Serializable);
  try {
    return construct();
  } finally {
    setEnvironmentData(POLICY_KEY, undefined);
  }
}
