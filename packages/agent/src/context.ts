/**
 * The agent's runtime context: the policy in force, its decider, the directories it governs, where
 * the hand-off files live, and the metadata every event carries. Built once at start by `index.ts`
 * (`setContext`), read by `enforce` and by the hooks that need paths (`getContext`).
 */
import type { CloudProvider, Decider, IpNameTable, PolicyGroup } from '@appdefender/policy';

/** Where the policy in force came from (logged at start, written to runtime.json). */
export type PolicySource = 'file' | 'extension' | 'control-plane' | 'cache' | 'fail-mode';

/** What to enforce when no policy can be had (contract §3, ES_FAIL_MODE). */
export type FailMode = 'open' | 'observe' | 'closed';

/** Fields copied onto every event. */
export interface AgentMetadata {
  function?: string;
  functionVersion?: string;
  /** `nodejs20.x` on Lambda (from AWS_EXECUTION_ENV), else `nodejs<major>.x`. */
  runtime: string;
  provider: CloudProvider | 'local';
  region?: string;
  agentVersion: string;
  handler?: string;
}

export interface AgentContext {
  policy: PolicyGroup;
  decider: Decider;
  policySource: PolicySource;
  /** Why the fail mode is in force, when `policySource` is 'fail-mode'. */
  failReason?: string;
  failMode: FailMode;
  /** The hooks installed at start (a worker started from here must install them too). */
  installedHooks?: readonly string[];
  /** LAMBDA_TASK_ROOT, else the working directory at start; governed by `filesystem` besides /tmp. */
  appDirs: string[];
  /** ES_RUNTIME_DIR (default /tmp/.appdefender): hand-off files, never governed or reported. */
  runtimeDir: string;
  /** Whether events are spooled to `<runtimeDir>/events.ndjson` for the extension. */
  spoolEvents: boolean;
  /** Learned IP → name mappings, fed by the agent's own lookups and by hooked DNS. */
  ipNames: IpNameTable;
  /** `host:port` or `host` entries that are never governed (Lambda Runtime API). */
  alwaysAllowedHosts: string[];
  metadata: AgentMetadata;
}

let current: AgentContext | undefined;

/** The context of the running agent; undefined before start (hooks then let everything through). */
export function getContext(): AgentContext | undefined {
  return current;
}

export function setContext(context: AgentContext): void {
  current = context;
}

declare const __AGENT_VERSION__: string | undefined;
export const AGENT_VERSION: string = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';

/**
 * Event metadata from the environment. AWS_EXECUTION_ENV is `AWS_Lambda_nodejs20.x` on Lambda;
 * outside Lambda we name the running major version the same way.
 */
export function metadataFromEnv(env: NodeJS.ProcessEnv, provider: CloudProvider | null): AgentMetadata {
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  const runtimeMatch = /nodejs\d+\.x/.exec(executionEnv);
  const metadata: AgentMetadata = {
    runtime: runtimeMatch ? runtimeMatch[0] : `nodejs${process.versions.node.split('.')[0]}.x`,
    provider: provider ?? 'local',
    agentVersion: AGENT_VERSION,
  };
  const functionName =
    env.AWS_LAMBDA_FUNCTION_NAME ?? env.K_SERVICE ?? env.FUNCTION_TARGET ?? env.WEBSITE_SITE_NAME;
  if (functionName) metadata.function = functionName;
  const functionVersion = env.AWS_LAMBDA_FUNCTION_VERSION ?? env.K_REVISION;
  if (functionVersion) metadata.functionVersion = functionVersion;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? env.FUNCTION_REGION;
  if (region) metadata.region = region;
  if (env._HANDLER) metadata.handler = env._HANDLER;
  return metadata;
}

/** ES_FAIL_MODE, validated; an unknown value is reported and treated as the default, observe. */
export function failModeFromEnv(env: NodeJS.ProcessEnv): { mode: FailMode; problem?: string } {
  const raw = env.ES_FAIL_MODE?.trim().toLowerCase();
  if (!raw) return { mode: 'observe' };
  if (raw === 'open' || raw === 'observe' || raw === 'closed') return { mode: raw };
  return {
    mode: 'observe',
    problem: `ES_FAIL_MODE=${JSON.stringify(env.ES_FAIL_MODE)} is not one of open, observe, closed; using observe`,
  };
}
