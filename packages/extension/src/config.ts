/**
 * The extension's configuration, read once from the environment Lambda gives every extension
 * (the function's variables plus AWS_LAMBDA_RUNTIME_API, AWS_REGION, memory size...).
 */
import { ExtensionError } from './errors.js';

export interface ExtensionConfig {
  /** `host:port` of the Lambda Runtime/Extensions/Telemetry APIs. */
  lambdaApi: string;
  /** Must equal the launcher's file name in /opt/extensions. */
  extensionName: string;
  /** Set when the launcher already registered (early registration), with its response body. */
  preRegistered?: { extensionId: string; responseBody: string };
  /** ES_RUNTIME_DIR: the agent ↔ extension hand-off directory. */
  runtimeDir: string;
  /** ES_API_URL; undefined means there is no control plane to talk to. */
  apiUrl?: URL;
  licenseKey?: string;
  policyGroup?: string;
  /** ES_POLICY_FILE: the agent reads it itself (offline mode); the extension fetches nothing. */
  policyFile?: string;
  region?: string;
  memoryMb?: number;
  functionName?: string;
  functionVersion?: string;
  initializationType?: string;
  /** Total time the policy fetch may take, retries included (the agent waits ES_POLICY_WAIT_MS). */
  policyFetchBudgetMs: number;
  /** One attempt's timeout (connect + response). */
  policyAttemptTimeoutMs: number;
  /** One delivery request's timeout. */
  deliveryTimeoutMs: number;
  /** How long the end-of-invocation flush may hold the next `next` call. */
  invocationFlushBudgetMs: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** Undelivered bytes kept in events.ndjson before the oldest are dropped (and counted). */
  maxSpoolBytes: number;
  /** A fully delivered events.ndjson larger than this is rotated away (ES_SPOOL_ROTATE_BYTES, 0: never). */
  rotateBytes: number;
  /** How long a rotated spool file must stay unchanged before it is deleted (ES_SPOOL_ROTATE_GRACE_MS). */
  rotateGraceMs: number;
  /** How long to wait for platform.runtimeDone after an INVOKE before flushing anyway. */
  runtimeDoneWaitMs: number;
}

type Env = Record<string, string | undefined>;

function positiveInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ExtensionError(
      'CONFIG_INVALID',
      `${name} must be a positive integer, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function nonNegativeInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ExtensionError(
      'CONFIG_INVALID',
      `${name} must be a non-negative integer, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Reads and validates the configuration.
 * @example readConfig(process.env).runtimeDir // '/tmp/.appdefender'
 * @throws ExtensionError CONFIG_INVALID naming the variable that is wrong.
 */
export function readConfig(env: Env): ExtensionConfig {
  const lambdaApi = nonEmpty(env, 'AWS_LAMBDA_RUNTIME_API');
  if (!lambdaApi) {
    throw new ExtensionError(
      'CONFIG_INVALID',
      'AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda',
    );
  }
  let apiUrl: URL | undefined;
  const rawApiUrl = nonEmpty(env, 'ES_API_URL');
  if (rawApiUrl) {
    try {
      apiUrl = new URL(rawApiUrl);
    } catch (cause) {
      throw new ExtensionError('CONFIG_INVALID', `ES_API_URL is not a URL: ${JSON.stringify(rawApiUrl)}`, {
        cause,
      });
    }
    if (apiUrl.protocol !== 'http:' && apiUrl.protocol !== 'https:') {
      throw new ExtensionError('CONFIG_INVALID', `ES_API_URL must be http(s), got ${apiUrl.protocol}`);
    }
  }
  const config: ExtensionConfig = {
    lambdaApi,
    extensionName: nonEmpty(env, 'APPDEFENDER_EXTENSION_NAME') ?? 'appdefender',
    runtimeDir: nonEmpty(env, 'ES_RUNTIME_DIR') ?? '/tmp/.appdefender',
    policyFetchBudgetMs: positiveInteger(env, 'ES_POLICY_FETCH_BUDGET_MS', 1200),
    policyAttemptTimeoutMs: positiveInteger(env, 'ES_POLICY_FETCH_TIMEOUT_MS', 600),
    deliveryTimeoutMs: positiveInteger(env, 'ES_DELIVERY_TIMEOUT_MS', 1500),
    invocationFlushBudgetMs: positiveInteger(env, 'ES_FLUSH_BUDGET_MS', 1000),
    maxBatchEvents: positiveInteger(env, 'ES_BATCH_MAX_EVENTS', 500),
    maxBatchBytes: positiveInteger(env, 'ES_BATCH_MAX_BYTES', 512 * 1024),
    maxSpoolBytes: positiveInteger(env, 'ES_SPOOL_MAX_BYTES', 32 * 1024 * 1024),
    runtimeDoneWaitMs: positiveInteger(env, 'ES_RUNTIME_DONE_WAIT_MS', 900_000),
    rotateBytes: nonNegativeInteger(env, 'ES_SPOOL_ROTATE_BYTES', 1024 * 1024),
    rotateGraceMs: positiveInteger(env, 'ES_SPOOL_ROTATE_GRACE_MS', 2000),
  };
  if (apiUrl) config.apiUrl = apiUrl;
  const optional = {
    licenseKey: nonEmpty(env, 'ES_LICENSE_KEY'),
    policyGroup: nonEmpty(env, 'ES_POLICY_GROUP_NAME'),
    policyFile: nonEmpty(env, 'ES_POLICY_FILE'),
    region: nonEmpty(env, 'AWS_REGION') ?? nonEmpty(env, 'AWS_DEFAULT_REGION'),
    functionName: nonEmpty(env, 'AWS_LAMBDA_FUNCTION_NAME'),
    functionVersion: nonEmpty(env, 'AWS_LAMBDA_FUNCTION_VERSION'),
    initializationType: nonEmpty(env, 'AWS_LAMBDA_INITIALIZATION_TYPE'),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  const memory = nonEmpty(env, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
  if (memory !== undefined) config.memoryMb = positiveInteger(env, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 0);
  const extensionId = nonEmpty(env, 'APPDEFENDER_EXTENSION_ID');
  if (extensionId) {
    config.preRegistered = { extensionId, responseBody: env.APPDEFENDER_REGISTER_RESPONSE ?? '' };
  }
  return config;
}
