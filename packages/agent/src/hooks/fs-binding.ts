/**
 * The filesystem safety net: every path- or descriptor-taking method of Node's `fs` binding, patched
 * in place. `fs`, `fs/promises`, `FileHandle`, streams, `cp`, `rm`, `fs-extra`... and raw
 * `process.binding('fs')` all end in these methods, and Node looks them up on the binding object at
 * call time (lib/fs.js `binding.open(...)`, lib/internal/fs/promises.js `binding.openFileHandle(...)`),
 * so one patch covers every road.
 *
 * A denied call fails the way the binding reports failure to its caller, which is how the public API
 * fails: a synchronous call throws; a callback call (an `FSReqCallback` argument) gets the error in
 * its `oncomplete` on the next tick; a promise call (`kUsePromises`) returns a rejected promise;
 * `existsSync` answers false. Watchers (`fs.watch`, `fs.watchFile`) throw, as they do on any error.
 *
 * Reads by Node's module loader are never judged (see support/fs-loader.ts), nor the Lambda runtime's
 * probes while it resolves the handler (support/runtime-own-work.ts).
 */
import type { Operation } from '@appdefender/policy';
import { isAgentWork } from '../agent-work.js';
import { getBinding, patchMethod } from '../bindings.js';
import { getContext } from '../context.js';
import { enforce } from '../enforce.js';
import {
  stringCharCodeAt,
  stringIndexOf,
  stringLastIndexOf,
  stringSlice,
  stringStartsWith,
} from '../intrinsics.js';
import { logLine } from '../log.js';
import type { HookDescriptor } from './registry.js';
import { installLoaderExemption, isEsmLoaderCall, isLoaderActive } from './support/fs-loader.js';
import {
  absolutePathOf,
  type FdEntry,
  fdEntry,
  forgetFd,
  governedCandidate,
  governedRealPath,
  initFsPaths,
  invalidateResolutions,
  isCertainlyUngoverned,
  isWriteFlags,
  loaderMayRead,
  pathText,
  rememberFd,
  resolveGoverned,
  resolvePath,
  workingDirectory,
} from './support/fs-paths.js';
import {
  endHandlerResolution,
  initRuntimeOwnWork,
  isHandlerResolutionRead,
  isResolvingHandler,
} from './support/runtime-own-work.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Access = 'read' | 'write';

/** One path argument of a binding method: its index, how it is accessed, whether a final link is followed. */
interface PathArg {
  index: number;
  /** `flags` = decided by the open flags in argument `flagsIndex`. */
  access: Access | 'flags';
  follow: boolean;
}

interface MethodSpec {
  paths?: PathArg[];
  /** mkdtemp, mkdir (recursive): the result is a path built from the path argument. */
  returnsPath?: boolean;
  flagsIndex?: number;
  /** Index of a descriptor whose metadata the call changes (fchmod, fchown, futimes, ftruncate). */
  fdWrite?: number;
  /** Index of a descriptor the call closes. */
  closes?: number;
  /** What the call returns that names an opened file. */
  opens?: 'fd' | 'filehandle';
  /** symlink(target, path): the target, resolved from the link's directory, is judged as a write too. */
  symlinkTarget?: boolean;
  /** existsSync: a denied call answers false rather than throwing. */
  answersFalse?: boolean;
}

const read = (index: number, follow = true): PathArg => ({ index, access: 'read', follow });
const write = (index: number, follow = true): PathArg => ({ index, access: 'write', follow });
const byFlags = (index: number): PathArg => ({ index, access: 'flags', follow: true });

