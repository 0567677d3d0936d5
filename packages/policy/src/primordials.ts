/**
 * The built-in methods the decision path calls, captured when this module is evaluated.
 *
 * The engine runs inside the protected function (bundled into the agent, which loads before the
 * application). A hostile application can replace `String.prototype.startsWith`,
 * `RegExp.prototype.exec`, `Array.prototype.push` or the array iterator afterwards, to make a path
 * look like it is under an allowed directory or a host like it matches an allowed domain. Code on the
 * decision path (hostname normalisation, domain matching, path checks, the decider) therefore calls
 * these captured copies, loops over arrays by index (a `for…of` consults the replaceable array
 * iterator) and appends with `array[array.length] = x`. Elsewhere (validation, advice) plain methods
 * are fine: they run on the operator's side, not inside the function.
 *
 * `uncurry(fn)(self, ...args)` is `fn.call(self, ...args)` through a `call` bound at load, so a later
 * `Function.prototype.call` replacement is never consulted (Node's own primordials do the same).
 */
type Uncurried<F> = F extends (this: infer T, ...args: infer A) => infer R
  ? (self: T, ...args: A) => R
  : never;

const { bind, call } = Function.prototype;
const uncurry = <F extends (this: never, ...args: never[]) => unknown>(fn: F): Uncurried<F> =>
  bind.call(call, fn) as Uncurried<F>;

export const stringStartsWith = uncurry(String.prototype.startsWith);
export const stringEndsWith = uncurry(String.prototype.endsWith);
export const stringIncludes = uncurry(String.prototype.includes);
export const stringSlice = uncurry(String.prototype.slice);
export const stringIndexOf = uncurry(String.prototype.indexOf);
export const stringLastIndexOf = uncurry(String.prototype.lastIndexOf);
export const stringCharCodeAt = uncurry(String.prototype.charCodeAt);
export const stringToLowerCase = uncurry(String.prototype.toLowerCase);
const regExpExec = uncurry(RegExp.prototype.exec);
export const hasOwn: (object: object, key: PropertyKey) => boolean = Object.hasOwn;
const urlHostname = uncurry(
  (Object.getOwnPropertyDescriptor(URL.prototype, 'hostname') as { get: (this: URL) => string }).get,
);
const URLConstructor = URL;

/** `regExp.test(text)`, without consulting the replaceable `RegExp.prototype.test` or `exec`. */
export function regExpTest(regExp: RegExp, text: string): boolean {
  return regExpExec(regExp, text) !== null;
}

/** `regExp.exec(text)`, the original. */
export function regExpMatch(regExp: RegExp, text: string): RegExpExecArray | null {
  return regExpExec(regExp, text);
}

/** The hostname the WHATWG URL parser makes of `http://${host}/`, or null when it is no valid host. */
export function urlHostnameOf(host: string): string | null {
  try {
    return urlHostname(new URLConstructor(`http://${host}/`));
  } catch {
    return null;
  }
}
