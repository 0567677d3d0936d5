/**
 * Finds the policy group to enforce, in the order of contract §3 and docs/architecture.md:
 *   1. ES_POLICY_FILE (offline mode);
 *   2. `<ES_RUNTIME_DIR>/policy.json`, left by the extension before it registered; while the
 *      extension is still fetching (its `policy.pending` marker exists) we wait, bounded by
 *      ES_POLICY_WAIT_MS (default 1500 ms); `policy.error.json` means it could not get one;
 *   3. outside Lambda: GET `${ES_API_URL}/api/v1/agent/policy?group=NAME` with ES_LICENSE_KEY,
 *      synchronously (a child `node` without the agent, bounded by ES_POLICY_FETCH_TIMEOUT_MS,
 *      default 3000 ms), cached in the runtime dir so the next start works without the network;
 *   4. the public `observeAll.ability` group needs no fetch: its content is fixed;
 *   5. otherwise ES_FAIL_MODE (default observe) with one log line saying why.
 * Runs once, at start, before any hook is installed, so nothing here is governed.
 */
import { OBSERVE_ALL, type PolicyGroup, parsePolicyGroup } from '@appdefender/policy';
import { builtin } from './builtins.js';
import type { FailMode, PolicySource } from './context.js';
import { describeError } from './log.js';

const fs = builtin<typeof import('node:fs')>('node:fs');
const { join } = builtin<typeof import('node:path')>('node:path');

export interface LoadedPolicy {
  policy: PolicyGroup;
  source: PolicySource;
  /** Why no policy could be had (source 'fail-mode'), or a note on a degraded source ('cache'). */
  reason?: string;
}

