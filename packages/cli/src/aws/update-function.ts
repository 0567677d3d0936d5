import {
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CliError, ExitCode, errorName } from '../errors.js';
import type { ConfigurationPlan } from './enable-plan.js';
import { toCliError } from './lambda-client.js';

export interface UpdateOptions {
  sleep: (ms: number) => Promise<void>;
  /** Attempts when another update races ours (conflict or changed revision). */
  maxAttempts?: number;
  /** How long to wait for an update to finish before giving up. */
  waitTimeoutMs?: number;
  pollIntervalMs?: number;
  onStatus?: (status: string) => void;
}

export async function getFunctionConfiguration(
  client: LambdaClient,
  functionName: string,
): Promise<FunctionConfiguration> {
  try {
    return await client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  } catch (error) {
    throw toCliError(error, `Function ${functionName}`);
  }
}

/** Polls until no update is running, and fails with Lambda's reason when the last one failed. */
export async function waitUntilUpdated(
  client: LambdaClient,
  functionName: string,
  options: UpdateOptions,
  { failOnFailedUpdate = true }: { failOnFailedUpdate?: boolean } = {},
): Promise<FunctionConfiguration> {
  const timeoutMs = options.waitTimeoutMs ?? 300_000;
  const intervalMs = options.pollIntervalMs ?? 1_000;
  let waitedMs = 0;
  for (;;) {
    const fn = await getFunctionConfiguration(client, functionName);
    const busy = fn.LastUpdateStatus === 'InProgress' || fn.State === 'Pending';
    if (!busy) {
      if (fn.LastUpdateStatus === 'Failed' && failOnFailedUpdate) {
        const reason = [fn.LastUpdateStatusReasonCode, fn.LastUpdateStatusReason].filter(Boolean).join(': ');
        throw new CliError(
          'UPDATE_FAILED',
          ExitCode.failure,
          `Lambda could not apply the update to ${functionName}: ${reason || 'no reason given'}`,
        );
      }
      return fn;
    }
    if (waitedMs >= timeoutMs) {
      throw new CliError(
        'UPDATE_TIMEOUT',
        ExitCode.failure,
        `${functionName} was still updating after ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    options.onStatus?.(`waiting for ${functionName} to finish updating`);
    await options.sleep(intervalMs);
    waitedMs += intervalMs;
  }
}

const retryable = new Set(['ResourceConflictException', 'PreconditionFailedException']);

/**
 * Applies a plan computed from the current configuration, guarded by its RevisionId: when someone
 * else changed the function meanwhile, it reads it again, re-plans and retries.
 */
export async function applyConfigurationPlan(
  client: LambdaClient,
  functionName: string,
  computePlan: (fn: FunctionConfiguration) => ConfigurationPlan,
  options: UpdateOptions,
): Promise<{ plan: ConfigurationPlan; configuration: FunctionConfiguration }> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt += 1) {
    // An update in progress would make ours fail with a conflict: wait for it first. An earlier
    // failed update is no reason not to apply ours.
    const fn = await waitUntilUpdated(client, functionName, options, { failOnFailedUpdate: false });
    const plan = computePlan(fn);
    if (!plan.changed) return { plan, configuration: fn };
    try {
      await client.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: functionName,
          RevisionId: fn.RevisionId,
          Layers: plan.after.layers,
          Environment: { Variables: plan.after.environment },
        }),
      );
    } catch (error) {
      const name = errorName(error);
      if (name !== undefined && retryable.has(name) && attempt < maxAttempts) {
        options.onStatus?.(`${functionName} changed meanwhile (${name}); retrying`);
        await options.sleep(Math.min(1000 * 2 ** (attempt - 1), 8000));
        continue;
      }
      throw toCliError(error, `Updating ${functionName}`);
    }
    options.onStatus?.(`waiting for ${functionName} to finish updating`);
    const configuration = await waitUntilUpdated(client, functionName, options);
    return { plan, configuration };
  }
}
