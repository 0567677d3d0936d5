/**
 * Gets the policy group for the agent before the runtime needs it: fetched from the control plane
 * with short per-attempt timeouts and retries inside a total budget, validated, handed over in
 * policy.json, and cached for later starts of the same environment. When the control plane cannot
 * be reached the cached copy is handed over instead (source "cache"); with neither, policy.error.json
 * tells the agent why, and it applies ES_FAIL_MODE.
 */
import { type PolicyGroup, parsePolicyGroup } from '@appdefender/policy';
import { builtin } from './builtin.js';
import type { ExtensionConfig } from './config.js';
import { describeError } from './errors.js';
import { getOnce, type PlainResponse } from './policy-request.js';
import {
  ensureRuntimeDir,
  type RuntimeFiles,
  readJsonIfPresent,
  removeIfPresent,
  writeFileAtomic,
} from './runtime-dir.js';

export type PolicyOutcome =
  | { kind: 'offline'; reason: string }
  | { kind: 'handed-over'; source: 'control-plane' | 'cache'; policy: PolicyGroup; note?: string }
  | { kind: 'failed'; error: string };

interface CachedPolicy {
  cacheKey: string;
  policy: unknown;
  etag?: string;
  fetchedAt: string;
}

const RETRY_PAUSE_MS = 100;

/**
 * Ties a cache to the api URL, group and key, so a changed configuration never reads another's policy.
 * node:crypto is loaded here, when there is a cache to compare or one to write, not at start: a
 * fresh environment has no cache, and its fetch should not wait for crypto (~2 ms).
 */
function cacheKeyFor(apiUrl: URL, group: string, licenseKey: string): string {
  const { createHash } = builtin<typeof import('node:crypto')>('node:crypto');
  return createHash('sha256').update(`${apiUrl.href}\n${group}\n${licenseKey}`).digest('hex');
}

function readCache(
  files: RuntimeFiles,
  cacheKey: () => string,
): { policy: PolicyGroup; etag?: string; fetchedAt: string } | undefined {
  try {
    const cached = readJsonIfPresent(files.policyCache) as CachedPolicy | undefined;
    if (!cached || cached.cacheKey !== cacheKey()) return undefined;
    const result: { policy: PolicyGroup; etag?: string; fetchedAt: string } = {
      policy: parsePolicyGroup(cached.policy),
      fetchedAt: String(cached.fetchedAt),
    };
    if (typeof cached.etag === 'string') result.etag = cached.etag;
    return result;
  } catch {
    return undefined;
  }
}

type AttemptResult =
  | { kind: 'fresh'; policy: PolicyGroup; etag?: string }
  | { kind: 'not-modified' }
  | { kind: 'retryable'; reason: string }
  | { kind: 'final'; reason: string };

