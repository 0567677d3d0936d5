/**
 * The function's registration with the control plane (POST /api/v1/agent/functions): what the
 * dashboard shows. The runtime comes from the agent's runtime.json because extensions cannot see
 * AWS_EXECUTION_ENV; the account id comes from the Extensions API register response.
 */
import type { ExtensionConfig } from './config.js';
import { describeError } from './errors.js';
import { httpRequest } from './http-client.js';
import type { RegisterInfo } from './lambda-api.js';
import type { RuntimeInfo } from './runtime-dir.js';

export interface FunctionReport {
  provider: 'aws';
  region?: string;
  accountId?: string;
  runtime: string;
  architecture: 'x86_64' | 'arm64';
  memoryMb?: number;
  functionName?: string;
  functionVersion?: string;
  policyGroup?: string;
  agentVersion?: string;
  coldStart: boolean;
}

/** Lambda names architectures x86_64 and arm64; Node says x64 and arm64. */
export function lambdaArchitecture(arch: string = process.arch): 'x86_64' | 'arm64' {
  return arch === 'arm64' ? 'arm64' : 'x86_64';
}

export function buildFunctionReport(input: {
  config: ExtensionConfig;
  registration: RegisterInfo;
  runtimeInfo: RuntimeInfo | undefined;
  coldStart: boolean;
}): FunctionReport {
  const { config, registration, runtimeInfo } = input;
  const report: FunctionReport = {
    provider: 'aws',
    // Without the agent's runtime.json the runtime is not known to us (not a Node.js function, or
    // the wrapper is not set): say so rather than guess.
    runtime: runtimeInfo?.runtime ?? 'unknown',
    architecture: lambdaArchitecture(),
    coldStart: input.coldStart,
  };
  const optional: Partial<FunctionReport> = {
    region: config.region,
    accountId: registration.accountId,
    memoryMb: config.memoryMb,
    functionName: registration.functionName ?? config.functionName,
    functionVersion: registration.functionVersion ?? config.functionVersion,
    policyGroup: config.policyGroup,
    agentVersion: runtimeInfo?.agentVersion,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (report as unknown as Record<string, unknown>)[key] = value;
  }
  return report;
}

/** Sends the report; a failure is returned as a message (the caller retries on a later invocation). */
export async function sendFunctionReport(options: {
  apiUrl: URL;
  licenseKey: string;
  report: FunctionReport;
  timeoutMs: number;
}): Promise<{ ok: true } | { ok: false; error: string; retryable: boolean }> {
  const base = options.apiUrl.pathname.endsWith('/') ? options.apiUrl : new URL(`${options.apiUrl.href}/`);
  try {
    const response = await httpRequest({
      method: 'POST',
      url: new URL('api/v1/agent/functions', base),
      headers: { authorization: `Bearer ${options.licenseKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(options.report),
      timeoutMs: options.timeoutMs,
    });
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return {
      ok: false,
      error: `status ${response.status}: ${response.body.slice(0, 200)}`,
      retryable: response.status === 429 || response.status >= 500,
    };
  } catch (error) {
    return { ok: false, error: describeError(error), retryable: true };
  }
}
