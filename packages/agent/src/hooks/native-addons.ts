/**
 * Native addons run machine code the agent cannot see into, so loading one is a `process` operation
 * (`load`, target = the addon's path). `require('x.node')` and direct calls both go through
 * `process.dlopen`, which Node's loader looks up at call time (lib/internal/modules/cjs/loader.js
 * `Module._extensions['.node']`). A denied load throws, as a failed dlopen does. The Lambda runtime's
 * own addon (`rapid-client.node` in LAMBDA_RUNTIME_DIR) is never judged (support/runtime-own-work.ts).
 */
import type { Operation } from '@appdefender/policy';
import { patchMethod } from '../bindings.js';
import { enforce } from '../enforce.js';
import { cString } from '../intrinsics.js';
import type { HookDescriptor } from './registry.js';
import { stopCachingResolutions } from './support/fs-paths.js';
import { initRuntimeOwnWork, isRuntimeAddon } from './support/runtime-own-work.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;
const toText = String;

export const hook: HookDescriptor = {
  name: 'native-addons',
  category: 'process',
  install(context) {
    initRuntimeOwnWork({ env: process.env, appDirs: context.appDirs });
    patchMethod<AnyFunction>(
      process,
      'dlopen',
      (original) =>
        function dlopen(this: unknown, ...args: unknown[]) {
          const filename = args[1];
          // the runtime's own code: no judgement, and it creates no links, so resolution caching stays
          if (typeof filename === 'string' && isRuntimeAddon(cString(filename)))
            return ReflectApply(original, this, args);
          // turned into a string once, and that string is what dlopen gets: an object whose toString
          // answers an allowed addon first and another one next must not load the other one
          // and cut at a NUL, as dlopen reads it ('/tmp/evil.node\0/convert' must not pass for `convert`)
          const command = cString(typeof filename === 'string' ? filename : toText(filename));
          const op: Operation = { category: 'process', operation: 'load', command };
          const denied = enforce(op, { call: 'process.dlopen' });
          if (denied) throw denied;
          // native code may create links behind the agent's back: resolve afresh from now on
          stopCachingResolutions();
          const call: unknown[] = [args[0], command];
          for (let i = 2; i < args.length; i++) call[i] = args[i];
          return ReflectApply(original, this, call);
        },
    );
  },
};
