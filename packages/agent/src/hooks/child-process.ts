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
 * The target is the command line. Every allowed spawn gets the agent re-injected into its
 * environment (support/agent-propagation.ts), so a child Node process is governed too.
 */
import { constants as osConstants } from 'node:os';
import type { Operation } from '@appdefender/policy';
import { getBinding, patchMethod } from '../bindings.js';
import { builtin } from '../builtins.js';
import { enforce } from '../enforce.js';
import type { HookDescriptor } from './registry.js';
import { fixEnvPairs, fixedEnv, initAgentPropagation } from './support/agent-propagation.js';
import { stopCachingResolutions } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
interface SpawnOptions {
  file?: unknown;
  args?: unknown;
  envPairs?: unknown;
}

const ReflectApply = Reflect.apply;
const UV_EACCES = -(osConstants.errno.EACCES ?? 13);

/** Options objects already judged by the ChildProcess layer, with the verdict (null = allowed). */
const judgedOptions = new WeakMap<object, Error | null>();
/** Errors we raised for denied spawns, so `spawnSync` can return them instead of throwing. */
const deniedErrors = new WeakSet<Error>();

export const hook: HookDescriptor = {
  name: 'child-process',
  category: 'process',
  install() {
    initAgentPropagation();
    const childProcess = builtin<typeof import('node:child_process')>('node:child_process');
    patchMethod<AnyFunction>(childProcess.ChildProcess.prototype, 'spawn', wrapChildProcessSpawn);
    const processWrap = getBinding('process_wrap')?.Process as { prototype?: object } | undefined;
    patchMethod<AnyFunction>(processWrap?.prototype, 'spawn', wrapProcessWrapSpawn);
    patchMethod<AnyFunction>(getBinding('spawn_sync'), 'spawn', wrapSpawnSyncBinding);
    patchMethod<AnyFunction>(childProcess, 'spawnSync', wrapSpawnSyncExport);
    patchMethod<AnyFunction>(process, 'execve', wrapExecve);
  },
};

/** The ERR_ACCESS_DENIED error for spawning `file args...`, or null when allowed. */
export function judgeSpawn(file: unknown, args: unknown, call: string): Error | null {
  const command = typeof file === 'string' ? file : String(file);
  const argv = Array.isArray(args) ? args.slice(1).map(String) : [];
  const op: Operation = { category: 'process', operation: 'spawn', command, args: argv };
  const denied = enforce(op, { call });
  if (denied) deniedErrors.add(denied);
  // a child may rearrange links under governed directories at any time: no more cached resolutions
  else stopCachingResolutions();
  return denied;
}

function wrapChildProcessSpawn(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!options || typeof options !== 'object') return ReflectApply(original, this, args);
    const denied = judgeSpawn(options.file, options.args, 'child_process.spawn');
    judgedOptions.set(options, denied);
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

function wrapProcessWrapSpawn(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!options || typeof options !== 'object') return ReflectApply(original, this, args);
    const verdict = judgedOptions.has(options)
      ? judgedOptions.get(options)
      : judgeSpawn(options.file, options.args, "process.binding('process_wrap').Process.spawn");
    judgedOptions.delete(options);
    if (verdict) {
      // pid 0 makes ChildProcess create handle-less stdio sockets instead of reading unopened pipes
      try {
        Object.defineProperty(this, 'pid', { value: 0, writable: true, configurable: true });
      } catch {
        // a handle we cannot annotate still fails with EACCES; only its stdio may report ENOTCONN
      }
      return UV_EACCES;
    }
    fixEnvPairs(options.envPairs);
    return ReflectApply(original, this, args);
  };
}

function wrapSpawnSyncBinding(original: AnyFunction): AnyFunction {
  return function spawn(this: unknown, ...args: unknown[]) {
    const options = args[0] as SpawnOptions | undefined;
    if (!options || typeof options !== 'object') return ReflectApply(original, this, args);
    const denied = judgeSpawn(options.file, options.args, 'child_process.spawnSync');
    if (denied) throw denied;
    fixEnvPairs(options.envPairs);
    return ReflectApply(original, this, args);
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
    const [file, argv, env] = args;
    const denied = judgeSpawn(file, Array.isArray(argv) ? argv : [file], 'process.execve');
    if (denied) throw denied;
    const fixed = fixedEnv(env && typeof env === 'object' ? (env as Record<string, unknown>) : process.env);
    return ReflectApply(original, this, [file, argv ?? [], fixed, ...args.slice(3)]);
  };
}
