/**
 * `db.loadExtension(path)` (node:sqlite, after `allowExtension: true` and `enableLoadExtension(true)`)
 * has SQLite dlopen a shared library: native code the agent cannot see into, judged like
 * `process.dlopen` (native-addons.ts) as a `process` operation `load` of that path, refused the way
 * the call fails (it throws). SQLite also tries the path with `.so` appended. The SQL function
 * `load_extension()` stays unauthorised: Node enables only the C API
 * (test/redteam-round7-sqlite.test.ts).
 */
import type { Operation } from '@appdefender/policy';
import { patchMethod } from '../bindings.js';
import { enforce } from '../enforce.js';
import { cString } from '../intrinsics.js';
import type { HookDescriptor } from './registry.js';
import { sqliteModule } from './sqlite.js';
import { stopCachingResolutions } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;

export const hook: HookDescriptor = {
  name: 'sqlite-extensions',
  category: 'process',
  install() {
    const DatabaseSync = sqliteModule()?.DatabaseSync as { prototype?: object } | undefined;
    patchMethod<AnyFunction>(
      DatabaseSync?.prototype,
      'loadExtension',
      (original) =>
        function loadExtension(this: unknown, ...args: unknown[]) {
          const path = args[0];
          // Node takes only a string primitive, handed to SQLite as a C string (cut at a NUL)
          if (typeof path === 'string') {
            const op: Operation = { category: 'process', operation: 'load', command: cString(path) };
            const denied = enforce(op, { call: 'sqlite.DatabaseSync.loadExtension' });
            if (denied) throw denied;
            // native code may create links behind the agent's back: resolve afresh from now on
            stopCachingResolutions();
          }
          return ReflectApply(original, this, args);
        },
    );
  },
};
