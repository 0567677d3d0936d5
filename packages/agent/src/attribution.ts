/**
 * Attribution: which npm package's code made a call, and the top application frames. Computed only
 * for events (observe/deny), never on the grant path, and never part of a verdict.
 *
 * The app must not be able to spoof it. We keep our own reference to `Error.captureStackTrace`,
 * and at load we take ownership of `Error.prepareStackTrace` with an accessor: the app still reads
 * back whatever it sets (libraries like source-map-support keep working), but while the agent
 * captures a stack, Node's formatter sees the agent's private one. `Error.stackTraceLimit` must stay
 * a data property (V8 reads it without calling accessors), so we set it around the capture.
 *
 * A frame's file name is whatever its code was compiled under: `vm.runInThisContext(code,
 * { filename })`, `vm.compileFunction`, `Module#_compile` and a `//# sourceURL=` comment in
 * `eval`/`new Function` let code name any file. Called from a timer, such code has no other frame on
 * the stack, and the event named the package it chose (test/redteam-round4.test.ts). So a frame
 * attributes a package only when its code is that file's content: V8's script hash (SHA-256 of the
 * script's source) must equal the file's SHA-256. Other frames stay in `stack`, marked. Checked on
 * the event path only, once per (file, hash). Code compiled from a transformed source (a runtime
 * transpiler's `_compile`) is marked the same way and attributes nothing.
 */

import { asAgentWork } from './agent-work.js';
import { loadForAgent, whenBuiltinLoaded } from './builtin-loads.js';
import { builtin } from './builtins.js';
import { sha256Hex } from './sha256.js';

const fs = builtin<typeof import('node:fs')>('node:fs');
const { sep } = builtin<typeof import('node:path')>('node:path');
const { fileURLToPath } = builtin<typeof import('node:url')>('node:url');

type PrepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => unknown;

const captureStackTrace = Error.captureStackTrace;
const readFileSync = fs.readFileSync;
const statSync = fs.statSync;
const MAX_APP_FRAMES = 5;
const CAPTURE_DEPTH = 40;

let capturing = false;
const privatePrepare: PrepareStackTrace = (_error, sites) => sites;

/** The bundle's own file, whose frames are never attributed. */
const agentFile: string = typeof __filename === 'string' ? __filename : '';
const getOwnDescriptor = Reflect.getOwnPropertyDescriptor;
/** `CallSite#getFileName`, captured at start (the app can reach CallSite.prototype and rewrite it). */
let callSiteFileName: ((site: NodeJS.CallSite) => unknown) | undefined;

/** The agent bundle's file name, as stack frames report it. */
export function agentFileName(): string {
  return agentFile;
}

/**
 * Installs the accessor described above. Called once at start; safe to call again.
 * When the app already made it unconfigurable (it ran before us), we capture without it.
 *
 * `provisional`: installed before the policy is known (hooks go in during the policy wait, and
 * telling the agent's own work from the app's reads stacks), still configurable so that
 * `withdrawStackCapture` can take it out when the policy grants everything; a later plain call
 * makes it final.
 */
export function protectStackCapture(provisional = false): void {
  // node:vm's functions as the module has them when it loads, before the app can replace them
  // (loading it now cost 1.7 M instructions of every cold start; it is needed only if the app
  // freezes Error.stackTraceLimit)
  stopWaitingForVm ??= whenBuiltinLoaded(['vm'], captureVmFunctions);
  const descriptor = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  if (descriptor && (!descriptor.configurable || descriptor.get)) {
    if (!provisional) settleProvisional?.(true);
    return;
  }
  let appValue: unknown = descriptor?.value;
  const accessor = {
    enumerable: descriptor?.enumerable ?? false,
    get: () => (capturing ? privatePrepare : appValue),
    set: (value: unknown) => {
      appValue = value;
    },
  };
  Object.defineProperty(Error, 'prepareStackTrace', { ...accessor, configurable: provisional });
  if (provisional) {
    settleProvisional = (keep) => {
      settleProvisional = undefined;
      if (keep) Object.defineProperty(Error, 'prepareStackTrace', { ...accessor, configurable: false });
      else if (descriptor)
        Object.defineProperty(Error, 'prepareStackTrace', { ...descriptor, value: appValue });
      else if (appValue === undefined) delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
      else Error.prepareStackTrace = appValue as PrepareStackTrace;
    };
  }
  // needs the private formatter above to hand out structured call sites
  captureCallSiteMethods();
}

let settleProvisional: ((keep: boolean) => void) | undefined;

