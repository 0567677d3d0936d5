/**
 * The one registry of hooks. Each file in src/hooks exports `hook: HookDescriptor` and is listed
 * here once; `installHooks` installs only the hooks whose category the policy does not grant, so a
 * granted category costs nothing at all. test/structure.test.ts checks that every hook file is
 * registered and every registered hook has its file.
 */
import type { Category, PolicyGroup } from '@appdefender/policy';
import { type PatchRecord, recordPatches, undoPatches } from '../bindings.js';
import { syncEsmNamespaces } from '../builtin-loads.js';
import type { AgentContext } from '../context.js';
import { describeError, logLine } from '../log.js';
import { hook as childProcessHook } from './child-process.js';
import { hook as dgramHook } from './dgram.js';
import { hook as dnsHook } from './dns.js';
import { hook as fsHook } from './fs.js';
import { hook as fsBindingHook } from './fs-binding.js';
import { hook as inspectorHook } from './inspector.js';
import { hook as loaderEscapesHook } from './loader-escapes.js';
import { hook as nativeAddonsHook } from './native-addons.js';
import { hook as nativeWritersHook } from './native-writers.js';
import { hook as netHook } from './net.js';
import { hook as opensslEnginesHook } from './openssl-engines.js';
import { hook as sqliteHook } from './sqlite.js';
import { hook as sqliteExtensionsHook } from './sqlite-extensions.js';
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
  nativeWritersHook,
  childProcessHook,
  workerHook,
  nativeAddonsHook,
  opensslEnginesHook,
  sqliteHook,
  sqliteExtensionsHook,
  inspectorHook,
  // last: syncs ESM namespaces of builtins with everything patched above
  loaderEscapesHook,
];

/** The names of the hooks `policy` needs: those of the categories it does not grant. */
export function hooksNeededBy(policy: PolicyGroup): string[] {
  return HOOKS.filter((hook) => policy[hook.category] !== 'grant').map((hook) => hook.name);
}

/** Installs the hooks the policy needs; a hook that fails to install is logged and skipped. */
export function installHooks(context: AgentContext): string[] {
  const installed = installEach(
    context,
    HOOKS.filter((hook) => context.policy[hook.category] !== 'grant'),
  );
  if (installed.length > 0) syncEsmNamespaces();
  return installed;
}

/**
 * Installs every hook before the policy is known (the agent is waiting for the extension to hand
 * it over: the install's cost hides in that wait). Until the context is set the hooks let everything
 * through, and nothing but the agent runs during the wait. `keepFor(policy)` then takes out, exactly
 * as they were, the hooks of the categories the policy grants: a granted category ends with no hooks.
 */
export function installHooksBeforePolicy(context: Pick<AgentContext, 'appDirs'>): {
  keepFor(policy: PolicyGroup): string[];
} {
  const patchesByHook = new Map<HookDescriptor, PatchRecord[]>();
  // no ESM sync here: no application code runs before keepFor, which syncs once
  const installed = installEach(context as AgentContext, HOOKS, (hook, install) => {
    const records: PatchRecord[] = [];
    patchesByHook.set(hook, records);
    recordPatches(records, install);
  });
  return {
    keepFor(policy) {
      const kept: string[] = [];
      // newest first, as the hooks were installed in order on top of each other
      for (let index = HOOKS.length - 1; index >= 0; index--) {
        const hook = HOOKS[index] as HookDescriptor;
        // a hook that failed half-way is taken out too when granted, and kept as far as it got if not
        if (policy[hook.category] === 'grant') undoPatches(patchesByHook.get(hook) ?? []);
        else if (installed.includes(hook.name)) kept.unshift(hook.name);
      }
      syncEsmNamespaces();
      return kept;
    },
  };
}

function installEach(
  context: AgentContext,
  hooks: readonly HookDescriptor[],
  run: (hook: HookDescriptor, install: () => void) => void = (_hook, install) => install(),
): string[] {
  const installed: string[] = [];
  // ES_AGENT_DEBUG=timing: one stderr line with each hook's install time (cold-start work)
  const timing = process.env.ES_AGENT_DEBUG === 'timing';
  const times: string[] = [];
  for (const hook of hooks) {
    const started = timing ? process.hrtime.bigint() : 0n;
    try {
      run(hook, () => hook.install(context));
      installed.push(hook.name);
    } catch (error) {
      logLine(`hook ${hook.name} could not be installed: ${describeError(error)}`);
    }
    if (timing) times.push(`${hook.name} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(2)} ms`);
  }
  if (timing) logLine(`hook install times: ${times.join(', ')}`);
  return installed;
}
