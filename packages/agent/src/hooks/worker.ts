/**
 * Worker threads carry the agent. A worker loads `--require` preloads from its NODE_OPTIONS, which
 * comes from its `env` option: with `env: {}` (or any env without our NODE_OPTIONS) it would start
 * unprotected, beyond the agent's reach. The `Worker` constructor is replaced by one that corrects a
 * custom `env` (support/agent-propagation.ts) and adds `--require <agent>` to an explicit `execArgv`
 * (which replaces the inherited one, where the preload sits when it was given on the command line)
 * before constructing the real worker. The default env (a copy of `process.env`, where the app may
 * have set `ES_POLICY_FILE` to a lenient policy of its own) is passed as a corrected copy, and with
 * `SHARE_ENV` this process's `process.env` is corrected in place; `eval: true` changes nothing about
 * preloading.
 *
 * The policy in force goes to the worker with its construction (worker-thread.ts): a worker reading
 * the policy file again would read what the app may have written there since.
 *
 * The replacement is a plain function sharing the original prototype (so `instanceof Worker` and
 * subclasses keep working) and the prototype's `constructor` points back at it, so nothing the app
 * can reach leads to the unwrapped class.
 */
import type { Operation } from '@appdefender/policy';
import { patchMethod } from '../bindings.js';
import { builtin } from '../builtins.js';
import { getContext } from '../context.js';
import { enforce } from '../enforce.js';
import { isArray, objectKeys, regExpExec, stringCharCodeAt } from '../intrinsics.js';
import { type InheritedPolicy, MIN_WORKER_STACK_MB, withPolicyHandOff } from '../worker-thread.js';
import { judgePath } from './fs.js';
import type { HookDescriptor } from './registry.js';
import { agentPath, fixEnvInPlace, fixedEnv, initAgentPropagation } from './support/agent-propagation.js';
import { ARMED_DIAGNOSTIC, armCwdWriter, armedBuffer } from './support/armed-writers.js';

type WorkerClass = new (...args: unknown[]) => object;
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectConstruct = Reflect.construct;
// captured at load: the app may replace Array.prototype.some/map, RegExp.prototype.test, Object.keys...
const objectCreate = Object.create;
const toText = String;
const EXPOSE_INTERNALS = /^--expose[-_]internals\b/;
let SHARE_ENV: symbol | undefined;
/** The process's real environment store, which SHARE_ENV shares (the app may replace `process.env`). */
let sharedEnv: NodeJS.ProcessEnv | undefined;
let setEnvironmentData: typeof import('node:worker_threads').setEnvironmentData | undefined;

export const hook: HookDescriptor = {
  name: 'worker',
  category: 'process',
  install() {
    initAgentPropagation();
    const workerThreads = builtin<typeof import('node:worker_threads')>('node:worker_threads');
    SHARE_ENV = workerThreads.SHARE_ENV;
    sharedEnv = process.env;
    setEnvironmentData = workerThreads.setEnvironmentData;
    patchMethod<AnyFunction>(workerThreads, 'Worker', (original) =>
      wrapWorker(original as unknown as WorkerClass),
    );
  },
};

