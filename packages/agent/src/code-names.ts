/**
 * The agent's stack checks let Node's internals run between a hook and the agent's own work
 * (agent-work.ts) and tell them by file name: `node:*`. Code the app compiles under such a name
 * (`vm` `filename`, `vm.compileFunction`, `Module#_compile`, the contextify binding) passed for
 * Node's own: used as an `Object.prototype` getter that Node's internals read during the agent's
 * lookups or event writes, its writes went through every hook (test/redteam-round7-roads.test.ts).
 * Node compiles its builtins by itself, never through these: code the app compiles under a `node:`
 * name gets that name with an `app:` prefix (stack traces show `app:node:fs`), so no stack check
 * takes it for Node's. (The agent's own file name is checked by script hash instead:
 * attribution.ts.) Installed once the policy governs something; nothing is judged or reported.
 *
 * Where the names enter: the contextify binding's `ContextifyScript` (which `vm.Script` extends when
 * `node:vm` loads, after this) and its `compileFunction`/`compileFunctionForCJSLoader` (raw use:
 * Node's own loaders captured theirs at start), `vm.compileFunction` (its internal helper captured
 * the binding's at start) and `Module.prototype._compile`.
 */
import { getBinding, patchMethod, pointConstructorTo } from './bindings.js';
import { whenBuiltinLoaded } from './builtin-loads.js';
import { builtin } from './builtins.js';
import { objectKeys, stringStartsWith } from './intrinsics.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Constructor = new (...args: unknown[]) => object;

const ReflectApply = Reflect.apply;
const ReflectConstruct = Reflect.construct;

/** `name` as the app's code may be called: a `node:` name gets an `app:` prefix. */
function appName(name: unknown): unknown {
  return typeof name === 'string' && stringStartsWith(name, 'node:') ? `app:${name}` : name;
}

/** A copy of `args` with the element at `index` renamed (read once). */
function renamedAt(args: unknown[], index: number): unknown[] {
  const copy: unknown[] = [];
  for (let i = 0; i < args.length; i++) copy[i] = i === index ? appName(args[i]) : args[i];
  return copy;
}

let guarded = false;

export function guardCodeNames(): void {
  if (guarded) return;
  guarded = true;
  const contextify = getBinding('contextify');
  if (contextify) {
    patchMethod<AnyFunction>(contextify, 'ContextifyScript', (original) => renamingConstructor(original));
    for (const key of ['compileFunction', 'compileFunctionForCJSLoader'])
      patchMethod<AnyFunction>(
        contextify,
        key,
        (original) =>
          function (this: unknown, ...args: unknown[]) {
            return ReflectApply(original, this, renamedAt(args, 1));
          },
      );
  }
  const Module = builtin<{ prototype: object }>('node:module');
  patchMethod<AnyFunction>(
    Module.prototype,
    '_compile',
    (original) =>
      function _compile(this: unknown, ...args: unknown[]) {
        return ReflectApply(original, this, renamedAt(args, 1));
      },
  );
  whenBuiltinLoaded(['vm'], () => {
    patchMethod<AnyFunction>(
      builtin<object>('node:vm'),
      'compileFunction',
      (original) =>
        function compileFunction(this: unknown, ...args: unknown[]) {
          const options = args[2];
          if (options !== null && typeof options === 'object') {
            // a copy, each option read once: a getter could answer one name here and another to vm
            const copy: Record<string, unknown> = {};
            const keys = objectKeys(options);
            for (let i = 0; i < keys.length; i++)
              copy[keys[i] as string] = (options as Record<string, unknown>)[keys[i] as string];
            copy.filename = appName(copy.filename);
            const call: unknown[] = [];
            for (let i = 0; i < args.length; i++) call[i] = i === 2 ? copy : args[i];
            return ReflectApply(original, this, call);
          }
          return ReflectApply(original, this, args);
        },
    );
  });
}

/** `ContextifyScript(code, filename, ...)`: the same class for `vm.Script` to extend, renaming. */
function renamingConstructor(original: AnyFunction): AnyFunction {
  const Original = original as unknown as Constructor;
  const Renaming = function (this: unknown, ...args: unknown[]) {
    if (!new.target) return ReflectApply(original, this, args);
    return ReflectConstruct(Original, renamedAt(args, 1), new.target);
  } as unknown as AnyFunction & { prototype: object };
  Renaming.prototype = Original.prototype;
  pointConstructorTo(Original, Renaming);
  return Renaming;
}
