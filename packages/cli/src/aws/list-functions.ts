import { type FunctionConfiguration, type LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';
import { SUPPORTED_RUNTIMES } from './constants.js';
import { appDefenderStatus, functionArchitecture } from './enable-plan.js';
import { toCliError } from './lambda-client.js';

export interface FunctionSummary {
  functionName: string;
  runtime: string | undefined;
  architecture: string;
  supported: boolean;
  enabled: boolean;
  policyGroup: string | undefined;
  layer: string | undefined;
  managedByCli: boolean;
}

export function summarizeFunction(fn: FunctionConfiguration): FunctionSummary {
  const status = appDefenderStatus(fn);
  return {
    functionName: fn.FunctionName ?? '(unknown)',
    runtime: fn.PackageType === 'Image' ? 'image' : fn.Runtime,
    architecture: functionArchitecture(fn),
    supported:
      fn.PackageType !== 'Image' && (SUPPORTED_RUNTIMES as readonly string[]).includes(fn.Runtime ?? ''),
    enabled: status.enabled,
    policyGroup: status.enabled ? status.policyGroup : undefined,
    layer: status.layer,
    managedByCli: status.managedByCli,
  };
}

/** Every function in the client's region, with whether AppDefender is on and which policy group. */
export async function listFunctions(client: LambdaClient): Promise<FunctionSummary[]> {
  const summaries: FunctionSummary[] = [];
  try {
    for await (const page of paginateListFunctions({ client }, {})) {
      for (const fn of page.Functions ?? []) summaries.push(summarizeFunction(fn));
    }
  } catch (error) {
    throw toCliError(error, 'Listing functions');
  }
  return summaries.sort((a, b) => a.functionName.localeCompare(b.functionName));
}
