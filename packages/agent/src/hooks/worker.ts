/**
 * Worker threads carry the agent. A worker loads `--require` preloads from its NODE_OPTIONS, which
 * comes from its `env` option: with `env: {}` (or any env without our NODE_OPTIONS) it would start
 * unprotected, beyond the agent's reach. The `Worker` constructor is replaced by one that corrects a
 * custom `env` (support/agent-propagation.ts) before constructing the real worker; `execArgv: []` and
 * `eval: true` workers keep the agent because the preload comes from that env. `SHARE_ENV` and the
 * default (a copy of process.env, whose preload options the worker inherits) need no change.
 *
 * The replacement is a plain function sharing the original prototype (so `instanceof Worker` and
 * subclasses keep working) and the prototype's `constructor` points back at it, so nothing the app
 * can reach leads to the unwrapped class.
 */
import workerThreads from 'node:worker_threads';
import { patchMethod } from '../bindings.js';
import type { HookDescriptor } from './registry.js';
import { fixedEnv, initAgentPropagation } from './support/agent-propagation.js';

type WorkerClass = new (...args: unknown[]) => object;
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectConstruct = Reflect.construct;

export const hook: HookDescriptor = {
  name: 'worker',
  category: 'process',
  install() {
    initAgentPropagation();
    patchMethod<AnyFunction>(workerThreads, 'Worker', (original) =>
      wrapWorker(original as unknown as WorkerClass),
    );
  },
};

function wrapWorker(Original: WorkerClass): AnyFunction {
  const Worker = function Worker(this: unknown, ...args: unknown[]) {
    if (!new.target) throw new TypeError("Class constructor Worker cannot be invoked without 'new'");
    const options = args[1];
    if (options && typeof options === 'object') args[1] = withAgentEnv(options as Record<string, unknown>);
    return ReflectConstruct(Original, args, new.target);
  } as unknown as AnyFunction & { prototype: object };
  Worker.prototype = Original.prototype;
  Object.defineProperty(Original.prototype, 'constructor', {
    value: Worker,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return Worker;
}

function withAgentEnv(options: Record<string, unknown>): Record<string, unknown> {
  const env = options.env;
  if (!env || typeof env !== 'object' || env === process.env) return options;
  return { ...options, env: fixedEnv(env as Record<string, unknown>) };
}
