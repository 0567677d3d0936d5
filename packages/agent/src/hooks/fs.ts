/**
 * Public filesystem APIs that do not end in the `fs` binding patched by fs-binding.ts: directory
 * handles (`fs_dir` binding, not reachable through `process.binding`), `fs.openAsBlob` (`blob`
 * binding), `process.loadEnvFile`, WASI preopens, and the diagnostics that write files natively
 * (`process.report.writeReport`, `v8.writeHeapSnapshot`; V8 flags, near-heap-limit snapshots and
 * tracing: native-writers.ts). Each fails the way its API fails.
 */
import type { Operation } from '@appdefender/policy';
import { isAgentWork } from '../agent-work.js';
import { getBinding, patchMethod, pointConstructorTo, replaceProperty } from '../bindings.js';
import { builtin } from '../builtins.js';
import { enforce } from '../enforce.js';
import { objectKeys, stringCharCodeAt } from '../intrinsics.js';
import { UV_EACCES } from '../network/errno.js';
import { privateBytes } from './fs-binding.js';
import type { HookDescriptor } from './registry.js';
import { governedCandidate, resolveGoverned, workingDirectory } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;
const PromiseReject = Promise.reject.bind(Promise);
const nextTick = process.nextTick;
const { fileURLToPath } = builtin<typeof import('node:url')>('node:url');
// not `import fs from 'node:fs'`: esbuild's interop copies every export of the module into a
// namespace of getters at load (about 100 closures, 27 KB of the young generation at cold start)
const fs = builtin<typeof import('node:fs')>('node:fs');
const toText = String;

/**
 * The path argument in a form that cannot change between our judgement and the call, which is then
 * handed the same value: a URL (or URL-like object, whose `href`/`pathname` getters could answer
 * differently on the second read) becomes its path string, read once; a Buffer becomes a private copy
 * (a SharedArrayBuffer can be rewritten by a worker). These APIs do not end in the fs binding, so
 * this judgement is the only one (test/redteam-fs.test.ts).
 */
function stablePath(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  const bytes = privateBytes(input);
  if (bytes !== input) return bytes;
  if ('href' in input) {
    try {
      return fileURLToPath(input as URL);
    } catch {
      return input; // not a file URL: the API itself refuses it
    }
  }
  return input;
}

export const hook: HookDescriptor = {
  name: 'fs',
  category: 'filesystem',
  install() {
    const promises = fs.promises as unknown as Record<string, unknown>;
    // fs defines these as lazy getters (lib/internal/util.js defineLazyProperties); reading them once
    // turns them into the data properties we can patch
    void fs.opendir;
    void fs.opendirSync;
    patchMethod<AnyFunction>(fs, 'opendirSync', (original) => syncJudged('fs.opendirSync', 'read', original));
    patchMethod<AnyFunction>(fs, 'opendir', (original) => callbackJudged('fs.opendir', 'read', original));
    patchMethod<AnyFunction>(promises, 'opendir', (original) =>
      promiseJudged('fs.promises.opendir', 'read', original),
    );
    patchMethod<AnyFunction>(fs, 'openAsBlob', (original) =>
      promiseJudged('fs.openAsBlob', 'read', original),
    );
    patchMethod<AnyFunction>(process, 'loadEnvFile', (original) =>
      syncJudged('process.loadEnvFile', 'read', original, './.env'),
    );
    patchReportWhenLoaded();
    patchMethod<AnyFunction>(builtin<object>('node:module'), 'enableCompileCache', (original) =>
      compileCacheJudged(original),
    );
    const pipe = getBinding('pipe_wrap') as { Pipe?: { prototype: object } } | undefined;
    patchMethod<AnyFunction>(pipe?.Pipe?.prototype, 'bind', (original) => pipeBindJudged(original));
    patchMethod<AnyFunction>(loadQuietly('node:wasi'), 'WASI', (original) => wrapWasi(original));
    const v8 = builtin<typeof import('node:v8')>('node:v8');
    patchMethod<AnyFunction>(v8, 'writeHeapSnapshot', (original) =>
      syncJudged('v8.writeHeapSnapshot', 'write', original),
    );
  },
};

/** The ERR_ACCESS_DENIED error for `input`, or null when the access may proceed. */
export function judgePath(input: unknown, access: 'read' | 'write', call: string): Error | null {
  if (isAgentWork()) return null;
  const candidate = governedCandidate(input);
  if (candidate === null) return null;
  const real = resolveGoverned(candidate, true);
  if (real === null) return null;
  const op: Operation = { category: 'filesystem', operation: access, path: real };
  return enforce(op, { call });
}

function syncJudged(
  call: string,
  access: 'read' | 'write',
  original: AnyFunction,
  defaultPath?: string,
): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    if (args[0] !== undefined) args[0] = stablePath(args[0]);
    const path = args[0] === undefined ? defaultPath : args[0];
    if (path !== undefined) {
      const denied = judgePath(path, access, call);
      if (denied) throw denied;
    }
    return ReflectApply(original, this, args);
  };
}