/** Node 20, 22 and 24 method names; a method this Node lacks is skipped. */
const METHODS: Record<string, MethodSpec> = {
  access: { paths: [read(0)] },
  existsSync: { paths: [read(0)], answersFalse: true },
  open: { paths: [byFlags(0)], flagsIndex: 1, opens: 'fd' },
  openFileHandle: { paths: [byFlags(0)], flagsIndex: 1, opens: 'filehandle' },
  readFileUtf8: { paths: [byFlags(0)], flagsIndex: 1 },
  writeFileUtf8: { paths: [write(0)] },
  close: { closes: 0 },
  rename: { paths: [write(0, false), write(1, false)] },
  ftruncate: { fdWrite: 0 },
  rmdir: { paths: [write(0, false)] },
  mkdir: { paths: [write(0, false)], returnsPath: true },
  mkdtemp: { paths: [write(0, false)], returnsPath: true },
  readdir: { paths: [read(0)] },
  stat: { paths: [read(0)] },
  lstat: { paths: [read(0, false)] },
  statfs: { paths: [read(0)] },
  link: { paths: [write(0, false), write(1, false)] },
  symlink: { paths: [write(1, false)], symlinkTarget: true },
  readlink: { paths: [read(0, false)] },
  unlink: { paths: [write(0, false)] },
  realpath: { paths: [read(0)] },
  copyFile: { paths: [read(0), write(1)] },
  chmod: { paths: [write(0)] },
  fchmod: { fdWrite: 0 },
  lchmod: { paths: [write(0, false)] },
  chown: { paths: [write(0)] },
  fchown: { fdWrite: 0 },
  lchown: { paths: [write(0, false)] },
  utimes: { paths: [write(0)] },
  futimes: { fdWrite: 0 },
  lutimes: { paths: [write(0, false)] },
  // Node 22+: native cp and rm
  cpSyncCheckPaths: { paths: [read(0), write(1)] },
  cpSyncCopyDir: { paths: [read(0), write(1)] },
  cpSyncOverrideFile: { paths: [read(0), write(1)] },
  rmSync: { paths: [write(0, false)] },
  // newer Node
  readdirRecursive: { paths: [read(0)] },
};

/**
 * Binding members that need no judgement: descriptor I/O (the descriptor was judged when opened),
 * classes handled below, and the loader-only readers (see LOADER_ONLY_METHODS). Any other function
 * is a method this agent does not know yet, and it says so at start.
 */
const NOT_JUDGED = new Set([
  'read',
  'readBuffers',
  'fdatasync',
  'fsync',
  'fstat',
  'writeBuffer',
  'writeBuffers',
  'writeString',
  'FSReqCallback',
  'FileHandle',
  'StatWatcher',
  'internalModuleReadJSON',
  'internalModuleStat',
  'legacyMainResolve',
  'getFormatOfExtensionlessFile',
]);

/** Loader-only readers: Node's loader holds its own references (destructured at bootstrap), the app
 * can only reach them through `process.binding('fs')`, which hands out a judged copy of them. */
export const LOADER_ONLY_METHODS: Record<string, MethodSpec> = {
  internalModuleReadJSON: { paths: [read(0)] },
  internalModuleStat: { paths: [read(0)] },
  legacyMainResolve: { paths: [read(0)] },
  getFormatOfExtensionlessFile: { paths: [read(0)] },
};

const ReflectApply = Reflect.apply;
const mathMax = Math.max;
/**
 * Calls that read a file's content. The module loader's other reads (stat, lstat, realpath while
 * resolving, also of /tmp itself when an application lives under it) are never judged; its content
 * reads are judged when the file is not code (see loaderMayRead).
 */
const CONTENT_READS = new Set(['fs.open', 'fs.openFileHandle', 'fs.readFileUtf8']);

const PrivateBytes = Uint8Array;
const uncurryThis = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call) as <R>(
  fn: (...args: never[]) => R,
) => (self: unknown, ...args: unknown[]) => R;
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayGetter = (name: string) =>
  uncurryThis(Object.getOwnPropertyDescriptor(TypedArrayPrototype, name)!.get as () => unknown);
const viewBuffer = typedArrayGetter('buffer') as (view: unknown) => ArrayBufferLike;
const viewByteOffset = typedArrayGetter('byteOffset') as (view: unknown) => number;
const viewByteLength = typedArrayGetter('byteLength') as (view: unknown) => number;
const dataViewGetter = (name: string) =>
  uncurryThis(Object.getOwnPropertyDescriptor(DataView.prototype, name)!.get as () => unknown);
