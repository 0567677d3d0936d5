/**
 * Patches for builtin modules that Lambda's runtime never loads itself (`child_process`, `dns`,
 * `dgram`). Loading them at start only to patch them cost ~18 M instructions, about 2.6 ms, of
 * every cold start (bench/agent-overhead.mjs). A patch registered here runs the moment Node has
 * evaluated its module, whoever loads it (a CommonJS `require`, an ES module `import`,
 * `process.getBuiltinModule`, or another builtin), and before Node builds the module's ESM
 * namespace, so `import { exec } from 'node:child_process'` already sees the hooked function.
 *
 * How: right after evaluating a builtin, Node appends `NativeModule <id>` to the array that
 * `process.moduleLoadList` exposes (lib/internal/bootstrap/realm.js, compileForInternalLoader, Node
 * 20 and 22). `push` stores a new element through the prototype chain's setter, so the list gets a
 * prototype that is a Proxy over its own: its `set` stores the element exactly as `push` would, then
 * runs the patches waiting for that module. The list's contents never change; the prototype goes
 * back as soon as nothing is waiting.
 *
 * Only what has a safety net belongs here: the bindings under these modules (process_wrap,
 * spawn_sync, cares_wrap, udp_wrap) are hooked at start, and `node:vm`'s functions (attribution.ts)
 * only serve event details. An app that resets the list's prototype before loading one of them
 * loses the public API hooks' error shapes and some event details, never a verdict
 * (test/lazy-builtins.test.ts).
 */
import { asAgentWork } from './agent-work.js';
import { callerFiles } from './attribution.js';
import { currentPatchRecords, type PatchRecord, recordPatches, recordUndo } from './bindings.js';
import { builtin } from './builtins.js';
import { apply, isArray, stringSlice, stringStartsWith } from './intrinsics.js';
import { describeError, logLine } from './log.js';

interface Waiting {
  ids: readonly string[];
  patch: () => void;
  /** the install's records (registry.ts), so a patch made later is undone with the rest */
  records: PatchRecord[] | undefined;
}

const PREFIX = 'NativeModule ';
const getPrototypeOf = Object.getPrototypeOf;
const setPrototypeOf = Object.setPrototypeOf;
const reflectSet = Reflect.set;
const reflectDefineProperty = Reflect.defineProperty;
const ProxyConstructor = Proxy;

const waiting: Waiting[] = [];
let trapped: { list: unknown[]; prototype: object; proxy: object } | undefined;

/**
 * Runs `patch` once, as soon as any of the builtins `ids` (`'dns'`, `'dns/promises'`) has been
 * loaded: now, if one already is. Without a load list to watch (a future Node), it loads the first
 * one now and patches it, as the agent did before.
 * @returns a function that stops waiting (no-op once the patch ran)
 */
export function whenBuiltinLoaded(ids: readonly string[], patch: () => void): () => void {
  const entry: Waiting = { ids, patch, records: currentPatchRecords() };
  const list = loadList();
  if (!list || anyLoaded(list, ids)) {
    if (!list) builtin(`node:${ids[0]}`);
    patch();
    return () => {};
  }
  waiting[waiting.length] = entry;
  const stop = () => stopWaiting(entry);
  recordUndo(stop);
  watch(list);
  return stop;
}

/** Has Node loaded the builtin `id` (`'worker_threads'`) in this thread? */
export function isBuiltinLoaded(id: string): boolean {
  const list = loadList();
  return list !== undefined && anyLoaded(list, [id]);
}

function loadList(): unknown[] | undefined {
  const list = (process as unknown as { moduleLoadList?: unknown }).moduleLoadList;
  return isArray(list) ? list : undefined;
}

function anyLoaded(list: unknown[], ids: readonly string[]): boolean {
  for (let i = 0; i < list.length; i++) {
    for (let j = 0; j < ids.length; j++) if (list[i] === PREFIX + ids[j]) return true;
  }
  return false;
}