function wrapWorker(Original: WorkerClass): AnyFunction {
  const Worker = function Worker(this: unknown, ...args: unknown[]) {
    if (!new.target) throw new TypeError("Class constructor Worker cannot be invoked without 'new'");
    const options = args[1];
    if (options !== null && (typeof options === 'object' || typeof options === 'function')) {
      // judged and used: one copy (see snapshotOptions). A function is an options object to Worker
      // too (it reads `options.env`, `options.execArgv`...), and once went past unjudged and uncorrected
      const snapshot = snapshotOptions(options);
      const denied = judgeEscapingFlags(snapshot.execArgv) ?? judgeDiagnosticFlags(snapshot.execArgv);
      if (denied) throw denied;
      args[1] = withAgentEnv(snapshot);
    } else {
      // nothing, or a primitive: Worker would read every option through the primitive's prototype
      // (`Boolean.prototype.execArgv = ['--expose-internals']`, `.env = {}`), which the app can fill in
      args[1] = { env: fixedEnv(process.env) };
    }
    const env = (args[1] as { env?: unknown }).env;
    const shared = env === SHARE_ENV && SHARE_ENV !== undefined;
    const coverageDenied = judgeCoverage(
      shared ? sharedEnv?.NODE_V8_COVERAGE : (env as Record<string, unknown>).NODE_V8_COVERAGE,
      'new Worker',
    );
    if (coverageDenied) throw coverageDenied;
    const base = policyHandOff();
    const handOff = base && shared ? { ...base, sharedEnv: true } : base;
    const target = new.target;
    if (!handOff || !setEnvironmentData) return ReflectConstruct(Original, args, target);
    return withPolicyHandOff(setEnvironmentData, handOff, () => ReflectConstruct(Original, args, target));
  } as unknown as AnyFunction & { prototype: object };
  Worker.prototype = Original.prototype;
  Object.defineProperty(Original.prototype, 'constructor', {
    value: Worker,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return Worker;
}

let handOffCache: InheritedPolicy | undefined;

/** What a worker inherits: the policy in force and where it came from (fixed once the agent started). */
function policyHandOff(): InheritedPolicy | undefined {
  if (handOffCache) return handOffCache;
  const context = getContext();
  if (!context) return undefined;
  handOffCache = {
    policy: context.policy,
    source: context.policySource,
    ...(context.failReason !== undefined ? { reason: context.failReason } : {}),
    ...(context.installedHooks !== undefined ? { hooks: context.installedHooks } : {}),
    appDirs: context.appDirs,
    ...(operatorCoverage !== undefined ? { coverage: operatorCoverage } : {}),
  };
  // shared, not copied: what the worker arms, the starting thread's chdir judgement must see
  const armed = armedBuffer();
  if (armed) handOffCache.armed = armed;
  return handOffCache;
}

/**
 * NODE_V8_COVERAGE as the operator started the process with it (Node made it absolute before the
 * agent ran); a worker takes its starting thread's (setOperatorCoverage, from the hand-off).
 */
let operatorCoverage: string | undefined = process.env.NODE_V8_COVERAGE || undefined;

export function setOperatorCoverage(value: string | undefined): void {
  operatorCoverage = value;
}

/**
 * NODE_V8_COVERAGE in a worker's environment makes Node's C++ code write the worker's coverage
 * (`coverage-<pid>-<time>-<thread>.json`, with the app's script URLs and function names) into that
 * directory when the worker exits or calls `v8.takeCoverage()`, out of every fs hook; Node turns it
 * on when the process's environment holds the variable as the worker starts, and reads the
 * directory from the worker's own environment, which is the corrected copy the Worker hook hands
 * over (or, with SHARE_ENV, this process's). So `process.env.NODE_V8_COVERAGE = '/tmp/x'` and any
 * Worker wrote under /tmp under filesystem deny (test/redteam-round7-roads.test.ts). Judged as a
 * write in that directory; the operator's own setting is left alone.
 */
export function judgeCoverage(value: unknown, call: string, cwd?: string): Error | null {
  if (typeof value !== 'string' || value === '' || value === operatorCoverage) return null;
  return judgePath(`${inDirectory(cwd, value)}/coverage.json`, 'write', call);
}

/**
 * In a SHARE_ENV worker, before the app's first line: the environment Node read the coverage
 * directory from is the one the app shares, which it can change between `new Worker` (judged above)
 * and the worker's start. The directory Node took is judged again as this worker sees it; a refused
 * one stops the coverage (`v8.stopCoverage()`: Node then writes nothing), and under filesystem deny
 * coverage the operator did not ask for is stopped anyway, since the app could change the variable
 * back between Node's read and ours.
 * @returns the refusal, for the worker to end with, or null
 */
export function guardSharedEnvCoverage(filesystemMode: string): Error | null {
  const denied = judgeCoverage(process.env.NODE_V8_COVERAGE, 'new Worker (SHARE_ENV)');
  if (denied || (filesystemMode === 'deny' && operatorCoverage === undefined))
    builtin<typeof import('node:v8')>('node:v8').stopCoverage();
  return denied;
}

/**
 * `--expose-internals` gives the worker `internalBinding`, Node's unfiltered bindings, where the
 * loader-only readers and bindings no hook can reach (fs_dir, blob...) live: code outside the
 * agent's reach, judged as a process start (NODE_OPTIONS cannot carry the flag; execArgv can).
 */
function judgeEscapingFlags(execArgv: unknown): Error | null {
  if (!isArray(execArgv)) return null;
  const flags = execArgv as string[]; // strings already (snapshotOptions)
  let escaping = false;
  for (let i = 0; i < flags.length; i++)
    if (regExpExec(EXPOSE_INTERNALS, flags[i] as string) !== null) escaping = true;
  if (!escaping) return null;
  const op: Operation = {
    category: 'process',
    operation: 'spawn',
    command: 'worker_threads.Worker',
    args: flags,
  };
  return enforce(op, { call: 'new Worker' });
}

// Worker execArgv flags with which Node itself writes files when the worker exits (profiles), nears
// its heap limit (snapshots) or gets a signal (reports), and the flags naming where ('_' = '-')
const DIAGNOSTIC_WRITER =
  /^--(?:cpu[-_]prof|heap[-_]prof|heapsnapshot[-_]near[-_]heap[-_]limit|heapsnapshot[-_]signal|report[-_]on[-_]signal|report[-_]uncaught[-_]exception|report[-_]on[-_]fatalerror)(?![-_]dir|[-_]name|[-_]interval)/;
const DIAGNOSTIC_PLACE =
  /^--(?:cpu[-_]prof[-_]dir|heap[-_]prof[-_]dir|diagnostic[-_]dir|report[-_]dir|report[-_]directory|report[-_]filename)(?:=(.*))?$/;

/**
 * Those files are written by Node's C++ code, out of every fs hook: a worker with such a flag is
 * judged as a write where the file would land (each place named, else the working directory), under
 * the filesystem policy (test/redteam-round6.test.ts).
 */
export function judgeDiagnosticFlags(execArgv: unknown, call = 'new Worker', cwd?: string): Error | null {
  if (!isArray(execArgv)) return null;
  const flags = execArgv as string[]; // strings already (snapshotOptions)
  let writes = false;
  let named = false;
  let relativePlace = false;
  let denied: Error | null = null;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i] as string;
    if (regExpExec(DIAGNOSTIC_WRITER, flag) !== null) writes = true;
    const place = regExpExec(DIAGNOSTIC_PLACE, flag);
    if (place === null) continue;
    const value = place[1] ?? toText(flags[++i] ?? '');
    named = true;
    if (value === '' || stringCharCodeAt(value, 0) !== 0x2f) relativePlace = true;
    denied ??= judgePath(`${inDirectory(cwd, value === '' ? '.' : value)}/diagnostic`, 'write', call);
  }
  if (!writes) return null;
  denied ??= named ? null : judgePath(inDirectory(cwd, 'diagnostic'), 'write', call);
  // a relative directory (and near-limit snapshots, reports) of this process's own worker meets the
  // cwd only when the file is written, as the worker exits or later: from then on a chdir is judged
  // (native-writers.ts). A child's cwd is its own: this process's chdir cannot move it.
  if (!denied && cwd === undefined && (relativePlace || !named)) armCwdWriter(ARMED_DIAGNOSTIC);
  return denied;
}