function callbackJudged(call: string, access: 'read' | 'write', original: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const callback = args[args.length - 1];
    if (args.length > 0) args[0] = stablePath(args[0]);
    const denied = typeof callback === 'function' ? judgePath(args[0], access, call) : null;
    if (denied) {
      nextTick(() => ReflectApply(callback as AnyFunction, undefined, [denied]));
      return undefined;
    }
    return ReflectApply(original, this, args);
  };
}

function promiseJudged(call: string, access: 'read' | 'write', original: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    if (args.length > 0) args[0] = stablePath(args[0]);
    const denied = judgePath(args[0], access, call);
    if (denied) return PromiseReject(denied);
    return ReflectApply(original, this, args);
  };
}

/**
 * `process.report` is a getter that loads Node's report module on first use (about 0.3 ms of cold
 * start): ours patches `writeReport` on the object it returns instead of loading it now. The report
 * object is only reachable through this getter.
 */
function patchReportWhenLoaded(): void {
  const descriptor = Object.getOwnPropertyDescriptor(process, 'report');
  const originalGet = descriptor?.get;
  if (!descriptor || !originalGet || !descriptor.configurable) {
    patchMethod<AnyFunction>(process.report, 'writeReport', (original) => writeReportJudged(original));
    if (process.report) guardReportSettings(process.report);
    return;
  }
  replaceProperty(process, 'report', {
    enumerable: descriptor.enumerable === true,
    configurable: true,
    get: function get(this: unknown) {
      const report = ReflectApply(originalGet, this, []) as object | undefined;
      patchMethod<AnyFunction>(report, 'writeReport', (original) => writeReportJudged(original));
      if (report) guardReportSettings(report);
      return report;
    },
  });
}

/**
 * `module.enableCompileCache` (Node 22) has Node's C++ code write V8 code caches into a directory,
 * out of every fs hook: judged as a write there when it is turned on. The directory is read once
 * (an options object's getter could answer the judge one and Node another) and Node gets it as
 * judged; none given: NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache, as Node does
 * (test/redteam-round6.test.ts).
 */
function compileCacheJudged(original: AnyFunction): AnyFunction {
  return function enableCompileCache(this: unknown, ...args: unknown[]) {
    const options = args[0];
    let directory: unknown = options;
    if (options !== null && typeof options === 'object') {
      const { directory: chosen, portable } = options as { directory?: unknown; portable?: unknown };
      directory = chosen;
      args[0] = { directory: chosen, portable };
    }
    if (directory === undefined || directory === '')
      directory =
        process.env.NODE_COMPILE_CACHE ||
        `${builtin<typeof import('node:os')>('node:os').tmpdir()}/node-compile-cache`;
    if (typeof directory === 'string') {
      const denied = judgePath(`${directory}/cache`, 'write', 'module.enableCompileCache');
      if (denied) throw denied;
    }
    return ReflectApply(original, this, args);
  };
}

/**
 * A Unix-socket listener (`net.Server.listen({ path })`, raw `Pipe.bind`) creates its socket file
 * with bind(2) in pipe_wrap, not through the fs binding: judged as a write of that path, refused
 * the way a bind fails (EACCES, which listen emits as an `error`). Abstract sockets (a leading NUL)
 * have no file (test/redteam-round6.test.ts).
 */
function pipeBindJudged(original: AnyFunction): AnyFunction {
  return function bind(this: unknown, ...args: unknown[]) {
    const name = args[0];
    if (typeof name === 'string' && name !== '' && name.charCodeAt(0) !== 0) {
      const denied = judgePath(name, 'write', 'net.Server.listen');
      if (denied) return UV_EACCES;
    }
    return ReflectApply(original, this, args);
  };
}

/** Where Node writes a report named `filename` (none: report.<date>...json), or null for stdout/stderr. */
function reportPath(filename: string, directory: string): string | null {
  if (filename === 'stdout' || filename === 'stderr') return null;
  const name = filename === '' ? 'report.json' : filename;
  // relative to the real cwd (judgePath's), not `process.cwd()`, which the app may replace; the
  // first character read with the captured charCodeAt, not a replaceable `startsWith`
  if (stringCharCodeAt(name, 0) === 0x2f || directory === '') return name;
  return `${directory}/${name}`;
}

/** The working directory as Node knows it (the app may replace `process.cwd`). */
function realCwd(): string {
  return workingDirectory() ?? '/';
}

function judgeReport(filename: string, directory: string): void {
  const path = reportPath(filename, directory);
  const denied = path === null ? null : judgePath(path, 'write', 'process.report');
  if (denied) throw denied;
}

