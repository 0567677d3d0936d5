/**
 * Native addons run machine code the agent cannot see into, so loading one is a `process` operation
 * (`load`, target = the addon's path). `require('x.node')` and direct calls both go through
 * `process.dlopen`, which Node's loader looks up at call time (lib/internal/modules/cjs/loader.js
 * `Module._extensions['.node']`). A denied load throws, as a failed dlopen does.
 */
import type { Operation } from '@appdefender/policy';
import { patchMethod } from '../bindings.js';
import { enforce } from '../enforce.js';
import type { HookDescriptor } from './registry.js';
import { stopCachingResolutions } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;

export const hook: HookDescriptor = {
  name: 'native-addons',
  category: 'process',
  install() {
    patchMethod<AnyFunction>(
      process,
      'dlopen',
      (original) =>
        function dlopen(this: unknown, ...args: unknown[]) {
          const filename = args[1];
          const command = typeof filename === 'string' ? filename : String(filename);
          const op: Operation = { category: 'process', operation: 'load', command };
          const denied = enforce(op, { call: 'process.dlopen' });
          if (denied) throw denied;
          // native code may create links behind the agent's back: resolve afresh from now on
          stopCachingResolutions();
          return ReflectApply(original, this, args);
        },
    );
  },
};