const dataViewBuffer = dataViewGetter('buffer') as (view: unknown) => ArrayBufferLike;
const dataViewByteOffset = dataViewGetter('byteOffset') as (view: unknown) => number;
const dataViewByteLength = dataViewGetter('byteLength') as (view: unknown) => number;
const typedArraySet = uncurryThis((TypedArrayPrototype as { set: (...args: never[]) => void }).set) as (
  target: Uint8Array,
  source: Uint8Array,
  offset?: number,
) => void;
const isView = ArrayBuffer.isView;
const utf8Encoder = new TextEncoder();
const encodeUtf8 = uncurryThis(TextEncoder.prototype.encode) as (encoder: object, text: string) => Uint8Array;

/**
 * A byte path (Buffer / Uint8Array) copied into memory only the agent holds. The app's Buffer may
 * live in a SharedArrayBuffer that a worker rewrites between our judgement and the system call
 * (judged `/dev/shm/...`, opened `/tmp/...`); the copy is what is judged AND what the call gets
 * (test/redteam-fs.test.ts). Other values are returned as they are.
 */
export function privateBytes(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  let bytes: Uint8Array;
  try {
    // the captured %TypedArray% getters are the brand check (`instanceof` asks a replaceable hook);
    // the raw bytes are copied, as the binding reads them, whatever the element type
    bytes = new PrivateBytes(viewBuffer(value), viewByteOffset(value), viewByteLength(value));
  } catch {
    // a DataView is a path to the binding too (any ArrayBufferView)
    try {
      bytes = new PrivateBytes(dataViewBuffer(value), dataViewByteOffset(value), dataViewByteLength(value));
    } catch {
      return value;
    }
  }
  const copy = new PrivateBytes(viewByteLength(bytes));
  typedArraySet(copy, bytes);
  return copy;
}
const PromiseReject = Promise.reject.bind(Promise);
const PromiseThen = Promise.prototype.then;
const nextTick = process.nextTick;

let kUsePromises: unknown;
let FSReqCallback: (new () => object) | undefined;

export const hook: HookDescriptor = {
  name: 'fs-binding',
  category: 'filesystem',
  install(context) {
    const binding = getBinding('fs');
    if (!binding) throw new Error("this Node does not expose the fs binding through process.binding('fs')");
    initFsPaths({ appDirs: context.appDirs, binding });
    initRuntimeOwnWork({ env: process.env, appDirs: context.appDirs });
    installLoaderExemption();
    kUsePromises = binding.kUsePromises;
    FSReqCallback =
      typeof binding.FSReqCallback === 'function' ? (binding.FSReqCallback as new () => object) : undefined;
    for (const [name, spec] of Object.entries(METHODS)) {
      patchMethod<AnyFunction>(binding, name, (original) => judgedMethod(`fs.${name}`, spec, original));
    }
    const fileHandleProto = (binding.FileHandle as { prototype?: object } | undefined)?.prototype;
    for (const name of ['close', 'closeSync']) {
      patchMethod<AnyFunction>(
        fileHandleProto,
        name,
        (original) =>
          function close(this: unknown, ...args: unknown[]) {
            forgetFd((this as { fd?: unknown } | null)?.fd);
            return ReflectApply(original, this, args);
          },
      );
    }
    const unknown = Object.keys(binding).filter(
      (name) => typeof binding[name] === 'function' && !(name in METHODS) && !NOT_JUDGED.has(name),
    );
    if (unknown.length > 0) {
      logLine(`fs binding methods this agent version does not govern: ${unknown.join(', ')}`);
    }
    const statWatcherProto = (binding.StatWatcher as { prototype?: object } | undefined)?.prototype;
    patchMethod<AnyFunction>(statWatcherProto, 'start', (original) =>
      judgedMethod('fs.watchFile', { paths: [read(0)] }, original),
    );
    const fsEvent = getBinding('fs_event_wrap')?.FSEvent as { prototype?: object } | undefined;
    patchMethod<AnyFunction>(fsEvent?.prototype, 'start', (original) =>
      judgedMethod('fs.watch', { paths: [read(0)] }, original),
    );
  },
};

