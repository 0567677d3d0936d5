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
import { judgedMethod, LOADER_ONLY_METHODS } from './fs-binding.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;

export const hook: HookDescriptor = {
  name: 'loader-escapes',
  category: 'filesystem',
  install() {
    substituteForApp('fs', appFacingFsBinding);
  },
};

function appFacingFsBinding(realFs: Record<string, unknown>): Record<string, unknown> {
  // A plain copy, not Object.create(realFs): its prototype would lead straight to the real binding's
  // unjudged loader-only readers.
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(realFs)) {
    Object.defineProperty(copy, key, {
      value: realFs[key],
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  for (const [name, spec] of Object.entries(LOADER_ONLY_METHODS)) {
    const original = realFs[name];
    if (typeof original !== 'function') continue;
    const judged = judgedMethod(`fs.${name}`, spec, original as AnyFunction);
    const bound = function (this: unknown, ...args: unknown[]) {
      return ReflectApply(judged, this === copy ? realFs : this, args);
    };
    Object.defineProperty(bound, 'name', { value: name });
    Object.defineProperty(copy, name, {
      value: bound,
      writable: false,
      configurable: false,
      enumerable: true,
    });
  }
  return copy;
}
