/**
 * Child processes, at every layer they can be started from:
 * - `ChildProcess.prototype.spawn`: behind `spawn`, `exec`, `execFile` and `fork`; a denied spawn
 *   emits `'error'` (ERR_ACCESS_DENIED) on the next tick, like a spawn that failed with EACCES, and
 *   the child's stdio streams exist as usual, so callers that attach listeners do not crash;
 * - the `process_wrap` binding's `Process.prototype.spawn` (raw `process.binding('process_wrap')`):
 *   a denied call returns UV_EACCES, which is how that binding fails;
 * - the `spawn_sync` binding (`execSync`/`execFileSync`/`spawnSync` call it directly, not the
 *   exported `spawnSync`): a denied call throws, which is how `execSync`/`execFileSync` fail; the
 *   exported `spawnSync` turns it into `result.error`, as it does for any spawn error;
 * - `process.execve` (Node 22.15+/23.11+), which replaces the process: a denied call throws.
 * The bindings are hooked at start; the module's methods only when something loads
 * `node:child_process` (see builtin-loads.ts), which Lambda's runtime itself never does.
 * The target is the command line. Every allowed spawn gets the agent re-injected into its
 * environment (support/agent-propagation.ts), so a child Node process is governed too.
 */
import type { Operation } from '@appdefender/policy';
import { getBinding, patchMethod } from '../bindings.js';
import { whenBuiltinLoaded } from '../builtin-loads.js';
import { builtin } from '../builtins.js';
import { enforce } from '../enforce.js';
import { cString, matches, objectKeys, stringSlice, stringStartsWith } from '../intrinsics.js';
import { UV_EACCES } from '../network/errno.js';
import { judgePath } from './fs.js';
import type { HookDescriptor } from './registry.js';
import { fixEnvPairs, fixedEnv, initAgentPropagation } from './support/agent-propagation.js';
import {
  initChildNativeLoads,
  loadsKey,
  type NativeLoad,
  nativeLoadsOf,
  normalizedOptionName,
} from './support/child-native-loads.js';
import { stopCachingResolutions } from './support/fs-paths.js';
import { judgeCoverage, judgeDiagnosticFlags } from './worker.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
interface SpawnOptions {
  file?: unknown;
  args?: unknown;
  envPairs?: unknown;
}

const ReflectApply = Reflect.apply;

/**
 * What the ChildProcess layer judged for an options object: command, argv, what native code the child
 * would load at start (`loadsKey`), verdict (null = allowed).
 */
interface Judged {
  file: string;
  args: string[];
  loads: string;
  setting: ChildSetting;
  denied: Error | null;
}
const judgedOptions = new WeakMap<object, Judged>();
const isArray = Array.isArray;
const toText = String;

/**
 * The spawn options as one plain copy, each property read ONCE, with `file`, every `args` element
 * and every `envPairs` entry turned into a string once: the binding is handed the copy, so it starts
 * exactly what was judged. Handed the app's own object, a getter (`get file() { ... }`), a Proxy or
 * an element whose `toString` changes its answer would show the judge `/bin/true` and the binding
 * `/bin/sh`; a non-string env entry would carry a NODE_OPTIONS past the correction; and a missing
 * `envPairs` would inherit an environment the app edited (test/redteam-process.test.ts).
 */
function snapshotOptions(
  options: object,
): { file: string; args: string[]; envPairs: string[] } & Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  const keys = objectKeys(options);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    copy[key] = (options as Record<string, unknown>)[key];
  }
  const file = toText(copy.file);
  const args: string[] = [];
  const rawArgs = copy.args;
  if (isArray(rawArgs)) for (let i = 0; i < rawArgs.length; i++) args[i] = toText(rawArgs[i]);
  const envPairs: string[] = [];
  const rawEnv = copy.envPairs;
  if (isArray(rawEnv)) {
    for (let i = 0; i < rawEnv.length; i++) envPairs[i] = toText(rawEnv[i]);
  } else {
    const env = process.env;
    const names = objectKeys(env);
    for (let i = 0; i < names.length; i++) {
      const value = env[names[i] as string];
      if (value !== undefined) envPairs[envPairs.length] = `${names[i]}=${value}`;
    }
  }
  copy.file = file;
  copy.args = args;
  copy.envPairs = envPairs;
  return copy as { file: string; args: string[]; envPairs: string[] } & Record<string, unknown>;
}