function watch(list: unknown[]): void {
  if (trapped) return;
  const prototype = getPrototypeOf(list) as object;
  function onSet(target: object, key: PropertyKey, value: unknown, receiver: unknown): boolean {
    if (receiver !== list) return reflectSet(target, key, value, receiver);
    const stored = reflectDefineProperty(list, key, {
      __proto__: null,
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    } as PropertyDescriptor);
    // patched even when the element could not be stored (an app that made the list
    // non-extensible): Node's push then throws, but the module counts as loaded all the same
    if (typeof value === 'string' && stringStartsWith(value, PREFIX)) {
      loaded(stringSlice(value, PREFIX.length), onSet);
    }
    return stored;
  }
  // null prototypes: a trap or descriptor field inherited from an Object.prototype the app
  // polluted must not be consulted
  const handler = { __proto__: null, set: onSet } as unknown as ProxyHandler<object>;
  const proxy = new ProxyConstructor(prototype, handler);
  setPrototypeOf(list, proxy);
  trapped = { list, prototype, proxy };
}

function loaded(id: string, trap: (...args: never[]) => unknown): void {
  let patched = false;
  let genuine: boolean | undefined;
  for (let i = 0; i < waiting.length; i++) {
    const entry = waiting[i] as Waiting;
    let match = false;
    for (let j = 0; j < entry.ids.length; j++) if (entry.ids[j] === id) match = true;
    if (!match) continue;
    genuine ??= id === loadingItself || pushedByNodesLoader(trap);
    if (!genuine) return;
    // out of the list first: the patch may load the module again (and more modules) re-entrantly
    stopWaiting(entry);
    i--;
    patched = true;
    try {
      asAgentWork(() => (entry.records ? recordPatches(entry.records, entry.patch) : entry.patch()));
    } catch (error) {
      // never into Node's module loader: the bindings below still judge every call
      logLine(`hooks for node:${id} could not be installed: ${describeError(error)}`);
    }
  }
  // the module's own ESM namespace is built after this returns, but a patch that loaded it (or
  // another builtin) through the public loader built theirs already, from the unpatched exports
  if (!patched) return;
  try {
    syncEsmNamespaces();
  } catch (error) {
    logLine(`ESM namespaces of builtins could not be synced: ${describeError(error)}`);
  }
}

/**
 * Loads a watched builtin for the agent itself, so that its patch runs now: the entry Node appends
 * on the way is taken as genuine without reading the stack (no application code runs in between),
 * which matters when the app froze `Error.stackTraceLimit` and the stack cannot be read without
 * `node:vm`, the module being loaded (attribution.ts). Returns the module.
 */
export function loadForAgent<T>(id: string): T {
  const outer = loadingItself;
  loadingItself = id;
  try {
    return builtin<T>(`node:${id}`);
  } finally {
    loadingItself = outer;
  }
}
let loadingItself: string | undefined;

/**
 * Did Node's builtin loader append this entry, or the app (`process.moduleLoadList.push('NativeModule
 * dns')` after replacing `dns.lookup` in a module it loaded while the watch was out)? Node's push
 * comes straight from compileForInternalLoader in realm.js (Node 20 and 22); the app's from its own
 * code. Read only for an entry a patch waits for: at most once per watched module.
 */
function pushedByNodesLoader(trap: (...args: never[]) => unknown): boolean {
  const files = callerFiles(trap, 3);
  if (files === null) return false;
  for (let i = 0; i < files.length; i++) {
    if (files[i] !== '') return files[i] === NODES_LOADER;
  }
  return false;
}
const NODES_LOADER = 'node:internal/bootstrap/realm';

function stopWaiting(entry: Waiting): void {
  for (let i = 0; i < waiting.length; i++) {
    if (waiting[i] !== entry) continue;
    for (let j = i; j < waiting.length - 1; j++) waiting[j] = waiting[j + 1] as Waiting;
    waiting.length--;
    break;
  }
  if (waiting.length === 0 && trapped) {
    // unless the app put another prototype there, which stays
    if (getPrototypeOf(trapped.list) === trapped.proxy) setPrototypeOf(trapped.list, trapped.prototype);
    trapped = undefined;
  }
}

/**
 * ESM named imports of node:* builtins (`import { connect } from 'node:net'`) are live bindings
 * that only follow patches of the CommonJS exports after this call.
 */
export function syncEsmNamespaces(): void {
  const { syncBuiltinESMExports } = builtin<typeof import('node:module')>('node:module');
  apply(syncBuiltinESMExports, undefined, []);
}
