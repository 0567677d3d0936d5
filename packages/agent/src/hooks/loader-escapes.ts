/**
 * The loader's escape hatches hand out hooked objects only.
 * - `process.binding('fs')`: the binding Node uses is patched in place (fs-binding.ts), but its
 *   loader-only readers (`internalModuleReadJSON` returns any file's text, `internalModuleStat`...)
 *   cannot be: Node's loader resolves modules with them. The app gets a plain copy of the binding
 *   (no prototype link back to the real one) whose loader-only readers are judged, non-writable and
 *   non-configurable; every other member is the patched binding's own.
 * - Other allowed bindings (`spawn_sync`, `process_wrap`, `tcp_wrap`...) are the patched objects.
 * - `process._linkedBinding` only serves bindings an embedder linked in, none of Node's own.
 * - `process.getBuiltinModule(id)` returns the same, patched, module objects as `require`.
 * - ESM named imports (`import { openSync } from 'node:fs'`) are copied from the module objects
 *   when first imported; the registry calls `module.syncBuiltinESMExports()` after all hooks, so any
 *   namespace that already exists is brought in line with the hooked functions.
 */
import { substituteForApp } from '../bindings.js';
import { objectKeys } from '../intrinsics.js';
import { judgedMethod, LOADER_ONLY_METHODS } from './fs-binding.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;
// captured at load: the copy is made at the app's first process.binding('fs'), after its code ran
const defineProperty = Object.defineProperty;
const LOADER_ONLY_NAMES = objectKeys(LOADER_ONLY_METHODS);

export const hook: HookDescriptor = {
  name: 'loader-escapes',
  category: 'filesystem',
  install() {
    // few apps ask: copying the binding's ~100 members at every start cost ~1.2 M instructions
    substituteForApp('fs', appFacingFsBinding, true);
  },
};

function appFacingFsBinding(realFs: Record<string, unknown>): Record<string, unknown> {
  // A plain copy, not Object.create(realFs): its prototype would lead straight to the real binding's
  // unjudged loader-only readers. Index loops: a `for...of` asks the app's array iterator.
  const copy: Record<string, unknown> = {};
  const keys = objectKeys(realFs);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    defineProperty(copy, key, {
      __proto__: null,
      value: realFs[key],
      writable: true,
      configurable: true,
      enumerable: true,
    } as PropertyDescriptor);
  }
  for (let i = 0; i < LOADER_ONLY_NAMES.length; i++) {
    const name = LOADER_ONLY_NAMES[i] as string;
    const original = realFs[name];
    if (typeof original !== 'function') continue;
    const spec = LOADER_ONLY_METHODS[name] as Parameters<typeof judgedMethod>[1];
    const judged = judgedMethod(`fs.${name}`, spec, original as AnyFunction);
    const bound = function (this: unknown, ...args: unknown[]) {
      return ReflectApply(judged, this === copy ? realFs : this, args);
    };
    defineProperty(bound, 'name', { __proto__: null, value: name } as PropertyDescriptor);
    defineProperty(copy, name, {
      __proto__: null,
      value: bound,
      writable: false,
      configurable: false,
      enumerable: true,
    } as PropertyDescriptor);
  }
  return copy;
}