async function attemptFetch(
  url: URL,
  licenseKey: string,
  etag: string | undefined,
  timeoutMs: number,
): Promise<AttemptResult> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${licenseKey}`,
    accept: 'application/json',
  };
  if (etag) headers['if-none-match'] = etag;
  let response: PlainResponse;
  try {
    response = await getOnce(url, headers, timeoutMs);
  } catch (error) {
    return { kind: 'retryable', reason: describeError(error) };
  }
  if (response.status === 304 && etag) return { kind: 'not-modified' };
  if (response.status === 200) {
    try {
      const policy = parsePolicyGroup(JSON.parse(response.body));
      const header = response.headers.etag;
      return header ? { kind: 'fresh', policy, etag: header } : { kind: 'fresh', policy };
    } catch (error) {
      return {
        kind: 'final',
        reason: `the control plane sent an invalid policy group: ${describeError(error)}`,
      };
    }
  }
  const reason = `the control plane answered ${response.status}: ${response.body.slice(0, 300)}`;
  // 408/429/5xx may pass with a retry; other 4xx (bad key, unknown group) will not.
  if (response.status === 408 || response.status === 429 || response.status >= 500)
    return { kind: 'retryable', reason };
  return { kind: 'final', reason };
}

async function fetchWithinBudget(
  config: ExtensionConfig & { apiUrl: URL; licenseKey: string; policyGroup: string },
  etag: string | undefined,
): Promise<AttemptResult> {
  const url = new URL(
    `api/v1/agent/policy?group=${encodeURIComponent(config.policyGroup)}`,
    withTrailingSlash(config.apiUrl),
  );
  const deadline = Date.now() + config.policyFetchBudgetMs;
  let last: AttemptResult = { kind: 'retryable', reason: 'no attempt made' };
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    last = await attemptFetch(
      url,
      config.licenseKey,
      etag,
      Math.min(config.policyAttemptTimeoutMs, remaining),
    );
    if (last.kind !== 'retryable') return last;
    if (deadline - Date.now() <= RETRY_PAUSE_MS) break;
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS * attempt));
  }
  return last;
}

function withTrailingSlash(url: URL): URL {
  return url.pathname.endsWith('/') ? url : new URL(`${url.href}/`);
}

function handOver(
  files: RuntimeFiles,
  policy: PolicyGroup,
  source: 'control-plane' | 'cache',
  fetchedAt: string,
  etag?: string,
): void {
  const content: Record<string, unknown> = { policy, source, fetchedAt };
  if (etag) content.etag = etag;
  writeFileAtomic(files.policy, JSON.stringify(content));
  removeIfPresent(files.policyError);
}

function handOverError(files: RuntimeFiles, error: string): void {
  writeFileAtomic(files.policyError, JSON.stringify({ error, time: new Date().toISOString() }));
  removeIfPresent(files.policy);
}

/**
 * Fetches (or falls back to the cache), writes policy.json or policy.error.json, and always removes
 * the policy.pending marker last, so the agent never reads a half-finished hand-off.
 */
export async function providePolicy(config: ExtensionConfig, files: RuntimeFiles): Promise<PolicyOutcome> {
  try {
    ensureRuntimeDir(files);
    return await providePolicyUnguarded(config, files);
  } finally {
    try {
      removeIfPresent(files.policyPending);
    } catch {
      // the agent then waits its bounded time and applies its fail mode
    }
  }
}

async function providePolicyUnguarded(config: ExtensionConfig, files: RuntimeFiles): Promise<PolicyOutcome> {
  if (config.policyFile) {
    return { kind: 'offline', reason: `ES_POLICY_FILE is set; the agent reads ${config.policyFile} itself` };
  }
  const missing = [
    config.apiUrl ? undefined : 'ES_API_URL',
    config.licenseKey ? undefined : 'ES_LICENSE_KEY',
    config.policyGroup ? undefined : 'ES_POLICY_GROUP_NAME',
  ].filter((name): name is string => name !== undefined);
  if (missing.length > 0 || !config.apiUrl || !config.licenseKey || !config.policyGroup) {
    const error = `cannot fetch a policy group: ${missing.join(', ')} not set`;
    handOverError(files, error);
    return { kind: 'failed', error };
  }
  const complete = {
    ...config,
    apiUrl: config.apiUrl,
    licenseKey: config.licenseKey,
    policyGroup: config.policyGroup,
  };
  let key: string | undefined;
  const cacheKey = () => {
    key ??= cacheKeyFor(complete.apiUrl, complete.policyGroup, complete.licenseKey);
    return key;
  };
  const cached = readCache(files, cacheKey);
  const result = await fetchWithinBudget(complete, cached?.etag);
  const now = new Date().toISOString();

  if (result.kind === 'fresh') {
    handOver(files, result.policy, 'control-plane', now, result.etag);
    // The cache only helps a later start of this environment: it is written after what this start
    // still has to do right away (its key needs node:crypto, which plain http has not loaded).
    const { policy, etag } = result;
    setImmediate(() => {
      try {
        const entry: CachedPolicy = { cacheKey: cacheKey(), policy, fetchedAt: now };
        if (etag) entry.etag = etag;
        writeFileAtomic(files.policyCache, JSON.stringify(entry));
      } catch {
        // this start has its policy; a later one fetches again
      }
    });
    return { kind: 'handed-over', source: 'control-plane', policy };
  }
  if (result.kind === 'not-modified' && cached) {
    handOver(files, cached.policy, 'control-plane', now, cached.etag);
    return {
      kind: 'handed-over',
      source: 'control-plane',
      policy: cached.policy,
      note: 'not modified since the cached copy',
    };
  }
  const reason = result.kind === 'not-modified' ? 'unexpected 304 without a cached copy' : result.reason;
  // A refusal (bad key, unknown group) is final: an old cached copy must not outlive a revoked key.
  if (cached && result.kind !== 'final') {
    handOver(files, cached.policy, 'cache', cached.fetchedAt, cached.etag);
    return { kind: 'handed-over', source: 'cache', policy: cached.policy, note: reason };
  }
  handOverError(files, reason);
  return { kind: 'failed', error: reason };
}
