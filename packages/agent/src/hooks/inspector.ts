/**
 * A debugger attached to the process sees everything in it: `Runtime.getProperties` lists any
 * function's `[[Scopes]]`, where each hook keeps the original it wraps, `Runtime.callFunctionOn`
 * hands those back to JavaScript, and breakpoints in Node's internals reach `internalBinding`. So
 * attaching one runs code outside the agent's reach: a process `load` of `node:inspector`, as a
 * native addon is (test/redteam-round7-roads.test.ts). Judged where every road begins:
 * - in-process sessions: the inspector binding's `Connection` (`inspector.Session#connect`, also
 *   `inspector/promises`) and `MainThreadConnection` (`Session#connectToMainThread` in a worker),
 *   patched on the binding object before `node:inspector` captures them (it is loaded on demand);
 * - the inspector's WebSocket port, which any client that reaches it (the app itself, through an
 *   allowed `localhost`) drives the same way: its `open` (`inspector.open`), `process._debugProcess`
 *   and SIGUSR1, the signal with which Node opens it (`process.kill` calls `process._kill` at call
 *   time; Node's own binding stays captured in terminate.ts). SIGUSR1 is judged whatever process it
 *   is sent to: it opens that Node process to debuggers too.
 * Refused the way each fails: a throw. `node:inspector` among allowedCommands grants them all.
 * A Node child started with `--inspect*` is judged in child-process.ts.
 */
import type { Operation } from '@appdefender/policy';
import { getBinding, patchMethod, pointConstructorTo } from '../bindings.js';
import { enforce } from '../enforce.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Constructor = new (...args: unknown[]) => object;

const ReflectApply = Reflect.apply;
const ReflectConstruct = Reflect.construct;
const toText = String;

/** The command these operations are judged as (and that allowedCommands can name). */
export const INSPECTOR_COMMAND = 'node:inspector';

export const hook: HookDescriptor = {
  name: 'inspector',
  category: 'process',
  install() {
    const binding = getBinding('inspector');
    if (binding) {
      patchMethod<AnyFunction>(binding, 'Connection', (original) =>
        judgedConstructor(original as unknown as Constructor, 'inspector.Session'),
      );
      patchMethod<AnyFunction>(binding, 'MainThreadConnection', (original) =>
        judgedConstructor(original as unknown as Constructor, 'inspector.Session.connectToMainThread'),
      );
      patchMethod<AnyFunction>(
        binding,
        'open',
        (original) =>
          function open(this: unknown, ...args: unknown[]) {
            const denied = judgeInspector('inspector.open');
            if (denied) throw denied;
            return ReflectApply(original, this, args);
          },
      );
    }
    patchMethod<AnyFunction>(
      process,
      '_debugProcess',
      (original) =>
        function _debugProcess(this: unknown, ...args: unknown[]) {
          const denied = judgeInspector('process._debugProcess', toText(args[0]));
          if (denied) throw denied;
          return ReflectApply(original, this, args);
        },
    );
    const signals = (getBinding('constants') as { os?: { signals?: Record<string, number> } } | undefined)?.os
      ?.signals;
    const SIGUSR1 = signals?.SIGUSR1 ?? 10;
    patchMethod<AnyFunction>(
      process,
      '_kill',
      (original) =>
        function _kill(this: unknown, ...args: unknown[]) {
          if (args[1] === SIGUSR1) {
            const denied = judgeInspector('process.kill', toText(args[0]), 'SIGUSR1');
            if (denied) throw denied;
          }
          return ReflectApply(original, this, args);
        },
    );
  },
};

function judgeInspector(call: string, ...rest: string[]): Error | null {
  const args = [call];
  for (let i = 0; i < rest.length; i++) args[i + 1] = rest[i] as string;
  const op: Operation = { category: 'process', operation: 'load', command: INSPECTOR_COMMAND, args };
  return enforce(op, { call });
}

/**
 * A constructor that judges, then constructs Node's; it shares the original prototype (whose
 * `constructor` points back at it), so nothing the app can reach leads to the unwrapped class.
 */
function judgedConstructor(Original: Constructor, call: string): AnyFunction {
  const Judged = function (this: unknown, ...args: unknown[]) {
    // without `new`, Node's constructor throws its own TypeError
    if (!new.target) return ReflectApply(Original as unknown as AnyFunction, this, args);
    const denied = judgeInspector(call);
    if (denied) throw denied;
    return ReflectConstruct(Original, args, new.target);
  } as unknown as AnyFunction & { prototype: object };
  Judged.prototype = Original.prototype;
  pointConstructorTo(Original, Judged);
  return Judged;
}