export interface PolicySourceOptions {
  env: NodeJS.ProcessEnv;
  runtimeDir: string;
  failMode: FailMode;
  inLambda: boolean;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
// docs/architecture.md: every poll step missed adds to the function's Init time
const POLL_MS = 1;

export function loadPolicy(options: PolicySourceOptions): LoadedPolicy {
  const { env } = options;
  const groupName = env.ES_POLICY_GROUP_NAME?.trim() || undefined;
  const reasons: string[] = [];

  if (env.ES_POLICY_FILE) {
    try {
      return { policy: readPolicyFile(env.ES_POLICY_FILE), source: 'file' };
    } catch (error) {
      // an explicit local policy that is wrong must not be silently replaced by another source
      return failModePolicy(options, `ES_POLICY_FILE ${env.ES_POLICY_FILE}: ${describeError(error)}`);
    }
  }

  const fromExtension = readExtensionHandOff(options, reasons);
  if (fromExtension) return fromExtension;

  if (!options.inLambda && env.ES_API_URL && env.ES_LICENSE_KEY && groupName) {
    const fetched = fetchFromControlPlane(options, groupName, reasons);
    if (fetched) return fetched;
  } else if (!options.inLambda && groupName && !env.ES_API_URL) {
    reasons.push('ES_API_URL is not set');
  } else if (!options.inLambda && groupName && !env.ES_LICENSE_KEY) {
    reasons.push('ES_LICENSE_KEY is not set');
  }

  if (groupName === OBSERVE_ALL.name)
    return { policy: OBSERVE_ALL, source: 'file', reason: 'built-in public group' };
  if (!groupName) reasons.push('neither ES_POLICY_FILE nor ES_POLICY_GROUP_NAME is set');
  return failModePolicy(options, reasons.join('; ') || 'no policy source available');
}

/**
 * True when the extension is still fetching the policy (its `policy.pending` marker is there and
 * `policy.json` is not yet): `loadPolicy` will wait, and the agent can do its policy-independent
 * work first.
 */
export function policyHandOffPending(env: NodeJS.ProcessEnv, runtimeDir: string): boolean {
  return (
    !env.ES_POLICY_FILE && stillFetching(join(runtimeDir, 'policy.json'), join(runtimeDir, 'policy.pending'))
  );
}

/** The extension's marker is there and its policy not yet. */
function stillFetching(policyPath: string, pendingPath: string): boolean {
  return !fs.existsSync(policyPath) && fs.existsSync(pendingPath);
}

function readPolicyFile(path: string): PolicyGroup {
  const text = fs.readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON (${describeError(error)})`);
  }
  return parsePolicyGroup(json);
}

function readExtensionHandOff(options: PolicySourceOptions, reasons: string[]): LoadedPolicy | undefined {
  const { runtimeDir, env } = options;
  const policyPath = join(runtimeDir, 'policy.json');
  const pendingPath = join(runtimeDir, 'policy.pending');
  const errorPath = join(runtimeDir, 'policy.error.json');
  const waitMs = nonNegativeInt(env.ES_POLICY_WAIT_MS, 1500);
  const deadline = Date.now() + waitMs;
  while (stillFetching(policyPath, pendingPath) && Date.now() < deadline) {
    Atomics.wait(sleepCell, 0, 0, POLL_MS);
  }
  if (fs.existsSync(policyPath)) {
    try {
      const handOff = JSON.parse(fs.readFileSync(policyPath, 'utf8')) as {
        policy?: unknown;
        source?: unknown;
      };
      const policy = parsePolicyGroup(handOff.policy);
      return { policy, source: handOff.source === 'cache' ? 'cache' : 'extension' };
    } catch (error) {
      reasons.push(`${policyPath}: ${describeError(error)}`);
      return undefined;
    }
  }
  if (fs.existsSync(pendingPath))
    reasons.push(`the extension did not hand over a policy within ${waitMs} ms`);
  if (fs.existsSync(errorPath)) {
    try {
      const failure = JSON.parse(fs.readFileSync(errorPath, 'utf8')) as { error?: unknown };
      reasons.push(`the extension could not get a policy: ${String(failure.error)}`);
    } catch (error) {
      reasons.push(`${errorPath}: ${describeError(error)}`);
    }
  } else if (options.inLambda) {
    reasons.push(`no policy from the extension in ${runtimeDir}`);
  }
  return undefined;
}

/**
 * The fetch runs in a child `node` because the agent must have its policy before the app's first
 * line runs, and Node has no synchronous HTTP client. The child gets no NODE_OPTIONS (so no agent)
 * and the key through its environment, never its command line.
 */
const FETCH_SCRIPT = `
const url = process.env.ES_FETCH_URL;
fetch(url, { headers: { authorization: 'Bearer ' + process.env.ES_FETCH_KEY, accept: 'application/json' },
  signal: AbortSignal.timeout(Number(process.env.ES_FETCH_TIMEOUT_MS)) })
  .then(async (r) => { const body = await r.text();
    if (!r.ok) { process.stderr.write('HTTP ' + r.status + ' ' + body.slice(0, 300)); process.exit(2); }
    process.stdout.write(body); })
  .catch((e) => { process.stderr.write(String(e && e.cause ? e.cause : e)); process.exit(3); });
`;

function fetchFromControlPlane(
  options: PolicySourceOptions,
  groupName: string,
  reasons: string[],
): LoadedPolicy | undefined {
  const { env, runtimeDir } = options;
  const cachePath = join(runtimeDir, `policy-cache-${encodeURIComponent(groupName)}.json`);
  const timeoutMs = nonNegativeInt(env.ES_POLICY_FETCH_TIMEOUT_MS, 3000);
  const url = `${env.ES_API_URL!.replace(/\/+$/, '')}/api/v1/agent/policy?group=${encodeURIComponent(groupName)}`;
  try {
    const { execFileSync } = builtin<typeof import('node:child_process')>('node:child_process');
    const body = execFileSync(process.execPath, ['-e', FETCH_SCRIPT], {
      env: {
        PATH: env.PATH,
        ES_FETCH_URL: url,
        ES_FETCH_KEY: env.ES_LICENSE_KEY,
        ES_FETCH_TIMEOUT_MS: String(timeoutMs),
      },
      timeout: timeoutMs + 1000,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 1024 * 1024,
    });
    const policy = parsePolicyGroup(JSON.parse(body));
    writeCache(runtimeDir, cachePath, policy);
    return { policy, source: 'control-plane' };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    reasons.push(`fetching ${url} failed: ${stderr || describeError(error)}`);
  }
  try {
    const cached = parsePolicyGroup(JSON.parse(fs.readFileSync(cachePath, 'utf8')));
    return { policy: cached, source: 'cache', reason: reasons.join('; ') };
  } catch {
    return undefined;
  }
}

function writeCache(runtimeDir: string, cachePath: string, policy: PolicyGroup): void {
  try {
    fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    const temporary = `${cachePath}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(policy), { mode: 0o600 });
    fs.renameSync(temporary, cachePath);
  } catch {
    // the cache only helps the next start; this one has its policy
  }
}

/** The policy that the fail mode stands for, named after ES_POLICY_GROUP_NAME when set. */
export function failModePolicy(options: PolicySourceOptions, reason: string): LoadedPolicy {
  const groupName = options.env.ES_POLICY_GROUP_NAME?.trim() || undefined;
  const mode = options.failMode === 'open' ? 'grant' : options.failMode === 'closed' ? 'deny' : 'observe';
  const policy: PolicyGroup = {
    ...OBSERVE_ALL,
    name: groupName ?? `failMode:${options.failMode}`,
    description: `ES_FAIL_MODE=${options.failMode}: no policy could be had`,
    network: mode,
    filesystem: mode,
    process: mode,
    allowedDomains: [],
    allowedPaths: [],
    allowedCommands: [],
  };
  return { policy, source: 'fail-mode', reason };
}

function nonNegativeInt(raw: string | undefined, fallback: number): number {
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}