/** Takes out a provisional accessor (see protectStackCapture) as if it had never been there. */
export function withdrawStackCapture(): void {
  settleProvisional?.(false);
  stopWaitingForVm?.();
}

function captureCallSiteMethods(): void {
  if (callSiteFileName) return;
  const site = captureSites(captureCallSiteMethods)[0];
  ownSite = site as NodeJS.CallSite | undefined;
  const proto = site
    ? (Object.getPrototypeOf(site) as { getFileName?: unknown; getFunctionName?: unknown; isEval?: unknown })
    : undefined;
  const getFileName = proto?.getFileName;
  const getFunctionName = proto?.getFunctionName;
  const isEval = proto?.isEval;
  const getScriptHash = (proto as { getScriptHash?: unknown } | undefined)?.getScriptHash;
  // V8 >= 10.x; without it code cannot be told from the file it names, and attribution trusts names
  if (typeof getScriptHash === 'function')
    callSiteScriptHash = (callSite) => Reflect.apply(getScriptHash as () => unknown, callSite, []);
  if (
    typeof getFileName !== 'function' ||
    typeof getFunctionName !== 'function' ||
    typeof isEval !== 'function'
  )
    return;
  callSiteFunctionName = (callSite) => Reflect.apply(getFunctionName as () => unknown, callSite, []);
  callSiteIsEval = (callSite) => Reflect.apply(isEval as () => unknown, callSite, []);
  callSiteFileName = (callSite) => Reflect.apply(getFileName as () => unknown, callSite, []);
}

/** A frame of the agent's own code (its caller at load), whose script hash is the bundle's. */
let ownSite: NodeJS.CallSite | undefined;
let ownScriptHash: unknown;

/**
 * The file a frame's code claims, for the agent's own checks: a frame naming the agent's file whose
 * code is not the agent's (V8's script hash differs from the bundle's) is nobody's. Code compiled
 * under the agent's file name (`vm` `filename`, `Module#_compile`, a loader's source) ran, from an
 * `Object.prototype` getter that Node's internals read during the agent's own work, with the
 * agent's exemption: its writes passed every hook (test/redteam-round7-roads.test.ts). The
 * bundle's hash is read once, when first needed (V8 hashes the source then).
 */
function checkedFileName(site: NodeJS.CallSite): unknown {
  const file = (callSiteFileName as (site: NodeJS.CallSite) => unknown)(site);
  if (file !== agentFile || !callSiteScriptHash) return file;
  if (ownScriptHash === undefined && ownSite) ownScriptHash = callSiteScriptHash(ownSite) ?? null;
  const hash = callSiteScriptHash(site);
  return typeof hash === 'string' && hash === ownScriptHash ? file : NOT_THE_AGENTS_CODE;
}
const NOT_THE_AGENTS_CODE = '(code named after the agent)';

let callSiteFunctionName: ((site: NodeJS.CallSite) => unknown) | undefined;
let callSiteIsEval: ((site: NodeJS.CallSite) => unknown) | undefined;
let callSiteScriptHash: ((site: NodeJS.CallSite) => unknown) | undefined;

/** A caller frame as the agent's own checks read it (methods captured at start). */
export interface CallerFrame {
  /** '' for builtins (Array.prototype.map...) and for eval'd code (see `evaluated`). */
  file: string;
  fn: string;
  /** Code from eval / new Function: always the app's. */
  evaluated: boolean;
}

/** Like callerFiles, with function names and whether the frame is eval'd code. */
export function callerFrames(skip: (...args: never[]) => unknown, limit: number): CallerFrame[] | null {
  const sites = captureCallers(skip, limit);
  if (sites === null || !callSiteFunctionName || !callSiteIsEval || !callSiteFileName) return null;
  const frames: CallerFrame[] = [];
  for (let i = 0; i < sites.length; i++) {
    const site = sites[i] as NodeJS.CallSite;
    const file = checkedFileName(site);
    const fn = callSiteFunctionName(site);
    frames[i] = {
      file: typeof file === 'string' ? file : '',
      fn: typeof fn === 'string' ? fn : '',
      evaluated: callSiteIsEval(site) === true,
    };
  }
  return frames;
}

/**
 * The files of the frames below `skip` (its callers, nearest first, at most `limit`), or null when
 * they cannot be read for certain: for checks that must fail closed. Unlike attribution, which may
 * degrade, this refuses a tampered `Error.stackTraceLimit` (an accessor, or a value it cannot set)
 * and reads file names with the CallSite method captured at start.
 */
