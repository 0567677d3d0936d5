/**
 * Trusted built-ins for the whole bundle, injected by esbuild (build.mjs `inject` names this file):
 * every free reference to `Map`, `Set`, `WeakMap`, `WeakSet`, `URL`, `TextDecoder`, `Reflect` and
 * `JSON` in the agent AND
 * in the policy engine it bundles resolves to the exports below instead of the globals.
 *
 * Why: the app runs after the agent loaded and may rewrite any prototype (`Map.prototype.get`
 * answering a cached `grant`, `Set.prototype.has` saying a path was granted, `Reflect.apply`
 * replaced to be handed the hooks' unwrapped originals, `JSON.stringify` blanking events). These
 * copies are taken when the bundle is evaluated, before the app's first line:
 * - `Map`, `Set`, `WeakMap`, `WeakSet` are subclasses whose prototypes hold their OWN copies of
 *   every method (and iterators that call the captured `next`), frozen, so nothing the app changes
 *   on the originals' prototypes is ever consulted. Instances never leave the agent.
 * - `Reflect` and `JSON` are frozen snapshots of the namespaces' functions.
 * This is what Node's own `primordials` do for its internals (lib/internal/per_context/primordials.js);
 * src/intrinsics.ts complements it for what cannot be shadowed by name (string and regexp methods,
 * iteration). Code in this file must only use `globalThis.X` (never a free `Map`...).
 */
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const { apply, defineProperty, getOwnPropertyDescriptor, ownKeys, setPrototypeOf } = globalThis.Reflect;
const { freeze } = globalThis.Object;
const iteratorSymbol = globalThis.Symbol.iterator;

/** An iterator that only ever calls the `next` captured at load (no shared %XIteratorPrototype%). */
function safeIteratorClass(next: AnyFunction): new (inner: object) => object {
  class SafeIterator {
    readonly #inner: object;
    constructor(inner: object) {
      this.#inner = inner;
    }
    next(): unknown {
      return apply(next, this.#inner, []);
    }
    [iteratorSymbol](): this {
      return this;
    }
  }
  // nothing inherited: a `for...of` that breaks out looks up `return`, which must not reach Object.prototype
  setPrototypeOf(SafeIterator.prototype, null);
  freeze(SafeIterator.prototype);
  return SafeIterator;
}

/** Copies every method of `Unsafe.prototype` onto `Safe.prototype`, wrapping iterator factories. */
function makeSafe(Unsafe: { prototype: object }, Safe: { prototype: object }, probe: object): void {
  const unsafeProto = Unsafe.prototype;
  let SafeIterator: (new (inner: object) => object) | undefined;
  const keys = ownKeys(unsafeProto);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as PropertyKey;
    if (key === 'constructor') continue;
    const descriptor = getOwnPropertyDescriptor(unsafeProto, key) as PropertyDescriptor;
    const method = descriptor.value as AnyFunction | undefined;
    if (typeof method === 'function' && method.length === 0 && key !== 'clear') {
      const produced = apply(method, probe, []) as { next?: unknown } | undefined;
      if (produced && typeof produced === 'object' && typeof produced.next === 'function') {
        SafeIterator ??= safeIteratorClass(produced.next as AnyFunction);
        const Iterator = SafeIterator;
        const wrapped = function (this: object) {
          return new Iterator(apply(method, this, []) as object);
        };
        defineProperty(wrapped, 'name', { value: method.name });
        descriptor.value = wrapped;
      }
    }
    defineProperty(Safe.prototype, key, descriptor);
  }
  freeze(Safe.prototype);
  freeze(Safe);
}

class SafeMap<K, V> extends globalThis.Map<K, V> {}
makeSafe(globalThis.Map, SafeMap, new globalThis.Map());
class SafeSet<T> extends globalThis.Set<T> {}
makeSafe(globalThis.Set, SafeSet, new globalThis.Set());
class SafeWeakMap<K extends WeakKey, V> extends globalThis.WeakMap<K, V> {}
makeSafe(globalThis.WeakMap, SafeWeakMap, new globalThis.WeakMap());
class SafeWeakSet<T extends WeakKey> extends globalThis.WeakSet<T> {}
makeSafe(globalThis.WeakSet, SafeWeakSet, new globalThis.WeakSet());

function snapshot<T extends object>(namespace: T): T {
  const copy: Record<PropertyKey, unknown> = {};
  const keys = ownKeys(namespace);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    copy[key] = (namespace as Record<PropertyKey, unknown>)[key];
  }
  return freeze(copy) as T;
}

// URL and TextDecoder turn fs path arguments (file: URLs, Buffers) and hosts into the strings
// that are judged: a replaced `URL.prototype.pathname` or `TextDecoder.prototype.decode` must not
// show the judge one path while the call uses another
class SafeURL extends globalThis.URL {}
makeSafe(globalThis.URL, SafeURL, new globalThis.URL('http://localhost/'));
class SafeTextDecoder extends globalThis.TextDecoder {}
makeSafe(globalThis.TextDecoder, SafeTextDecoder, new globalThis.TextDecoder());

const SafeReflect = snapshot(globalThis.Reflect);
const SafeJSON = snapshot(globalThis.JSON);

export {
  SafeJSON as JSON,
  SafeMap as Map,
  SafeReflect as Reflect,
  SafeSet as Set,
  SafeTextDecoder as TextDecoder,
  SafeURL as URL,
  SafeWeakMap as WeakMap,
  SafeWeakSet as WeakSet,
};
