/**
 * The agent's entry point, bundled to dist/agent.cjs and preloaded with
 * `node --require /opt/appdefender/agent.cjs` (the layer's wrapper puts that in NODE_OPTIONS).
 *
 * At load it finds the policy, builds the context, and installs the hooks of every category the
 * policy does not grant, all before the application's first line runs. Loading it twice (a child
 * process that inherits NODE_OPTIONS and is also given `--require`) is a no-op. It never throws into
 * the application: if it cannot start, it says so on stderr and the function runs unprotected.
 */

import { createDecider, detectCloudProvider, IpNameTable } from '@appdefender/policy';
import { asAgentWork } from './agent-work.js';
import { protectStackCapture, withdrawStackCapture } from './attribution.js';
import { builtin } from './builtins.js';
import { INHERITED_POLICY_KEY, type ParentHandOff, policyDigest, takeParentHandOff } from './child-policy.js';
import { guardCodeNames } from './code-names.js';
import { type AgentContext, failModeFromEnv, getContext, metadataFromEnv, setContext } from './context.js';
import { EventSink, spoolFileIn } from './event-sink.js';
import { hooksNeededBy, installHooks, installHooksBeforePolicy } from './hooks/registry.js';
import { guardSharedEnvCoverage, setOperatorCoverage } from './hooks/worker.js';
import { describeError, logLine } from './log.js';
import { failModePolicy, type LoadedPolicy, loadPolicy, policyHandOffPending } from './policy-source.js';
import { flushPendingEvents, initReporter } from './report.js';
import { endBeforeAppCode } from './terminate.js';
import {
  type InheritedPolicy,
  inWorkerThread,
  MIN_WORKER_STACK_MB,
  takeInheritedPolicy,
  workerStackSizeMb,
} from './worker-thread.js';

const fs = builtin<typeof import('node:fs')>('node:fs');
const { join } = builtin<typeof import('node:path')>('node:path');

// The bundle exports nothing. The app can reach this module's exports (`require.cache`, or
// `require()` of the path in NODE_OPTIONS); an exported `getContext` handed it the live context, whose
// `decider` it could replace to grant everything (test/redteam-integrity.test.ts). Hook authors import
// from the source modules.
export type { AgentContext } from './context.js';

const STARTED = Symbol.for('appdefender.agent');
const DEFAULT_RUNTIME_DIR = '/tmp/.appdefender';

