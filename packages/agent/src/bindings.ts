/**
 * Access to Node's internal bindings (tcp_wrap, pipe_wrap, udp_wrap, cares_wrap, fs, spawn_sync,
 * process_wrap...) shared by every hook file.
 *
 * `process.binding(name)` returns, for the names on Node's allow list, the very object that
 * `internalBinding(name)` gives Node's own `net`, `dns`, `dgram`, `fs` and `child_process` (Node 20
 * and 22; see lib/internal/bootstrap/realm.js `processBindingAllowList`). Node's modules look the
 * binding methods up at call time (`cares.getaddrinfo(...)`, `handle.connect(...)` on a
 * `TCP.prototype` instance), so patching those objects in place puts every road, public API or
 * raw binding, through the same hook.
 *
 * `process.binding` itself is wrapped later by the loader-escape hook (to hand out hooked objects);
 * we capture the original here, at agent load, before anything can replace it.
 */

import { logOnce } from './log.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
export type Binding = Record<string, unknown>;

// `process.binding` is deprecated (DEP0111) and absent from @types/node, but present in Node 20 and 22
const processWithBinding = process as unknown as { binding?: (name: string) => unknown };
const originalProcessBinding =
  typeof processWithBinding.binding === 'function' ? processWithBinding.binding : undefined;
const bindingCache = new Map<string, Binding | null>();

/**
 * The binding object Node's own modules use, or undefined when this Node does not expose it.
 * @example const tcp = getBinding('tcp_wrap'); // { TCP, TCPConnectWrap, constants }
 */
export function getBinding(name: string): Binding | undefined {
  const cached = bindingCache.get(name);
  if (cached !== undefined) return cached ?? undefined;
  let binding: Binding | null = null;
  if (originalProcessBinding) {
    // process.binding is deprecated (DEP0111, a warning under --pending-deprecation): the agent's
    // own use must not print warnings into the function's log
    const noDeprecation = process.noDeprecation;
    try {
      process.noDeprecation = true;
      const value = Reflect.apply(originalProcessBinding, process, [name]);
      if (value && (typeof value === 'object' || typeof value === 'function')) binding = value as Binding;
    } catch {
      // not on this Node's allow list (or removed): the public-API hooks still cover the common roads
      logOnce(
        `binding:${name}`,
        `Node ${process.version} does not expose the ${name} binding; its raw use is not intercepted`,
      );
    } finally {
      process.noDeprecation = noDeprecation;
    }
  }
  bindingCache.set(name, binding);
  return binding ?? undefined;
}

const patched = new WeakSet<object>();

/**
 * One replaced property and what it was before, or another step to take back (a patch still
 * waiting for its module, builtin-loads.ts), so a speculative install can be undone.
 */
export type PatchRecord =
  | { target: object; key: PropertyKey; previous: PropertyDescriptor | undefined }
  | { undo: () => void };
let journal: PatchRecord[] | undefined;

/** The records `recordPatches` is adding to right now, for steps that patch later (builtin-loads.ts). */
export function currentPatchRecords(): PatchRecord[] | undefined {
  return journal;
}

/** Adds a step to take back to the records being kept, if any. */
export function recordUndo(undo: () => void): void {
  journal?.push({ undo });
}

/**
 * Runs `install`, adding to `records` every property it replaces through `patchMethod` or
 * `replaceProperty` (also when it throws half-way), for `undoPatches`. Used while the agent waits for its policy: hooks are installed during the wait
 * (their cost hides in it) and the ones of categories the policy grants are taken out again before
 * any application code runs, so a granted category still ends with no hooks at all.
 */
export function recordPatches(records: PatchRecord[], install: () => void): void {
  const outer = journal;
  journal = records;
  try {
    install();
  } finally {
    journal = outer;
  }
}

/** Puts back what `recordPatches` saw replaced, newest first. */
export function undoPatches(records: readonly PatchRecord[]): void {
  for (let index = records.length - 1; index >= 0; index--) {
    const record = records[index] as PatchRecord;
    if ('undo' in record) {
      record.undo();
      continue;
    }
    const { target, key, previous } = record;
    if (previous) Object.defineProperty(target, key, previous);
    else delete (target as Record<PropertyKey, unknown>)[key];
  }
}

/** `Object.defineProperty`, remembered for `undoPatches` when a speculative install is recording. */
export function replaceProperty(target: object, key: PropertyKey, descriptor: PropertyDescriptor): void {
  journal?.push({ target, key, previous: Object.getOwnPropertyDescriptor(target, key) });
  Object.defineProperty(target, key, descriptor);
}