/**
 * Wraps one binding method. Exported for the loader-escape hook, which judges the loader-only
 * readers on the copy of the binding it hands the app.
 */
export function judgedMethod(call: string, spec: MethodSpec, original: AnyFunction): AnyFunction {
  const paths = spec.paths ?? [];
  // the fast path applies to calls whose only concern is one path argument
  const single =
    paths.length === 1 && !spec.symlinkTarget && spec.fdWrite === undefined && spec.closes === undefined;
  const singleIndex = paths[0]?.index ?? 0;
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    if (single && isCertainlyUngoverned(args[singleIndex])) return ReflectApply(original, this, args);
    if (isAgentWork()) return ReflectApply(original, this, args);
    // Node's CommonJS loader reads code unjudged, but only code: see loaderMayRead
    const loading = isLoaderActive();
    let opened: FdEntry | null = null;
    if (spec.symlinkTarget) {
      invalidateResolutions();
      args[0] = privateBytes(args[0]);
    }
    // an index loop: a `for...of` asks the array iterator, which the app may have replaced to skip
    // the path arguments altogether (test/redteam-intrinsics.test.ts)
    let rewrites: Rewrite[] | null = null;
    for (let pathIndex = 0; pathIndex < paths.length; pathIndex++) {
      // judged and used: the same private bytes (see privateBytes); strings are immutable
      const rawPath = args[(paths[pathIndex] as PathArg).index];
      if (typeof rawPath === 'object' && rawPath !== null)
        args[(paths[pathIndex] as PathArg).index] = privateBytes(rawPath);
      const pathArg = paths[pathIndex] as PathArg;
      // judged and used: the same absolute path (see absolutePathArg)
      const rewrite = absolutePathArg(args[pathArg.index]);
      if (rewrite !== null) {
        args[pathArg.index] = rewrite.value;
        rewrites ??= [];
        rewrites[rewrites.length] = rewrite;
      }
      const access =
        pathArg.access === 'flags'
          ? isWriteFlags(args[spec.flagsIndex ?? 1])
            ? 'write'
            : 'read'
          : pathArg.access;
      // any write may change what paths resolve to (Node 22's native cp creates links without symlink())
      if (access === 'write') invalidateResolutions();
      const real = governedRealPath(args[pathArg.index], pathArg.follow);
      if (real === null) continue;
      if (isResolvingHandler()) {
        if (access === 'write') endHandlerResolution();
        else if (isHandlerResolutionRead(real, CONTENT_READS.has(call))) continue;
      }
      if (loading && access === 'read' && (!CONTENT_READS.has(call) || loaderMayRead(real))) continue;
      const denied = judge(access, real, call, wrapper);
      if (denied) return failCall(args, denied, spec);
      if (spec.opens) opened = { path: real, write: access === 'write' };
    }
    if (spec.symlinkTarget) {
      const denied = judgeSymlinkTarget(args[0], args[1], call, wrapper);
      if (denied) return failCall(args, denied, spec);
    }
    if (spec.fdWrite !== undefined) {
      const entry = fdEntry(args[spec.fdWrite]);
      if (entry && !entry.write) {
        const denied = judge('write', entry.path, call, wrapper);
        if (denied) return failCall(args, denied, spec);
      }
    }
    if (spec.closes !== undefined) forgetFd(args[spec.closes]);
    if (rewrites !== null) return callRestoring(original, this, args, opened, spec, rewrites);
    if (opened) return callAndRemember(original, this, args, opened, spec);
    return ReflectApply(original, this, args);
  };
  return wrapper;
}

/** A relative path argument the binding was handed as the absolute path that was judged. */
interface Rewrite {
  value: unknown;
  /** The absolute path as text, as Node's errors spell it. */
  absText: string;
  /** The argument as the app wrote it. */
  relText: string;
  /** The working directory with a trailing slash: what was put in front. */
  prefix: string;
}