export function callerFiles(skip: (...args: never[]) => unknown, limit: number): string[] | null {
  const sites = captureCallers(skip, limit);
  if (sites === null || !callSiteFileName) return null;
  const files: string[] = [];
  for (let i = 0; i < sites.length; i++) {
    const file = checkedFileName(sites[i] as NodeJS.CallSite);
    files[i] = typeof file === 'string' ? file : '';
  }
  return files;
}

function captureCallers(skip: (...args: never[]) => unknown, limit: number): unknown[] | null {
  if (!callSiteFileName) return null;
  const holder: { stack?: unknown } = {};
  const wasCapturing = capturing;
  const appLimit = getOwnDescriptor(Error, 'stackTraceLimit');
  capturing = true;
  try {
    captureInto(holder, skip, limit, appLimit);
    const sites = holder.stack;
    return Array.isArray(sites) ? sites : null;
  } catch {
    return null;
  } finally {
    capturing = wasCapturing;
    restoreLimit(appLimit);
  }
}

/**
 * Fills `holder.stack` with at most `limit` frames below `skip`. V8 reads this realm's
 * `Error.stackTraceLimit` as a data property only: an app that froze it (at 0), deleted it from a
 * non-extensible `Error` or made it an accessor leaves V8 nothing to capture, and assigning to an
 * accessor would run the app's setter inside the agent's work. Then the capture goes through the
 * `Error` of a private vm context, whose limit is the agent's (its frames are this realm's, and the
 * main realm's `prepareStackTrace`, the agent's accessor, formats them).
 */
function captureInto(
  holder: { stack?: unknown },
  skip: (...args: never[]) => unknown,
  limit: number,
  appLimit: PropertyDescriptor | undefined,
): void {
  if (appLimit && 'value' in appLimit && appLimit.writable) {
    Error.stackTraceLimit = limit;
    captureStackTrace(holder, skip as () => void);
    return;
  }
  const realm = privateRealm();
  if (!realm) return;
  realm.error.stackTraceLimit = limit;
  Reflect.apply(realm.captureStackTrace, realm.error, [holder, skip]);
}

function restoreLimit(appLimit: PropertyDescriptor | undefined): void {
  try {
    if (appLimit && 'value' in appLimit && appLimit.writable)
      Error.stackTraceLimit = appLimit.value as number;
  } catch {
    // made read-only meanwhile: nothing of ours to undo
  }
}

interface PrivateRealm {
  error: { stackTraceLimit: number };
  captureStackTrace: (target: object, skip?: unknown) => void;
}
/** `node:vm`'s functions, captured when it loads (the app may replace the module's properties). */
let stopWaitingForVm: (() => void) | undefined;
let vmCreateContext: ((sandbox: object) => object) | undefined;
let vmRunInContext: ((code: string, context: object) => unknown) | undefined;
let realmMade: PrivateRealm | null | undefined;

function captureVmFunctions(): void {
  if (vmCreateContext) return;
  const vm = builtin<typeof import('node:vm')>('node:vm');
  const { createContext, runInContext } = vm;
  vmCreateContext = (sandbox) => Reflect.apply(createContext, vm, [sandbox]) as object;
  vmRunInContext = (code, context) => Reflect.apply(runInContext, vm, [code, context]);
}

/** Made the first time it is needed (only when the app tampered with the limit): ~1 ms once. */
function privateRealm(): PrivateRealm | null {
  if (realmMade !== undefined) return realmMade;
  realmMade = null;
  // loading node:vm captures its functions (see protectStackCapture); if the app loaded it while
  // nothing watched, they are not to be trusted and attribution goes without a private realm
  if (!vmCreateContext) loadForAgent('vm');
  if (!vmCreateContext || !vmRunInContext) return null;
  // a prototype-free sandbox: the context's global looks names up on it first, and an
  // `Object.prototype.Error` of the app's would otherwise answer
  const error = vmRunInContext('Error', vmCreateContext(Object.create(null))) as PrivateRealm['error'] & {
    captureStackTrace?: unknown;
  };
  if (typeof error?.captureStackTrace !== 'function') return null;
  realmMade = { error, captureStackTrace: error.captureStackTrace as PrivateRealm['captureStackTrace'] };
  return realmMade;
}

export interface Attribution {
  module?: { name: string; version?: string };
  stack: string[];
}

/**
 * Attributes the current call. `skip` is the hooked function: frames above it (the agent) are cut.
 */