/**
 * Makes the prototype of the class `Original` lead to `replacement`, its judging stand-in:
 * `instance.constructor` (and `Object.getPrototypeOf(instance).constructor`) must not hand the app the
 * unjudged original. Journaled like every patch.
 */
export function pointConstructorTo(Original: { prototype: object }, replacement: AnyFunction): void {
  replaceProperty(Original.prototype, 'constructor', {
    value: replacement,
    writable: true,
    configurable: true,
  });
}

/**
 * Replaces `target[key]` with `makeWrapper(original)`, in place, keeping the original only in the
 * wrapper's closure (nothing on the wrapper leads back to it) and the original's name and length,
 * so libraries that inspect functions see no difference. Patching the same method twice is a no-op,
 * which makes a second copy of the agent harmless.
 * @returns false when there is no such method to patch
 */
export function patchMethod<F extends AnyFunction>(
  target: object | undefined | null,
  key: string,
  makeWrapper: (original: F) => F,
): boolean {
  if (!target) return false;
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  const original = descriptor ? descriptor.value : (target as Record<string, unknown>)[key];
  if (typeof original !== 'function' || patched.has(original)) return false;
  const wrapper = makeWrapper(original as F);
  copyFunctionShape(original as F, wrapper);
  patched.add(wrapper);
  replaceProperty(target, key, {
    value: wrapper,
    writable: descriptor ? descriptor.writable !== false : true,
    enumerable: descriptor ? descriptor.enumerable === true : true,
    configurable: true,
  });
  return true;
}

/** True when `fn` is one of our wrappers (used by tests and by double-load protection). */
export function isPatched(fn: unknown): boolean {
  return typeof fn === 'function' && patched.has(fn);
}

function copyFunctionShape(from: AnyFunction, to: AnyFunction): void {
  for (const key of ['name', 'length'] as const) {
    try {
      Object.defineProperty(to, key, { value: from[key], configurable: true });
    } catch {
      // a frozen function shape is cosmetic only
    }
  }
}

/** What the app gets from `process.binding` instead of a real binding (see substituteForApp). */
interface Substitute {
  real: object;
  make: (real: Binding) => object;
  /** made now, or at the app's first ask when `make` reads only what the agent captured at load */
  appFacing: object | undefined;
}
const substitutes: Substitute[] = [];
let bindingDescriptor: PropertyDescriptor | undefined;

/**
 * Has `process.binding(name)` give the app `make(real)` instead of the object Node's own modules
 * use: a copy without the members through which the app could read past a hook or forge the state
 * the agent's checks read. Made now, while no application code has run (a copy built with
 * `Object.keys` and friends, which the app could replace later), or, with `whenAsked`, at the app's
 * first ask, for a `make` that uses only functions the agent captured at load. One wrapper serves every
 * substitute, so hooks of different categories can each add theirs; each is taken out with its
 * hook (undoPatches), and the wrapper when none is left. Nothing the app can reach leads to a real
 * object or to the original `process.binding` (kept in this closure).
 */
export function substituteForApp(name: string, make: (real: Binding) => object, whenAsked = false): void {
  const real = getBinding(name);
  const original = originalProcessBinding;
  if (!real || !original) return;
  const entry: Substitute = { real, make, appFacing: whenAsked ? undefined : make(real) };
  substitutes[substitutes.length] = entry;
  recordUndo(() => {
    const index = substitutes.indexOf(entry);
    if (index !== -1) substitutes.splice(index, 1);
    if (substitutes.length === 0 && bindingDescriptor) {
      Object.defineProperty(process, 'binding', bindingDescriptor);
      bindingDescriptor = undefined;
    }
  });
  if (bindingDescriptor) return;
  const descriptor = Object.getOwnPropertyDescriptor(process, 'binding');
  if (!descriptor) return;
  bindingDescriptor = descriptor;
  const binding = function binding(this: unknown, ...args: unknown[]) {
    const result = Reflect.apply(original, this, args);
    for (let i = 0; i < substitutes.length; i++) {
      const substitute = substitutes[i] as Substitute;
      if (substitute.real === result) {
        substitute.appFacing ??= substitute.make(result as Binding);
        return substitute.appFacing;
      }
    }
    return result;
  };
  copyFunctionShape(original as AnyFunction, binding);
  patched.add(binding);
  Object.defineProperty(process, 'binding', {
    value: binding,
    writable: descriptor.writable !== false,
    enumerable: descriptor.enumerable === true,
    configurable: true,
  });
}
