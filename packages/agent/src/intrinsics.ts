/**
 * JavaScript intrinsics the agent uses on its decision path, captured when the agent loads, before
 * any application code runs (Node's own "primordials" idea). A hostile app can replace
 * `Reflect.apply`, `WeakMap.prototype.get`, `String.prototype.toLowerCase`, `RegExp.prototype.exec`,
 * the array iterator... afterwards; the agent keeps calling the originals, so it can neither be lied
 * to about a cached verdict or a learned address, nor be made to hand an original function out.
 *
 * Rules for code on the decision path: call methods through these (`apply(mapGet, map, [key])`),
 * loop over arrays by index (a `for…of` asks the tamperable array iterator), and build operation
 * objects with every field as an own property (an inherited `Object.prototype.host` must not be read).
 */

export const apply: typeof Reflect.apply = Reflect.apply;
export const isArray: typeof Array.isArray = Array.isArray;
export const objectKeys: typeof Object.keys = Object.keys;
export const getOwnPropertySymbols: typeof Object.getOwnPropertySymbols = Object.getOwnPropertySymbols;
export const dateNow: typeof Date.now = Date.now;
export const jsonStringify: typeof JSON.stringify = JSON.stringify;

type Method<T, A extends unknown[], R> = (this: T, ...args: A) => R;
// `call` bound to the method at load: neither a later Function.prototype.call/bind nor Reflect.apply
// is consulted, and unlike a rest-args wrapper around apply it allocates no argument array per call
// (these run several times per connect)
export const uncurry = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call) as <
  T,
  A extends unknown[],
  R,
>(
  method: Method<T, A, R>,
) => (self: T, ...args: A) => R;

export const weakMapGet = uncurry(WeakMap.prototype.get) as <K extends object, V>(
  map: WeakMap<K, V>,
  key: K,
) => V | undefined;
export const weakMapSet = uncurry(WeakMap.prototype.set) as <K extends object, V>(
  map: WeakMap<K, V>,
  key: K,
  value: V,
) => WeakMap<K, V>;
export const mapGet = uncurry(Map.prototype.get) as <K, V>(map: Map<K, V>, key: K) => V | undefined;
export const mapSet = uncurry(Map.prototype.set) as <K, V>(map: Map<K, V>, key: K, value: V) => Map<K, V>;
export const mapDelete = uncurry(Map.prototype.delete) as <K, V>(map: Map<K, V>, key: K) => boolean;
export const mapForEach = uncurry(Map.prototype.forEach) as <K, V>(
  map: Map<K, V>,
  callback: (value: V, key: K) => void,
) => void;
export const mapClear = uncurry(Map.prototype.clear) as <K, V>(map: Map<K, V>) => void;
export const mapSize = uncurry(Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!) as <K, V>(
  map: Map<K, V>,
) => number;
export const regExpExec = uncurry(RegExp.prototype.exec) as (
  regExp: RegExp,
  text: string,
) => RegExpExecArray | null;
export const toLowerCase = uncurry(String.prototype.toLowerCase) as (text: string) => string;
export const stringSlice = uncurry(String.prototype.slice) as (
  text: string,
  start?: number,
  end?: number,
) => string;
export const symbolDescription = uncurry(
  Object.getOwnPropertyDescriptor(Symbol.prototype, 'description')!.get!,
) as (symbol: symbol) => string | undefined;
export const stringTrim = uncurry(String.prototype.trim) as (text: string) => string;
export const numberIsInteger: typeof Number.isInteger = Number.isInteger;
export const arrayPush = uncurry(Array.prototype.push) as <T>(array: T[], ...items: T[]) => number;
export const stringStartsWith = uncurry(
  String.prototype.startsWith as (this: string, search: string) => boolean,
) as (text: string, search: string) => boolean;
export const stringCharCodeAt = uncurry(String.prototype.charCodeAt) as (
  text: string,
  index: number,
) => number;
export const stringLastIndexOf = uncurry(
  String.prototype.lastIndexOf as (this: string, search: string) => number,
) as (text: string, search: string) => number;
export const stringIndexOf = uncurry(String.prototype.indexOf as (this: string, search: string) => number);

/**
 * The string a system call sees: Node's bindings hand paths, commands and addon names to libc as C
 * strings, which end at the first NUL. Node's public APIs refuse a NUL; raw binding calls
 * (`process.binding('fs').open('/tmp/x\0anything')`, `spawn_sync` with `'/bin/sh\0/../../usr/bin/git'`)
 * do not, so what is judged must be what libc will use.
 */
export function cString(text: string): string {
  const nul = stringIndexOf(text, '\0');
  return nul === -1 ? text : stringSlice(text, 0, nul);
}

/** `regExp.test(text)` without asking the (replaceable) `RegExp.prototype.exec` or `test`. */
export function matches(regExp: RegExp, text: string): boolean {
  return regExpExec(regExp, text) !== null;
}