function start(): void {
  const env = process.env;
  const runtimeDir = env.ES_RUNTIME_DIR || DEFAULT_RUNTIME_DIR;
  const inLambda = Boolean(env.AWS_LAMBDA_RUNTIME_API || env.AWS_LAMBDA_FUNCTION_NAME);
  const failMode = failModeFromEnv(env);
  if (failMode.problem) logLine(failMode.problem);
  // A worker thread takes the policy of the thread that started it, a Node child process the policy
  // of its parent process, never the files as they are now (worker-thread.ts, child-policy.ts).
  const fromThread = takeInheritedPolicy();
  const fromParent = inWorkerThread ? undefined : takeParentHandOff(env);
  if (fromParent) startedByAgent = true;
  const inherited = fromThread ?? (fromParent && 'policy' in fromParent ? fromParent : undefined);
  const appDirs = applicationDirs(env, fromThread, fromParent);
  // Filled in below and set (setContext) only once complete: hooks let everything through until then.
  const context = { appDirs, runtimeDir } as AgentContext;

  // In Lambda the extension may still be fetching the policy when the runtime starts. Installing the
  // hooks is most of the agent's start-up work and needs no policy, so it is done first and its cost
  // hides in the wait; the hooks of the categories the policy grants come out again below.
  // (Stack capture first: hooks tell the agent's own work from the app's by its stack.)
  let installedEarly: ReturnType<typeof installHooksBeforePolicy> | undefined;
  if (!inherited && !(fromParent && 'unreadable' in fromParent) && policyHandOffPending(env, runtimeDir)) {
    protectStackCapture(true);
    installedEarly = installHooksBeforePolicy(context);
  }

  const sourceOptions = { env, runtimeDir, failMode: failMode.mode, inLambda };
  let loaded: LoadedPolicy;
  if (inherited) loaded = inherited;
  else if (fromParent && 'unreadable' in fromParent)
    loaded = failModePolicy(
      sourceOptions,
      `${INHERITED_POLICY_KEY} is unreadable (${fromParent.unreadable})`,
    );
  else {
    // the agent's own reads: once hooks are in, they must not count as the app's (e.g. a content read
    // of a file under /tmp would end the exemption of the runtime's handler resolution)
    loaded = asAgentWork(() => loadPolicy(sourceOptions));
    // a policy too large to be handed over whole came as its digest: the file must still hold it
    if (fromParent && 'digest' in fromParent && loaded.source !== 'fail-mode') {
      if (policyDigest(loaded.policy) !== fromParent.digest) {
        loaded = failModePolicy(
          sourceOptions,
          `the ${loaded.source} policy "${loaded.policy.name}" is not the policy the parent process enforces (another SHA-256)`,
        );
      }
    }
  }
  const { policy } = loaded;
  // (an inherited policy was already explained by the thread or process that started this one)
  if (inherited) {
    // nothing to say
  } else if (loaded.source === 'fail-mode') {
    logLine(`no policy could be had (${loaded.reason}); enforcing ES_FAIL_MODE=${failMode.mode}`);
  } else if (loaded.source === 'cache') {
    logLine(`using the cached policy group "${policy.name}" (${loaded.reason})`);
  }

  const provider = detectCloudProvider(env);
  const ipNames = new IpNameTable();
  const alwaysAllowedHosts = env.AWS_LAMBDA_RUNTIME_API ? [env.AWS_LAMBDA_RUNTIME_API] : [];
  const decider = createDecider(policy, {
    appDirs,
    provider,
    ipNames,
    alwaysAllowedHosts,
    // No `internalPaths`: the agent's own reads and writes of ES_RUNTIME_DIR run as agent work and
    // never reach the decider, while the APP's are judged like any other path under /tmp, so under
    // filesystem deny it cannot forge events in the spool or plant a policy.json for a child
    // (test/redteam-integrity.test.ts).
  });
  Object.assign(context, {
    policy,
    decider,
    policySource: loaded.source,
    failMode: failMode.mode,
    spoolEvents: inLambda || Boolean(env.ES_RUNTIME_DIR),
    ipNames,
    alwaysAllowedHosts,
    metadata: metadataFromEnv(env, provider),
  } satisfies Omit<AgentContext, 'appDirs' | 'runtimeDir'>);
  if (loaded.reason && loaded.source === 'fail-mode') context.failReason = loaded.reason;
  setContext(context);

  const windowMs = Number(env.ES_AGGREGATE_WINDOW_MS ?? '');
  initReporter({
    sink: new EventSink({
      eventFile: env.ES_EVENT_FILE || undefined,
      spoolFile: context.spoolEvents ? spoolFileIn(runtimeDir) : undefined,
    }),
    aggregateWindowMs: Number.isInteger(windowMs) && windowMs >= 0 ? windowMs : undefined,
  });
  const governsSomething =
    policy.network !== 'grant' || policy.filesystem !== 'grant' || policy.process !== 'grant';
  if (governsSomething) {
    const stackMb = workerStackSizeMb();
    if (stackMb !== undefined && stackMb < MIN_WORKER_STACK_MB) {
      endBeforeAppCode(
        `this worker's resourceLimits.stackSizeMb ${stackMb} is too small for the agent's hooks (at least ${MIN_WORKER_STACK_MB})`,
      );
    }
  }
  if (governsSomething) protectStackCapture();
  else withdrawStackCapture();
  let installed: string[] = [];
  if (installedEarly) installed = installedEarly.keepFor(policy);
  else if (governsSomething) installed = installHooks(context);
  context.installedHooks = installed;
  // whatever the categories: the agent-work exemption serves them all (code-names.ts)
  if (governsSomething) guardCodeNames();
  if (inWorkerThread) endWorkerMissingHooks(policy, installed, fromThread);
  if (inWorkerThread) setOperatorCoverage(fromThread?.coverage);
  if (fromThread?.sharedEnv && policy.filesystem !== 'grant') {
    const denied = guardSharedEnvCoverage(policy.filesystem);
    if (denied) endBeforeAppCode(denied.message);
  }
  if (governsSomething) process.on('exit', flushPendingEvents);
  if (context.spoolEvents) writeRuntimeFile(context);
}