export function attributeCall(skip?: (...args: never[]) => unknown): Attribution {
  const sites = captureSites(skip ?? attributeCall);
  const frames = sites.filter((site) => isApplicationFrame(fileOf(site)));
  const stack = frames
    .slice(0, MAX_APP_FRAMES)
    .map((site) => (isFilesCode(site) ? formatFrame(site) : `${formatFrame(site)} ${NOT_THE_FILES_CODE}`));
  const first = frames.find(isFilesCode);
  const packageInfo = first ? packageOf(fileOf(first)) : undefined;
  return packageInfo ? { module: packageInfo, stack } : { stack };
}

/** Marks a `stack` frame whose code is not the content of the file it names. */
export const NOT_THE_FILES_CODE = '(code not from this file)';
const MAX_CHECKED_SCRIPTS = 1000;
const MAX_SCRIPT_BYTES = 64 * 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const checkedScripts = new Map<string, boolean>();

/** Is the frame's code the content of the file it names? (see the header) */
function isFilesCode(site: NodeJS.CallSite): boolean {
  if (!callSiteScriptHash) return true;
  const hash = callSiteScriptHash(site);
  if (typeof hash !== 'string') return true;
  const file = fileOf(site);
  const key = `${hash}\u0000${file}`;
  const known = checkedScripts.get(key);
  if (known !== undefined) return known;
  let same = false;
  try {
    // a name can be any path: only a regular file of a script's size is read (not /dev/zero, a FIFO)
    const stats = asAgentWork(() => statSync(file));
    if ((stats.mode & S_IFMT) === S_IFREG && stats.size <= MAX_SCRIPT_BYTES)
      same = sha256Hex(asAgentWork(() => readFileSync(file))) === hash;
  } catch {
    // no such file (eval'd code naming one), unreadable: not that file's code
  }
  if (checkedScripts.size >= MAX_CHECKED_SCRIPTS) checkedScripts.clear();
  checkedScripts.set(key, same);
  return same;
}

function captureSites(skip: (...args: never[]) => unknown): NodeJS.CallSite[] {
  const holder: { stack?: unknown } = {};
  const wasCapturing = capturing;
  const appLimit = getOwnDescriptor(Error, 'stackTraceLimit');
  capturing = true;
  try {
    captureInto(holder, skip, CAPTURE_DEPTH, appLimit);
    const sites = holder.stack;
    return Array.isArray(sites) ? sites.filter(isCallSite) : [];
  } catch {
    return [];
  } finally {
    capturing = wasCapturing;
    restoreLimit(appLimit);
  }
}

function isCallSite(value: unknown): value is NodeJS.CallSite {
  return typeof (value as NodeJS.CallSite | null)?.getFileName === 'function';
}

function fileOf(site: NodeJS.CallSite): string {
  let file = site.getFileName() ?? site.getScriptNameOrSourceURL?.() ?? '';
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      // keep the URL as it is
    }
  }
  return file;
}

function isApplicationFrame(file: string): boolean {
  if (!file || file === agentFile) return false;
  if (file.startsWith('node:') || !file.includes(sep)) return false; // Node's own modules
  return true;
}

function formatFrame(site: NodeJS.CallSite): string {
  const fn = site.getFunctionName() ?? site.getMethodName() ?? '<anonymous>';
  return `${fileOf(site)}:${site.getLineNumber() ?? 0}:${site.getColumnNumber() ?? 0} ${fn}`;
}

const versionCache = new Map<string, string | undefined>();

/** The npm package a file belongs to: the segment after the last `node_modules` (two for a scope). */
export function packageOf(file: string): { name: string; version?: string } | undefined {
  const parts = file.split(sep);
  const index = parts.lastIndexOf('node_modules');
  if (index < 0) return undefined;
  const first = parts[index + 1];
  if (!first) return undefined;
  const scoped = first.startsWith('@');
  const second = parts[index + 2];
  if (scoped && !second) return undefined;
  const name = scoped ? `${first}/${second}` : first;
  const packageDir = parts.slice(0, index + (scoped ? 3 : 2)).join(sep);
  const version = versionOf(packageDir);
  return version ? { name, version } : { name };
}

function versionOf(packageDir: string): string | undefined {
  if (versionCache.has(packageDir)) return versionCache.get(packageDir);
  let version: string | undefined;
  try {
    const manifest = asAgentWork(() => readFileSync(`${packageDir}${sep}package.json`, 'utf8'));
    const parsed = JSON.parse(manifest) as { version?: unknown };
    if (typeof parsed.version === 'string') version = parsed.version;
  } catch {
    // no readable manifest: the package name alone still attributes the call
  }
  versionCache.set(packageDir, version);
  return version;
}
