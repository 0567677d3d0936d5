/**
 * V8 and Node writing files natively, armed from JavaScript at run time: V8 flags
 * (`v8.setFlagsFromString`, and the `v8` binding's own function, which `process.binding('v8')`
 * hands out and the `v8` module captured at load), heap snapshots near the heap limit (both roads),
 * and Node's tracing agent (`trace_events`). None of it goes through the fs binding, so each is
 * judged as a write where its files would land when it is armed, and fails the way the API fails
 * (synchronously). A writer let through with a destination relative to the working directory makes
 * every later `process.chdir` a write into the new directory (support/armed-writers.ts;
 * test/redteam-round7-v8.test.ts).
 */
import { getBinding, patchMethod } from '../bindings.js';
import { builtin } from '../builtins.js';
import {
  apply,
  cString,
  getOwnPropertySymbols,
  stringCharCodeAt,
  stringIndexOf,
  stringSlice,
  toLowerCase,
  uncurry,
} from '../intrinsics.js';
import { inWorkerThread } from '../worker-thread.js';
import { judgePath } from './fs.js';
import type { HookDescriptor } from './registry.js';
import {
  ARMED_DIAGNOSTIC,
  ARMED_HEAP_SNAPSHOT,
  ARMED_TRACE,
  ARMED_V8_FLAG,
  armCwdWriter,
  armedKinds,
} from './support/armed-writers.js';
import { workingDirectory } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const getPrototypeOf = Object.getPrototypeOf;
const includes = uncurry(String.prototype.includes as (this: string, search: string) => boolean);
const endsWith = uncurry(String.prototype.endsWith as (this: string, search: string) => boolean);
const replaceAll = uncurry(
  String.prototype.replaceAll as (this: string, search: string, replacement: string) => string,
);

export const hook: HookDescriptor = {
  name: 'native-writers',
  category: 'filesystem',
  install() {
    const v8 = builtin<object>('node:v8');
    // the same object `process.binding('v8')` gives the app; `node:v8` holds its own references
    // to these two functions, taken at load, so both places are patched
    const binding = getBinding('v8');
    for (const target of [v8, binding]) {
      patchMethod<AnyFunction>(target, 'setFlagsFromString', (original) => flagsJudged(original));
      patchMethod<AnyFunction>(target, 'setHeapSnapshotNearHeapLimit', (original) =>
        nearHeapLimitJudged(original),
      );
    }
    // only the main thread owns the process's tracing agent and working directory: a worker can
    // neither load trace_events (ERR_TRACE_EVENTS_UNAVAILABLE) nor chdir
    if (inWorkerThread) return;
    patchTraceEvents();
    patchMethod<AnyFunction>(process, 'chdir', (original) => chdirJudged(original));
  },
};

/**
 * A V8 flag is taken as one that writes files when its name, normalised as V8 reads it (`_` is `-`,
 * any `no`/`no-` prefix kept in), contains one of these. A family rule rather than a list of flag
 * names, which a new V8 would outgrow: it catches flags that write nothing too (`--prof-cpp`,
 * `--stress-snapshot`), which then only cost a judgement. Flags outside these families were tried
 * one by one at run time on Node 20 and 22 (a compile, an optimisation, a wasm module, a worker);
 * none wrote a file.
 */
const WRITER_FAMILIES = [
  'file', // --trace-turbo-cfg-file, --perf-prof-delete-file, --*-output-file
  'path', // --trace-turbo-path, --dump-wasm-module-path, --perf-*-prof-path
  'dir',
  'output', // --turbo-profiling-output
  'log', // --log-*, --logfile
  'prof', // --prof, --ll-prof, --perf-*prof
  'dump', // --dump-wasm-module, --gdbjit-dump
  'trace-turbo', // turbo-*.json and turbo-<pid>-<isolate>.cfg into the cwd
  'redirect', // --redirect-code-traces(-to): code traces (sources included) into any file
  'snapshot', // --heap-snapshot-on-oom, --heap-snapshot-on-gc
  'perf',
  'gdbjit',
  'counters', // --map-counters=<file>
  'mmap', // --gc-fake-mmap=<file>
  'src', // mksnapshot's --startup-src, --embedded-src
  'blob', // mksnapshot's --startup-blob
];

/** The file a writer flag without a destination of its own writes into the cwd (named in events). */
function defaultFileName(name: string): string {
  if (includes(name, 'turbo')) return 'turbo.json';
  if (includes(name, 'redirect')) return 'code.asm';
  if (includes(name, 'perf')) return 'perf.map';
  if (includes(name, 'snapshot')) return 'Heap.heapsnapshot';
  if (includes(name, 'wasm')) return 'wasm-module.wasm';
  return 'v8.log';
}

/** V8 splits the flag string at isspace() (FlagList::SetFlagsFromString); a NUL ends it. */
function isSeparator(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0;
}