/**
 * The kernel resolves a relative path against the working directory when the system call runs. For a
 * callback or promise call that is later, on libuv's threadpool, and a worker's call runs while the
 * main thread goes on: `chdir(outside); fs.open('x', 'w', cb); chdir(governedDir)` judged
 * `<outside>/x` and created `<governedDir>/x` (test/redteam-round2.test.ts). So the binding gets the
 * absolute path that was judged: the working directory the judgement read, then the argument as
 * written (not normalised: `..` after a link is the kernel's business, as before). Results that are
 * paths (mkdtemp, mkdir) and errors are given back in the app's spelling. Null for absolute paths, or
 * when the working directory cannot be read (the kernel then fails the call itself).
 */
function absolutePathArg(input: unknown): Rewrite | null {
  let relText: string;
  let value: unknown;
  if (typeof input === 'string') {
    if (input.length === 0 || stringCharCodeAt(input, 0) === 0x2f) return null;
    relText = input;
  } else if (isView(input)) {
    // a byte path is the agent's private Uint8Array copy by now (privateBytes)
    if (viewByteLength(input) === 0 || (input as Uint8Array)[0] === 0x2f) return null;
    relText = pathText(input) ?? '';
  } else {
    return null;
  }
  const cwd = workingDirectory();
  if (cwd === null) return null;
  const prefix = cwd === '/' ? '/' : `${cwd}/`;
  if (typeof input === 'string') {
    value = `${prefix}${input}`;
  } else {
    const head = encodeUtf8(utf8Encoder, prefix);
    const bytes = new PrivateBytes(viewByteLength(head) + viewByteLength(input));
    typedArraySet(bytes, head);
    typedArraySet(bytes, input as Uint8Array, viewByteLength(head));
    value = bytes;
  }
  return { value, absText: `${prefix}${relText}`, relText, prefix };
}

/** Calls the binding with absolute paths and gives results and errors back in the app's spelling. */
function callRestoring(
  original: AnyFunction,
  self: unknown,
  args: unknown[],
  opened: FdEntry | null,
  spec: MethodSpec,
  rewrites: Rewrite[],
): unknown {
  const req = requestOf(args);
  if (req && typeof req.oncomplete === 'function') {
    const oncomplete = req.oncomplete as AnyFunction;
    req.oncomplete = function (this: unknown, ...results: unknown[]) {
      restoreError(results[0], rewrites);
      if (spec.returnsPath && results.length > 1) results[1] = restorePath(results[1], rewrites);
      return ReflectApply(oncomplete, this, results);
    };
  }
  let result: unknown;
  try {
    result = opened
      ? callAndRemember(original, self, args, opened, spec)
      : ReflectApply(original, self, args);
  } catch (error) {
    throw restoreError(error, rewrites);
  }
  if (usesPromises(args)) {
    return ReflectApply(PromiseThen, result, [
      (value: unknown) => (spec.returnsPath ? restorePath(value, rewrites) : value),
      (error: unknown) => {
        throw restoreError(error, rewrites);
      },
    ]);
  }
  return spec.returnsPath ? restorePath(result, rewrites) : result;
}

function restorePath(value: unknown, rewrites: Rewrite[]): unknown {
  if (typeof value !== 'string') return value;
  for (let i = 0; i < rewrites.length; i++) {
    const prefix = (rewrites[i] as Rewrite).prefix;
    if (stringStartsWith(value, prefix)) return stringSlice(value, prefix.length);
  }
  return value;
}

function restoreError(error: unknown, rewrites: Rewrite[]): unknown {
  if (error === null || typeof error !== 'object') return error;
  const fields = error as { message?: unknown; path?: unknown; dest?: unknown };
  for (let i = 0; i < rewrites.length; i++) {
    const { absText, relText } = rewrites[i] as Rewrite;
    if (fields.path === absText) fields.path = relText;
    if (fields.dest === absText) fields.dest = relText;
    const message = fields.message;
    if (typeof message === 'string') {
      const quoted = `'${absText}'`;
      const at = stringIndexOf(message, quoted);
      if (at !== -1)
        fields.message = `${stringSlice(message, 0, at)}'${relText}'${stringSlice(message, at + quoted.length)}`;
    }
  }
  return error;
}

/** Real paths the policy granted, per access: the policy never changes while the process runs. */
const grantedPaths: Record<Access, Set<string>> = { read: new Set(), write: new Set() };
const MAX_GRANTED = 4096;