/**
 * `path` as seen from `cwd` (a child's working directory). Without one, a relative path stays
 * relative: judgePath resolves it against the real working directory, not `process.cwd()`, which
 * the app may replace.
 */
function inDirectory(cwd: string | undefined, path: string): string {
  if (cwd === undefined || stringCharCodeAt(path, 0) === 0x2f) return path;
  return `${cwd}/${path}`;
}

/**
 * The Worker options as a prototype-free copy, each own property read ONCE and `execArgv` turned
 * into strings once; the copy is what is judged and what the real Worker gets. Handed the app's
 * object, a getter could answer the judge `execArgv: undefined` and the Worker
 * `['--expose-internals']`, and a missing option would be read from an `Object.prototype` the app
 * filled in (test/redteam-process.test.ts).
 */
function snapshotOptions(options: object): Record<string, unknown> {
  const copy = objectCreate(null) as Record<string, unknown>;
  const keys = objectKeys(options);
  for (let i = 0; i < keys.length; i++)
    copy[keys[i] as string] = (options as Record<string, unknown>)[keys[i] as string];
  const execArgv = copy.execArgv;
  if (isArray(execArgv)) {
    const flags: string[] = [];
    for (let i = 0; i < execArgv.length; i++) flags[i] = toText(execArgv[i]);
    copy.execArgv = flags;
  }
  return copy;
}

/** The resource limits Worker reads (lib/internal/worker.js parseResourceLimits, Node 20 and 22). */
const RESOURCE_LIMIT_KEYS = [
  'maxYoungGenerationSizeMb',
  'maxOldGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
];

/**
 * The resource limits as a copy, each read once (a getter could answer this check one value and
 * the Worker another), with a stack too small for the worker's agent raised to what it needs
 * (worker-thread.ts): below it the agent ran out of stack part-way through installing its hooks.
 * Any other value is left as the app gave it (Node ignores what is not a positive number).
 */
function withAgentStack(limits: object): Record<string, unknown> {
  const copy = objectCreate(null) as Record<string, unknown>;
  for (let i = 0; i < RESOURCE_LIMIT_KEYS.length; i++) {
    const key = RESOURCE_LIMIT_KEYS[i] as string;
    const value = (limits as Record<string, unknown>)[key];
    if (value !== undefined) copy[key] = value;
  }
  const stack = copy.stackSizeMb;
  if (typeof stack === 'number' && stack > 0 && stack < MIN_WORKER_STACK_MB)
    copy.stackSizeMb = MIN_WORKER_STACK_MB;
  return copy;
}

/** Corrects the (already copied, see snapshotOptions) options in place. */
function withAgentEnv(options: Record<string, unknown>): Record<string, unknown> {
  const env = options.env;
  if (env === SHARE_ENV && SHARE_ENV !== undefined) {
    if (sharedEnv) fixEnvInPlace(sharedEnv);
  } else if (env === undefined || env === null) {
    // Node would copy process.env: hand it a corrected copy instead
    options.env = fixedEnv(process.env);
  } else if (typeof env === 'object') {
    options.env = fixedEnv(env as Record<string, unknown>);
  }
  const limits = options.resourceLimits;
  if (limits !== null && typeof limits === 'object') options.resourceLimits = withAgentStack(limits);
  // An explicit execArgv replaces the inherited one, which holds `--require` when the agent was
  // preloaded on the command line rather than through NODE_OPTIONS; the agent goes first.
  const execArgv = options.execArgv;
  const agent = agentPath();
  if (isArray(execArgv) && agent) {
    const flags = execArgv as string[];
    const withAgent: string[] = ['--require', agent];
    for (let i = 0; i < flags.length; i++) withAgent[i + 2] = flags[i] as string;
    options.execArgv = withAgent;
  }
  return options;
}