function splitFlags(text: string): string[] {
  const tokens: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const separator = i === text.length || isSeparator(stringCharCodeAt(text, i));
    if (separator && start !== -1) {
      tokens[tokens.length] = stringSlice(text, start, i);
      start = -1;
    } else if (!separator && start === -1) start = i;
  }
  return tokens;
}

/** The flag's name as V8 matches it (`--no_trace_turbo=x` → `no-trace-turbo`) and its `=value`. */
function parseFlag(token: string): { name: string; value: string | undefined } {
  let begin = 0;
  while (begin < token.length && stringCharCodeAt(token, begin) === 0x2d /* - */) begin++;
  const equals = stringIndexOf(token, '=');
  const end = equals === -1 ? token.length : equals;
  const name = replaceAll(toLowerCase(stringSlice(token, begin, end)), '_', '-');
  return { name, value: equals === -1 ? undefined : stringSlice(token, equals + 1) };
}

function isWriterFlag(name: string): boolean {
  for (let i = 0; i < WRITER_FAMILIES.length; i++)
    if (includes(name, WRITER_FAMILIES[i] as string)) return true;
  return false;
}

/** A flag naming a directory (V8 adds its own file names), not a file or a file-name prefix. */
function namesDirectory(name: string): boolean {
  return endsWith(name, 'path') || endsWith(name, 'dir');
}

const isAbsolute = (path: string): boolean => stringCharCodeAt(path, 0) === 0x2f;

// Flag values compose across calls: V8 writes into <--trace-turbo-path>/<--trace-turbo-file-prefix>...,
// so a directory let through earlier is judged with every relative value given later, and the
// other way round (a prefix `../../tmp/x/y` harmless against the cwd is not under that directory).
const grantedDirectories: string[] = [];
const grantedRelatives: string[] = [];

function addOnce(list: string[], value: string): void {
  for (let i = 0; i < list.length; i++) if (list[i] === value) return;
  list[list.length] = value;
}

/**
 * Every file `flags` would have V8 write, as paths to judge (relative ones against the cwd), the
 * directories they name, and the values relative to the cwd (`.` for the cwd itself).
 */
function flagDestinations(flags: string): { paths: string[]; directories: string[]; relatives: string[] } {
  const tokens = splitFlags(flags);
  const paths: string[] = [];
  const directories: string[] = [];
  const relatives: string[] = [];
  const add = (path: string) => addOnce(paths, path);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (stringCharCodeAt(token, 0) !== 0x2d) continue;
    const { name, value: given } = parseFlag(token);
    if (!isWriterFlag(name)) continue;
    // `--no-x`, `--nox`: V8 reads any leading `no` as a negation, which sets a boolean off (another
    // flag type is an error), and no writer writes more when turned off; with a value, still judged
    if (given === undefined && stringCharCodeAt(name, 0) === 0x6e && stringCharCodeAt(name, 1) === 0x6f)
      continue;
    if (given === undefined || given === '') {
      // a boolean writer (or one left without a value) writes into the cwd
      add(defaultFileName(name));
      relatives[relatives.length] = '.';
    }
    // V8 takes a non-boolean flag's value from the next argument when there is no `=` (a boolean
    // leaves that argument alone, so both are judged)
    const next = tokens[i + 1];
    const value =
      given !== undefined ? given : next !== undefined && stringCharCodeAt(next, 0) !== 0x2d ? next : '';
    if (value === '') continue;
    if (namesDirectory(name)) {
      add(`${value}/${defaultFileName(name)}`);
      directories[directories.length] = value;
      for (let j = 0; j < grantedRelatives.length; j++) add(`${value}/${grantedRelatives[j]}`);
    } else {
      add(value);
      if (!isAbsolute(value))
        for (let j = 0; j < grantedDirectories.length; j++) add(`${grantedDirectories[j]}/${value}`);
    }
    if (!isAbsolute(value)) relatives[relatives.length] = value;
  }
  return { paths, directories, relatives };
}

function flagsJudged(original: AnyFunction): AnyFunction {
  return function setFlagsFromString(this: unknown, ...args: unknown[]) {
    // a string, or Node refuses it (the module) or aborts (the binding): strings cannot change
    const flags = args[0];
    if (typeof flags === 'string') {
      const { paths, directories, relatives } = flagDestinations(flags);
      for (let i = 0; i < paths.length; i++) {
        const denied = judgePath(paths[i], 'write', 'v8.setFlagsFromString');
        if (denied) throw denied;
      }
      const cwd = workingDirectory() ?? '/';
      for (let i = 0; i < directories.length; i++) {
        const directory = directories[i] as string;
        addOnce(grantedDirectories, isAbsolute(directory) ? directory : `${cwd}/${directory}`);
      }
      for (let i = 0; i < relatives.length; i++) addOnce(grantedRelatives, relatives[i] as string);
      if (relatives.length > 0) armCwdWriter(ARMED_V8_FLAG);
    }
    return apply(original, this, args);
  };
}

/**
 * `setHeapSnapshotNearHeapLimit` (the module's and the binding's) has Node's C++ code write heap
 * snapshots, near the heap limit, into the working directory of that moment (a worker with small
 * resourceLimits gets there on demand): judged as a write into the cwd when it is asked for. Under
 * `--diagnostic-dir`, which only the operator can give the process, that directory is where they go.
 */