function sameCommand(judged: Judged, file: string, args: string[]): boolean {
  if (judged.file !== file || judged.args.length !== args.length) return false;
  for (let i = 0; i < args.length; i++) if (judged.args[i] !== args[i]) return false;
  return true;
}

/** The first element of `args` replaced (the rest copied by index, no iterator). */
function withFirst(args: unknown[], first: unknown): unknown[] {
  const copy: unknown[] = [first];
  for (let i = 1; i < args.length; i++) copy[i] = args[i];
  return copy;
}
/** Errors we raised for denied spawns, so `spawnSync` can return them instead of throwing. */
const deniedErrors = new WeakSet<Error>();

export const hook: HookDescriptor = {
  name: 'child-process',
  category: 'process',
  install() {
    initAgentPropagation();
    initChildNativeLoads();
    const processWrap = getBinding('process_wrap')?.Process as { prototype?: object } | undefined;
    patchMethod<AnyFunction>(processWrap?.prototype, 'spawn', wrapProcessWrapSpawn);
    patchMethod<AnyFunction>(getBinding('spawn_sync'), 'spawn', wrapSpawnSyncBinding);
    patchMethod<AnyFunction>(process, 'execve', wrapExecve);
    // the module when it loads, if ever: the bindings above judge every spawn until then
    whenBuiltinLoaded(['child_process'], () => {
      const childProcess = builtin<typeof import('node:child_process')>('node:child_process');
      patchMethod<AnyFunction>(childProcess.ChildProcess.prototype, 'spawn', wrapChildProcessSpawn);
      patchMethod<AnyFunction>(childProcess, 'spawnSync', wrapSpawnSyncExport);
    });
  },
};

/**
 * Node options under which a Node child runs code without the preload modules NODE_OPTIONS names,
 * so without its agent: `--build-snapshot` and `--build-snapshot-config` run the builder script
 * bare (Node 20 and 22), and `--run` (Node 22) hands a package.json script to a shell with no JS at
 * all. Looked for anywhere in argv: options take separate values, and a false match on some other
 * program only drops the allowedCommands grant for that one spawn.
 */
const PRELOAD_SKIPPING_FLAGS = ['--build-snapshot', '--build-snapshot-config', '--run'];

/**
 * The command such a spawn is judged as: not the program's own name, which `node` among
 * allowedCommands would grant, since what runs is no longer governed (test/redteam-round5.test.ts);
 * the process mode decides, as for a worker with `--expose-internals` (hooks/worker.ts).
 */
const UNGOVERNED_NODE = 'node (without the agent)';

function skipsPreloadModules(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    // Node reads `_` in an option's name as `-`: `--build_snapshot` is `--build-snapshot`
    const arg = normalizedOptionName(argv[i] as string);
    for (let j = 0; j < PRELOAD_SKIPPING_FLAGS.length; j++) {
      const flag = PRELOAD_SKIPPING_FLAGS[j] as string;
      if (
        arg === flag ||
        (arg.length > flag.length && arg[flag.length] === '=' && stringStartsWith(arg, flag))
      )
        return true;
    }
  }
  return false;
}

/**
 * What native code a child started with `args` (argv, argv[0] included) and `envPairs` would load at
 * start, read as the C strings exec hands the child (support/child-native-loads.ts).
 */
function childLoads(args: readonly string[], envPairs: readonly string[]): NativeLoad[] {
  const argv: string[] = [];
  for (let i = 1; i < args.length; i++) argv[i - 1] = cString(args[i] as string);
  const pairs: string[] = [];
  for (let i = 0; i < envPairs.length; i++) pairs[i] = cString(envPairs[i] as string);
  return nativeLoadsOf(argv, pairs);
}

/**
 * Node options that open the child's inspector before its agent starts (`--inspect`, `--inspect-brk`,
 * `--inspect-wait`; Node reads `_` as `-`): a debugger attached to the child, the child itself
 * through an allowed `localhost` or anything reaching the port, reads the originals out of the
 * hooks' closures (hooks/inspector.ts), so the child runs ungoverned (test/redteam-round7-roads.test.ts).
 * Looked for in argv, like the flags above, and in the child's NODE_OPTIONS.
 */
const INSPECTOR_FLAG = /^--inspect(?:[-_](?:brk|wait|brk[-_]node))?(?:=|$)/;
const INSPECTOR_IN_NODE_OPTIONS = /(?:^|[\s"])--inspect(?:[-_](?:brk|wait|brk[-_]node))?(?:[=\s"]|$)/;

