/**
 * The one registry of hooks. Each file in src/hooks exports `hook: HookDescriptor` and is listed
 * here once; `installHooks` installs only the hooks whose category the policy does not grant, so a
 * granted category costs nothing at all. test/structure.test.ts checks that every hook file is
 * registered and every registered hook has its file.
 */
import type { Category } from '@appdefender/policy';
import { builtin } from '../builtins.js';
import type { AgentContext } from '../context.js';
import { describeError, logLine } from '../log.js';
import { hook as childProcessHook } from './child-process.js';
import { hook as dgramHook } from './dgram.js';
import { hook as dnsHook } from './dns.js';
import { hook as fsHook } from './fs.js';
import { hook as fsBindingHook } from './fs-binding.js';
import { hook as loaderEscapesHook } from './loader-escapes.js';
import { hook as nativeAddonsHook } from './native-addons.js';
import { hook as netHook } from './net.js';
import { hook as workerHook } from './worker.js';

export interface HookDescriptor {
  /** The hook file's name without extension, e.g. `net`, `fs-promises`. */
  name: string;
  /** The category it governs; the hook is installed only when that category is not `grant`. */
  category: Category;
  /** Patches the modules and bindings; called at most once per process. */
  install(context: AgentContext): void;
}

/** Every hook, in install order (bindings before the public APIs that enrich them). */
export const HOOKS: readonly HookDescriptor[] = [
  netHook,
  dnsHook,
  dgramHook,
  fsBindingHook,
  fsHook,
  childProcessHook,
  workerHook,
  nativeAddonsHook,
  // last: syncs ESM namespaces of builtins with everything patched above
  loaderEscapesHook,
];

/** Installs the hooks the policy needs; a hook that fails to install is logged and skipped. */
export function installHooks(context: AgentContext): string[] {
  const installed: string[] = [];
  // ES_AGENT_DEBUG=timing: one stderr line with each hook's install time (cold-start work)
  const timing = process.env.ES_AGENT_DEBUG === 'timing';
  const times: string[] = [];
  for (const hook of HOOKS) {
    if (context.policy[hook.category] === 'grant') continue;
    const started = timing ? process.hrtime.bigint() : 0n;
    try {
      hook.install(context);
      installed.push(hook.name);
    } catch (error) {
      logLine(`hook ${hook.name} could not be installed: ${describeError(error)}`);
    }
    if (timing) times.push(`${hook.name} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(2)} ms`);
  }
  if (timing) logLine(`hook install times: ${times.join(', ')}`);
  // ESM named imports of node:* builtins (`import { connect } from 'node:net'`) are live bindings
  // that only follow our patches of the CommonJS exports after this call.
  if (installed.length > 0) builtin<typeof import('node:module')>('node:module').syncBuiltinESMExports();
  return installed;
}