function judge(access: Access, path: string, call: string, hookFn: AnyFunction): Error | null {
  const granted = grantedPaths[access];
  if (granted.has(path)) return null;
  const op: Operation = { category: 'filesystem', operation: access, path };
  let verdict: string | undefined;
  try {
    verdict = getContext()?.decider.decide(op).verdict;
  } catch {
    return enforce(op, { call }); // enforce applies the fail mode and says why
  }
  if (verdict === undefined) return null;
  if (verdict === 'grant') {
    if (granted.size >= MAX_GRANTED) granted.clear();
    granted.add(path);
    return null;
  }
  // Module loading reads are never judged; the stack is only looked at when a verdict would cost.
  if (access === 'read' && (!CONTENT_READS.has(call) || loaderMayRead(path)) && isEsmLoaderCall(hookFn))
    return null;
  return enforce(op, { call });
}

/** A new symlink must not point at a place the app may not write: judge its resolved target. */
function judgeSymlinkTarget(
  target: unknown,
  linkPath: unknown,
  call: string,
  hookFn: AnyFunction,
): Error | null {
  // wherever the link is made (a Buffer or relative path outside the governed directories too: a
  // link there is never resolved later, so its target is judged now or never)
  const link = absolutePathOf(linkPath);
  if (link === null) return null;
  const linkDir = resolvePath(stringSlice(link, 0, mathMax(1, stringLastIndexOf(link, '/'))), true);
  // as the system call will read it (bytes of any view, cut at a NUL); not `instanceof`, which the
  // app can answer through Uint8Array[Symbol.hasInstance]; captured string methods only
  const targetText = pathText(target);
  if (targetText === null) return null;
  const candidate = governedCandidate(
    stringCharCodeAt(targetText, 0) === 0x2f ? targetText : `${linkDir}/${targetText}`,
  );
  if (candidate === null) return null;
  const real = resolveGoverned(candidate, true);
  return real === null ? null : judge('write', real, call, hookFn);
}

function callAndRemember(
  original: AnyFunction,
  self: unknown,
  args: unknown[],
  entry: FdEntry,
  spec: MethodSpec,
): unknown {
  const req = requestOf(args);
  if (req && typeof req.oncomplete === 'function') {
    const oncomplete = req.oncomplete as AnyFunction;
    req.oncomplete = function (this: unknown, ...results: unknown[]) {
      if (!results[0]) rememberFd(results[1], entry);
      return ReflectApply(oncomplete, this, results);
    };
  }
  const result = ReflectApply(original, self, args);
  if (spec.opens === 'fd' && typeof result === 'number') rememberFd(result, entry);
  if (spec.opens === 'filehandle' && result && typeof (result as Promise<unknown>).then === 'function') {
    return ReflectApply(PromiseThen, result, [
      (handle: { fd?: unknown }) => {
        rememberFd(handle?.fd, entry);
        return handle;
      },
    ]);
  }
  return result;
}

function requestOf(args: unknown[]): { oncomplete?: unknown } | undefined {
  if (!FSReqCallback) return undefined;
  for (let i = args.length - 1; i >= 0; i--) {
    const arg = args[i];
    if (arg instanceof FSReqCallback) return arg as { oncomplete?: unknown };
  }
  return undefined;
}

/** Is this a promise call (`kUsePromises` among the arguments)? */
function usesPromises(args: unknown[]): boolean {
  for (let i = args.length - 1; i >= 0; i--) {
    if (args[i] === kUsePromises && kUsePromises !== undefined) return true;
  }
  return false;
}

/** Fails the call the way this binding call reports failure (see the module comment). */
function failCall(args: unknown[], error: Error, spec: MethodSpec): unknown {
  if (spec.answersFalse) return false;
  if (usesPromises(args)) return PromiseReject(error);
  const req = requestOf(args);
  if (req && typeof req.oncomplete === 'function') {
    const oncomplete = req.oncomplete as AnyFunction;
    nextTick(() => ReflectApply(oncomplete, req, [error]));
    return undefined;
  }
  throw error;
}