/** writeReport([filename][, err]): without a name, `report.filename`; relative: `report.directory` or the cwd. */
function writeReportJudged(original: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const report = process.report;
    const filename = typeof args[0] === 'string' && args[0] !== '' ? args[0] : toText(report?.filename ?? '');
    judgeReport(filename, toText(report?.directory ?? ''));
    return ReflectApply(original, this, args);
  };
}

const REPORT_TRIGGERS = ['reportOnSignal', 'reportOnUncaughtException', 'reportOnFatalError'] as const;
let reportGuarded = false;

/**
 * Reports Node writes by itself (on a signal, an uncaught exception, a fatal error) go through its
 * own C++ file stream, into `report.directory` (else the cwd at that moment) under `report.filename`:
 * so the settings are judged when they are made. Turning a trigger on judges where the report would
 * land and pins an empty directory to the cwd, so that a later chdir cannot move it
 * (test/redteam-round6.test.ts).
 */
function guardReportSettings(report: object): void {
  if (reportGuarded) return;
  reportGuarded = true;
  const settings = report as Record<string, unknown>;
  const setterOf = (key: string): AnyFunction | undefined => {
    const descriptor = Object.getOwnPropertyDescriptor(report, key);
    return descriptor?.set as AnyFunction | undefined;
  };
  const setDirectory = setterOf('directory');
  const triggered = (): boolean => {
    for (const key of REPORT_TRIGGERS) if (settings[key] === true) return true;
    return false;
  };
  const guard = (key: string, judge: (value: unknown) => unknown) => {
    const descriptor = Object.getOwnPropertyDescriptor(report, key);
    const set = descriptor?.set;
    if (!descriptor || !set || !descriptor.configurable) return;
    replaceProperty(report, key, {
      ...descriptor,
      set: function (this: unknown, value: unknown) {
        ReflectApply(set, this, [judge(value)]);
      },
    });
  };
  guard('directory', (value) => {
    const directory = typeof value === 'string' && value === '' && triggered() ? realCwd() : value;
    if (typeof directory === 'string') judgeReport(toText(settings.filename ?? ''), directory);
    return directory;
  });
  guard('filename', (value) => {
    if (typeof value === 'string') judgeReport(value, toText(settings.directory ?? ''));
    return value;
  });
  for (const key of REPORT_TRIGGERS)
    guard(key, (value) => {
      if (value !== true) return value;
      let directory = toText(settings.directory ?? '');
      judgeReport(toText(settings.filename ?? ''), directory);
      if (directory === '' && setDirectory) {
        directory = realCwd();
        ReflectApply(setDirectory, report, [directory]);
      }
      return value;
    });
}

/**
 * `node:wasi` preopens hand a WebAssembly module native read/write access to host directories,
 * outside every fs binding: each preopened directory is judged as a write when the WASI instance is
 * constructed (which throws, as it does for bad options). Loading `node:wasi` emits a one-time
 * ExperimentalWarning that the app did not cause; it is swallowed (the app's own later `require`
 * then prints none, the only visible difference).
 */
export function loadQuietly(id: `node:${string}`): object | undefined {
  const emitWarning = process.emitWarning;
  try {
    process.emitWarning = () => {};
    return builtin<object>(id);
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}

type Constructor = new (...args: unknown[]) => object;
const ReflectConstruct = Reflect.construct;

function wrapWasi(original: AnyFunction): AnyFunction {
  const Original = original as unknown as Constructor;
  const WASI = function WASI(this: unknown, ...args: unknown[]) {
    if (!new.target) throw new TypeError("Class constructor WASI cannot be invoked without 'new'");
    // The options are copied, each property and preopen read once, and the copy is what WASI gets:
    // a getter answering `/dev/shm` to the judge and `/tmp` to WASI must not work (test/redteam-fs.test.ts).
    const options = args[0];
    if (options && typeof options === 'object') {
      const copy: Record<string, unknown> = {};
      const keys = objectKeys(options);
      for (let i = 0; i < keys.length; i++)
        copy[keys[i] as string] = (options as Record<string, unknown>)[keys[i] as string];
      const preopens = copy.preopens;
      if (preopens && typeof preopens === 'object') {
        const fixed: Record<string, string> = {};
        const names = objectKeys(preopens);
        for (let i = 0; i < names.length; i++) {
          const hostPath = toText((preopens as Record<string, unknown>)[names[i] as string]);
          const denied = judgePath(hostPath, 'write', 'wasi.WASI preopens');
          if (denied) throw denied;
          fixed[names[i] as string] = hostPath;
        }
        copy.preopens = fixed;
      }
      const copied: unknown[] = [copy];
      for (let i = 1; i < args.length; i++) copied[i] = args[i];
      return ReflectConstruct(Original, copied, new.target);
    }
    return ReflectConstruct(Original, args, new.target);
  } as unknown as AnyFunction & { prototype: object };
  WASI.prototype = Original.prototype;
  pointConstructorTo(Original, WASI);
  return WASI;
}