function nearHeapLimitJudged(original: AnyFunction): AnyFunction {
  return function setHeapSnapshotNearHeapLimit(this: unknown, ...args: unknown[]) {
    const denied = judgePath('heap.heapsnapshot', 'write', 'v8.setHeapSnapshotNearHeapLimit');
    if (denied) throw denied;
    armCwdWriter(ARMED_HEAP_SNAPSHOT);
    return apply(original, this, args);
  };
}

/**
 * Node's tracing agent writes `node_trace.<rotation>.log` (`--trace-event-file-pattern`, which only
 * the operator can set) relative to the cwd: the first file when a category is enabled, the next
 * every 2^19 events. `Tracing#enable` reaches it through the Tracing's native handle, a
 * `CategorySet`, which Node 20 keeps under a symbol the app can read (`new handle.constructor([...])
 * .enable()` then needs no Tracing at all), Node 22 in a private field. So the judgement sits on
 * `CategorySet.prototype.enable` where the handle is reachable, else on `Tracing.prototype.enable`.
 *
 * Loaded at start (main thread only), not when the app loads it (builtin-loads.ts): no binding under
 * it is hooked (`trace_events` is not among `process.binding`'s), so an app that took the load
 * watch out would get an unjudged module. Cost: about 0.14 M instructions of cold start (README).
 */
function patchTraceEvents(): void {
  let traceEvents: { createTracing?: (options: { categories: string[] }) => object } | undefined;
  try {
    traceEvents = builtin('node:trace_events');
  } catch {
    return; // a Node built without tracing: nothing writes
  }
  if (typeof traceEvents?.createTracing !== 'function') return;
  // a Tracing with a category nothing emits, never enabled: the way to the prototypes
  const probe = traceEvents.createTracing({ categories: ['appdefender.probe'] });
  const tracingPrototype = getPrototypeOf(probe) as object;
  const symbols = getOwnPropertySymbols(probe);
  for (let i = 0; i < symbols.length; i++) {
    const value = (probe as Record<symbol, unknown>)[symbols[i] as symbol];
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { enable?: unknown }).enable === 'function'
    ) {
      patchMethod<AnyFunction>(getPrototypeOf(value), 'enable', (original) => traceEnableJudged(original));
      return;
    }
  }
  patchMethod<AnyFunction>(tracingPrototype, 'enable', (original) => traceEnableJudged(original));
}

// Node's own placeholders in --trace-event-file-pattern (src/tracing/node_trace_writer.cc)
// biome-ignore lint/suspicious/noTemplateCurlyInString: Node's placeholder, not a template
const ROTATION = '${rotation}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Node's placeholder, not a template
const PID = '${pid}';

function traceFilePattern(): string {
  const pattern = /--trace-event-file-pattern[= ](\S+)/;
  const execArgv = process.execArgv;
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i] as string;
    if (flag === '--trace-event-file-pattern' && i + 1 < execArgv.length) return execArgv[i + 1] as string;
    const match = pattern.exec(flag);
    if (match) return match[1] as string;
  }
  const fromEnv = pattern.exec(process.env.NODE_OPTIONS ?? '');
  return fromEnv ? (fromEnv[1] as string) : `node_trace.${ROTATION}.log`;
}

function traceEnableJudged(original: AnyFunction): AnyFunction {
  // read at install, before any app code: the app may edit process.execArgv and NODE_OPTIONS
  const pattern = replaceAll(replaceAll(traceFilePattern(), ROTATION, '1'), PID, `${process.pid}`);
  return function enable(this: unknown, ...args: unknown[]) {
    const denied = judgePath(pattern, 'write', 'trace_events.enable');
    if (denied) throw denied;
    if (!isAbsolute(pattern)) armCwdWriter(ARMED_TRACE);
    return apply(original, this, args);
  };
}

/** The file named in a chdir's judgement: one of the armed writers'. */
function armedFileName(kinds: number): string {
  if (kinds & ARMED_TRACE) return 'node_trace.1.log';
  if (kinds & ARMED_HEAP_SNAPSHOT) return 'heap.heapsnapshot';
  if (kinds & ARMED_DIAGNOSTIC) return 'diagnostic';
  return 'v8.log';
}

/**
 * Once a cwd-relative native writer is armed, changing directory moves where it writes: judged as
 * a write into the new directory, refused the way chdir fails (a synchronous throw). Nothing armed:
 * one load and a compare.
 */
function chdirJudged(original: AnyFunction): AnyFunction {
  return function chdir(this: unknown, ...args: unknown[]) {
    const kinds = armedKinds();
    const directory = args[0];
    if (kinds !== 0 && typeof directory === 'string') {
      const denied = judgePath(`${cString(directory)}/${armedFileName(kinds)}`, 'write', 'process.chdir');
      if (denied) throw denied;
    }
    return apply(original, this, args);
  };
}