/** Set once this process's agent found a hand-off from its parent's agent: it was started governed. */
let startedByAgent = false;

/**
 * LAMBDA_TASK_ROOT, else the working directory at start. A worker is the same process: it takes the
 * starting thread's. A process started in a directory that no longer exists (`process.cwd()` throws)
 * takes its parent's, when its parent's agent said which; the agent failed to start there before.
 */
function applicationDirs(
  env: NodeJS.ProcessEnv,
  fromThread: InheritedPolicy | undefined,
  fromParent: ParentHandOff | undefined,
): string[] {
  if (fromThread?.appDirs) return [...fromThread.appDirs];
  if (env.LAMBDA_TASK_ROOT) return [env.LAMBDA_TASK_ROOT];
  let cwd = '';
  try {
    cwd = process.cwd();
  } catch {
    // ENOENT: the directory was removed
  }
  if (cwd) return [cwd];
  return fromParent && 'appDirs' in fromParent ? [...fromParent.appDirs] : [];
}

/**
 * A worker whose agent could not install a hook that the thread starting it has (or, when nothing was
 * handed over, any hook its policy needs) would run its code with that road open: it ends instead
 * (worker-thread.ts). A hook that no thread of this Node can install is logged and skipped as before.
 */
function endWorkerMissingHooks(
  policy: AgentContext['policy'],
  installed: readonly string[],
  fromThread: InheritedPolicy | undefined,
): void {
  const expected = fromThread?.hooks ?? hooksNeededBy(policy);
  const missing = hooksNeededBy(policy).filter(
    (name) => expected.includes(name) && !installed.includes(name),
  );
  if (missing.length > 0) endBeforeAppCode(`the agent could not install its ${missing.join(', ')} hooks`);
}

/** `runtime.json` for the extension's function registration (docs/architecture.md). */
function writeRuntimeFile(context: AgentContext): void {
  try {
    asAgentWork(() => {
      fs.mkdirSync(context.runtimeDir, { recursive: true, mode: 0o700 });
      const path = join(context.runtimeDir, 'runtime.json');
      const temporary = `${path}.${process.pid}.tmp`;
      const content = {
        runtime: context.metadata.runtime,
        agentVersion: context.metadata.agentVersion,
        pid: process.pid,
        handler: context.metadata.handler,
        policyGroup: context.policy.name,
        policySource: context.policySource,
        nodeVersion: process.version,
      };
      fs.writeFileSync(temporary, JSON.stringify(content), { mode: 0o600 });
      fs.renameSync(temporary, path);
    });
  } catch (error) {
    logLine(`cannot write runtime.json: ${describeError(error)}`);
  }
}

if (!(globalThis as Record<symbol, unknown>)[STARTED] && !getContext()) {
  Object.defineProperty(globalThis, STARTED, { value: true, enumerable: false, configurable: false });
  try {
    start();
  } catch (error) {
    // A worker, or a child of a governed process, ends instead: the agent that started it runs, so the
    // failure is this one's own (a tiny stack, a removed working directory...), something the app may
    // have arranged, and its code must not run unprotected. The function's own process carries on.
    if (inWorkerThread || startedByAgent)
      endBeforeAppCode(`the agent could not start: ${describeError(error)}`);
    logLine(`the agent could not start and is not protecting this process: ${describeError(error)}`);
  }
}