function opensInspector(argv: readonly string[], nodeOptions: string | undefined): boolean {
  for (let i = 0; i < argv.length; i++) if (matches(INSPECTOR_FLAG, argv[i] as string)) return true;
  return nodeOptions !== undefined && matches(INSPECTOR_IN_NODE_OPTIONS, nodeOptions);
}

/**
 * What a Node child reads from its environment and working directory that makes it write files
 * natively, or open its inspector: the first of each variable in `KEY=value` pairs (the child's
 * getenv() answers the first; see fixEnvPairs), and the directory relative places are in.
 */
export interface ChildSetting {
  nodeOptions: string | undefined;
  coverage: string | undefined;
  compileCache: string | undefined;
  /** undefined: this process's, when it is needed (it may have been removed) */
  cwd: string | undefined;
}

function firstValue(envPairs: unknown, key: string): string | undefined {
  if (!isArray(envPairs)) return undefined;
  const prefix = `${key}=`;
  for (let i = 0; i < envPairs.length; i++) {
    const pair = toText(envPairs[i]);
    if (stringStartsWith(pair, prefix)) return stringSlice(pair, prefix.length);
  }
  return undefined;
}

/** The child's setting from spawn options (`envPairs` and `cwd`, each read once by the caller). */
export function childSettingOf(envPairs: unknown, cwd: unknown): ChildSetting {
  let directory: string | undefined;
  if (typeof cwd === 'string' && cwd !== '') {
    directory = cwd;
    if (!stringStartsWith(cwd, '/')) {
      try {
        directory = `${process.cwd()}/${cwd}`;
      } catch {
        // this process's directory is gone: the child's relative one cannot be reached either
      }
    }
  }
  return {
    nodeOptions: firstValue(envPairs, 'NODE_OPTIONS'),
    coverage: firstValue(envPairs, 'NODE_V8_COVERAGE'),
    compileCache: firstValue(envPairs, 'NODE_COMPILE_CACHE'),
    cwd: directory,
  };
}

function sameSetting(a: ChildSetting | undefined, b: ChildSetting | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.nodeOptions === b.nodeOptions &&
    a.coverage === b.coverage &&
    a.compileCache === b.compileCache &&
    a.cwd === b.cwd
  );
}

/** NODE_OPTIONS as Node splits it: at white space, double quotes grouping (src/node_options.cc). */
function nodeOptionTokens(nodeOptions: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let inToken = false;
  for (let i = 0; i < nodeOptions.length; i++) {
    const c = nodeOptions[i] as string;
    if (c === '\\' && quoted && i + 1 < nodeOptions.length) {
      current += nodeOptions[++i] as string;
      inToken = true;
    } else if (c === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (!quoted && (c === ' ' || c === '\t' || c === '\n')) {
      if (inToken) tokens[tokens.length] = current;
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (inToken) tokens[tokens.length] = current;
  return tokens;
}

// NODE_COMPILE_CACHE as the operator started the process with it: left alone
const operatorCompileCache = process.env.NODE_COMPILE_CACHE || undefined;

/**
 * A Node child writes files natively, before its agent starts or where no hook sees: profiles and
 * reports its flags ask for (argv or NODE_OPTIONS, judged as a worker's are: hooks/worker.ts),
 * coverage into NODE_V8_COVERAGE, the compile cache into NODE_COMPILE_CACHE (Node 22). Each place
 * is judged as a write (relative ones in the child's working directory); the operator's own
 * coverage and cache settings are left alone. Any program's spawn is looked at: a flag that means
 * nothing to it only makes its start judged as a write (test/redteam-round7-roads.test.ts).
 */
function judgeNativeWriters(argv: readonly string[], setting: ChildSetting, call: string): Error | null {
  const { cwd } = setting;
  const denied =
    judgeDiagnosticFlags(argv, call, cwd) ??
    (setting.nodeOptions === undefined
      ? null
      : judgeDiagnosticFlags(nodeOptionTokens(setting.nodeOptions), call, cwd)) ??
    judgeCoverage(setting.coverage, call, cwd);
  if (denied) return denied;
  const cache = setting.compileCache;
  if (cache === undefined || cache === '' || cache === operatorCompileCache) return null;
  return judgePath(
    `${stringStartsWith(cache, '/') || cwd === undefined ? cache : `${cwd}/${cache}`}/cache`,
    'write',
    call,
  );
}

/**
 * The ERR_ACCESS_DENIED error for spawning `file args...`, or null when allowed. An allowed command
 * whose child would load native code at start (`loads`: OpenSSL configurations and engines,
 * LD_PRELOAD) is judged again for each of those, as process operation `load`, and the files a Node
 * child would write natively (`setting`) as writes: a denied one refuses the spawn.
 */
export function judgeSpawn(
  file: unknown,
  args: unknown,
  call: string,
  loads: readonly NativeLoad[] = [],
  setting?: ChildSetting,
): Error | null {
  // what exec will use: libc reads C strings, which end at a NUL the spawn bindings do not refuse
  // ('/bin/sh\0/../../usr/bin/git' is /bin/sh, though it normalises to an allowed /usr/bin/git)
  const command = cString(typeof file === 'string' ? file : toText(file));
  const argv: string[] = [];
  if (isArray(args)) for (let i = 1; i < args.length; i++) argv[i - 1] = cString(toText(args[i]));
  const op: Operation = {
    category: 'process',
    operation: 'spawn',
    command:
      skipsPreloadModules(argv) || opensInspector(argv, setting?.nodeOptions) ? UNGOVERNED_NODE : command,
    args: argv,
  };
  let denied = enforce(op, { call });
  for (let i = 0; !denied && i < loads.length; i++) {
    const load = loads[i] as NativeLoad;
    const loadOp: Operation = { category: 'process', operation: 'load', command: load.target };
    denied = enforce(loadOp, { call, via: load.via });
  }
  denied ??= setting ? judgeNativeWriters(argv, setting, call) : null;
  if (denied) deniedErrors.add(denied);
  // a child may rearrange links under governed directories at any time: no more cached resolutions
  else stopCachingResolutions();
  return denied;
}

function wrapChildProcessSpawn(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!options || typeof options !== 'object') return ReflectApply(original, this, args);
    // read once; the binding layer below judges again if the object answers differently by then
    const file = toText(options.file);
    const rawArgs = options.args;
    const argv: string[] = [];
    if (isArray(rawArgs)) for (let i = 0; i < rawArgs.length; i++) argv[i] = toText(rawArgs[i]);
    const rawEnv = options.envPairs;
    const envPairs: string[] = [];
    if (isArray(rawEnv)) for (let i = 0; i < rawEnv.length; i++) envPairs[i] = toText(rawEnv[i]);
    const loads = childLoads(argv, envPairs);
    const setting = childSettingOf(envPairs, (options as { cwd?: unknown }).cwd);
    const denied = judgeSpawn(file, argv, 'child_process.spawn', loads, setting);
    judgedOptions.set(options, { file, args: argv, loads: loadsKey(loads), setting, denied });
    if (denied) replaceNextSpawnError(this, denied);
    return ReflectApply(original, this, args);
  };
}

/**
 * The binding answers UV_EACCES and Node emits 'error' with an EACCES ErrnoException on the next
 * tick; that one emission carries our error instead (with the same `path`/`spawnargs` fields).
 */
function replaceNextSpawnError(child: unknown, denied: Error): void {
  const target = child as { emit?: AnyFunction };
  const emit = target.emit;
  if (typeof emit !== 'function') return;
  const replacing = function (this: unknown, ...emitArgs: unknown[]) {
    if (emitArgs[0] === 'error') {
      delete (target as Record<string, unknown>).emit;
      const original = emitArgs[1] as { path?: unknown; spawnargs?: unknown } | undefined;
      Object.assign(denied, { path: original?.path, spawnargs: original?.spawnargs, syscall: 'spawn' });
      const result = ReflectApply(emit, this, ['error', denied, ...emitArgs.slice(2)]);
      // A real failed spawn's pipes see EOF and close; ours were never connected, so close them.
      const stdio = (target as { stdio?: unknown }).stdio;
      if (Array.isArray(stdio)) {
        for (const stream of stdio as Array<{ destroy?: () => void } | null>) {
          if (stream && typeof stream.destroy === 'function') stream.destroy();
        }
      }
      // fork's IPC channel likewise: the EOF path of its onread disconnects it and lets 'close' fire
      // (the pipe handle sits under Node's private kChannelHandle symbol; `child.channel` is a wrapper)
      const handleKey = Object.getOwnPropertySymbols(target).find(
        (key) => key.description === 'kChannelHandle',
      );
      const channel = handleKey
        ? ((target as Record<symbol, unknown>)[handleKey] as { onread?: unknown } | null)
        : null;
      if (channel && typeof channel.onread === 'function')
        ReflectApply(channel.onread as AnyFunction, channel, []);
      return result;
    }
    return ReflectApply(emit, this, emitArgs);
  };
  Object.defineProperty(target, 'emit', {
    value: replacing,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * Options the spawn bindings accept: any object, functions included (V8's IsObject). A function with
 * `file`/`args`/`envPairs` properties once went past `typeof options === 'object'` unjudged.
 */
function isOptionsObject(options: unknown): options is object {
  return options !== null && (typeof options === 'object' || typeof options === 'function');
}

function wrapProcessWrapSpawn(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!isOptionsObject(options)) return ReflectApply(original, this, args);
    const snapshot = snapshotOptions(options);
    const judged = judgedOptions.get(options);
    judgedOptions.delete(options);
    const loads = childLoads(snapshot.args, snapshot.envPairs);
    const setting = childSettingOf(snapshot.envPairs, snapshot.cwd);
    const verdict =
      judged &&
      sameCommand(judged, snapshot.file, snapshot.args) &&
      judged.loads === loadsKey(loads) &&
      sameSetting(judged.setting, setting)
        ? judged.denied
        : judgeSpawn(
            snapshot.file,
            snapshot.args,
            "process.binding('process_wrap').Process.spawn",
            loads,
            setting,
          );
    if (verdict) {
      // pid 0 makes ChildProcess create handle-less stdio sockets instead of reading unopened pipes
      try {
        Object.defineProperty(this, 'pid', { value: 0, writable: true, configurable: true });
      } catch {
        // a handle we cannot annotate still fails with EACCES; only its stdio may report ENOTCONN
      }
      return UV_EACCES;
    }
    fixEnvPairs(snapshot.envPairs);
    return ReflectApply(original, this, withFirst(args, snapshot));
  };
}

function wrapSpawnSyncBinding(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!isOptionsObject(options)) return ReflectApply(original, this, args);
    const snapshot = snapshotOptions(options);
    const denied = judgeSpawn(
      snapshot.file,
      snapshot.args,
      'child_process.spawnSync',
      childLoads(snapshot.args, snapshot.envPairs),
      childSettingOf(snapshot.envPairs, snapshot.cwd),
    );
    if (denied) throw denied;
    fixEnvPairs(snapshot.envPairs);
    return ReflectApply(original, this, withFirst(args, snapshot));
  };
}

/** `spawnSync` reports spawn failures in `result.error`, never by throwing. */
function wrapSpawnSyncExport(original: AnyFunction): AnyFunction {
  return function spawnSync(this: unknown, ...args: unknown[]) {
    try {
      return ReflectApply(original, this, args);
    } catch (error) {
      if (!(error instanceof Error) || !deniedErrors.has(error)) throw error;
      return { error, status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null };
    }
  };
}

/** process.execve(file[, args[, env]]): the process image is replaced, so judge and fix env first. */
function wrapExecve(original: AnyFunction): AnyFunction {
  return function execve(this: unknown, ...args: unknown[]) {
    // each argument read and turned into strings once (see snapshotOptions)
    const file = toText(args[0]);
    const rawArgv = args[1];
    const env = args[2];
    const argv: string[] = [];
    if (isArray(rawArgv)) for (let i = 0; i < rawArgv.length; i++) argv[i] = toText(rawArgv[i]);
    const fixed = fixedEnv(
      env && typeof env === 'object' ? (env as Record<string, unknown>) : process.env,
      true,
    );
    // the environment the new program gets: the corrected copy, read once
    const pairs: string[] = [];
    const names = objectKeys(fixed);
    for (let i = 0; i < names.length; i++) pairs[i] = `${names[i]}=${fixed[names[i] as string]}`;
    const judgedArgv = isArray(rawArgv) ? argv : [file];
    const setting: ChildSetting = {
      nodeOptions: fixed.NODE_OPTIONS,
      coverage: fixed.NODE_V8_COVERAGE,
      compileCache: fixed.NODE_COMPILE_CACHE,
      cwd: undefined,
    };
    const denied = judgeSpawn(file, judgedArgv, 'process.execve', childLoads(judgedArgv, pairs), setting);
    if (denied) throw denied;
    const rest: unknown[] = [file, isArray(rawArgv) ? argv : (rawArgv ?? []), fixed];
    for (let i = 3; i < args.length; i++) rest[i] = args[i];
    return ReflectApply(original, this, rest);
  };
}
