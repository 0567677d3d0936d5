import type { FunctionConfiguration } from '@aws-sdk/client-lambda';
import { CliError, ExitCode } from '../errors.js';
import { isAppDefenderLayer } from './arn.js';
import {
  API_URL_VAR,
  type Architecture,
  CHAINED_WRAPPER_VAR,
  ENABLED_BY_VAR,
  EXEC_WRAPPER_VAR,
  LICENSE_KEY_VAR,
  MAX_ENVIRONMENT_BYTES,
  MAX_LAYERS,
  POLICY_GROUP_VAR,
  SUPPORTED_RUNTIMES,
  WRAPPER_PATH,
} from './constants.js';

/** The part of a function's configuration that enable/disable change. */
export interface FunctionSettings {
  layers: string[];
  environment: Record<string, string>;
}

export interface ConfigurationPlan {
  functionName: string;
  before: FunctionSettings;
  after: FunctionSettings;
  /** False when the function already has exactly the wanted configuration. */
  changed: boolean;
}

/**
 * What `enable` changed, stored as JSON in `ES_ENABLED_BY`: each variable's value before the
 * first enable (null = it did not exist), the layer it added and the AppDefender layers it replaced.
 */
export interface EnableRecord {
  v: 1;
  env: Record<string, string | null>;
  layer: string;
  replaced: string[];
}

export interface EnableRequest {
  layerArn: string;
  licenseKey: string;
  policyGroup: string;
  apiUrl?: string | undefined;
}

export class UnsupportedFunctionError extends CliError {
  constructor(message: string, hint?: string) {
    super('UNSUPPORTED_FUNCTION', ExitCode.failure, message, hint === undefined ? {} : { hint });
    this.name = 'UnsupportedFunctionError';
  }
}

export function currentSettings(fn: FunctionConfiguration): FunctionSettings {
  return {
    layers: (fn.Layers ?? [])
      .map((layer) => layer.Arn)
      .filter((arn): arn is string => typeof arn === 'string'),
    environment: { ...(fn.Environment?.Variables ?? {}) },
  };
}

export function functionArchitecture(fn: FunctionConfiguration): Architecture {
  return fn.Architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64';
}

/** Refuses functions AppDefender cannot protect, saying why and what to do instead. */
export function assertSupportedFunction(fn: FunctionConfiguration): void {
  const name = fn.FunctionName ?? 'the function';
  if (fn.PackageType === 'Image') {
    throw new UnsupportedFunctionError(
      `${name} is a container-image function: Lambda does not attach layers to images`,
      'Copy the layer contents into your image under /opt and set the variables yourself (docs/cli.md, "Container images")',
    );
  }
  const runtime = fn.Runtime;
  if (!runtime || !(SUPPORTED_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new UnsupportedFunctionError(
      `${name} uses the runtime ${runtime ?? '(none)'}, which AppDefender does not support`,
      `Supported runtimes: ${SUPPORTED_RUNTIMES.join(', ')} (Node.js on Amazon Linux 2023)`,
    );
  }
}

export function parseEnableRecord(value: string | undefined): EnableRecord | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new CliError(
      'BAD_ENABLE_RECORD',
      ExitCode.failure,
      `${ENABLED_BY_VAR} is not valid JSON: ${value}`,
    );
  }
  const record = parsed as Partial<EnableRecord> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.v !== 1 ||
    typeof record.layer !== 'string' ||
    !Array.isArray(record.replaced) ||
    typeof record.env !== 'object' ||
    record.env === null
  ) {
    throw new CliError(
      'BAD_ENABLE_RECORD',
      ExitCode.failure,
      `${ENABLED_BY_VAR} does not hold a record written by \`appdefender lambda enable\`: ${value}`,
    );
  }
  return record as EnableRecord;
}

/** Size of the environment as Lambda counts it against its 4 KB limit. */
export function environmentBytes(environment: Record<string, string>): number {
  return Buffer.byteLength(JSON.stringify(environment), 'utf8');
}

function sameSettings(a: FunctionSettings, b: FunctionSettings): boolean {
  if (a.layers.length !== b.layers.length || a.layers.some((arn, i) => arn !== b.layers[i])) return false;
  const aKeys = Object.keys(a.environment);
  if (aKeys.length !== Object.keys(b.environment).length) return false;
  return aKeys.every((key) => a.environment[key] === b.environment[key]);
}

/**
 * Computes the configuration that enables AppDefender: our layer replaces an older AppDefender
 * layer in place (or is appended), the user's variables stay, a previous exec wrapper is chained.
 */
export function planEnable(fn: FunctionConfiguration, request: EnableRequest): ConfigurationPlan {
  assertSupportedFunction(fn);
  const functionName = fn.FunctionName ?? '(unknown)';
  const before = currentSettings(fn);
  const existingRecord = parseEnableRecord(before.environment[ENABLED_BY_VAR]);

  // Layers: our new version takes the slot of the first AppDefender layer, other vendors' stay.
  const appDefenderLayers = before.layers.filter(isAppDefenderLayer);
  const firstIndex = before.layers.findIndex(isAppDefenderLayer);
  const others = before.layers.filter((arn) => !isAppDefenderLayer(arn));
  const layers = [...others];
  layers.splice(firstIndex === -1 ? layers.length : firstIndex, 0, request.layerArn);
  if (layers.length > MAX_LAYERS) {
    throw new CliError(
      'TOO_MANY_LAYERS',
      ExitCode.failure,
      `${functionName} already uses ${others.length} layers; Lambda allows ${MAX_LAYERS}, so there is no slot for AppDefender`,
      { hint: `Remove one of: ${others.join(', ')}` },
    );
  }

  // Environment: keep everything, set ours, chain a wrapper that is not ours.
  const wanted: Record<string, string> = {
    [EXEC_WRAPPER_VAR]: WRAPPER_PATH,
    [LICENSE_KEY_VAR]: request.licenseKey,
    [POLICY_GROUP_VAR]: request.policyGroup,
  };
  if (request.apiUrl) wanted[API_URL_VAR] = request.apiUrl;
  const previousWrapper = before.environment[EXEC_WRAPPER_VAR];
  if (previousWrapper && previousWrapper !== WRAPPER_PATH) wanted[CHAINED_WRAPPER_VAR] = previousWrapper;

  const recordEnv: Record<string, string | null> = {};
  for (const key of Object.keys(wanted)) recordEnv[key] = before.environment[key] ?? null;
  const record: EnableRecord = existingRecord
    ? // Re-enabling keeps the state from before the first enable, so disable still goes back to it.
      {
        v: 1,
        env: { ...recordEnv, ...existingRecord.env },
        layer: request.layerArn,
        replaced: existingRecord.replaced,
      }
    : {
        v: 1,
        env: recordEnv,
        layer: request.layerArn,
        replaced: appDefenderLayers.filter((arn) => arn !== request.layerArn),
      };
  if (!existingRecord && appDefenderLayers.includes(request.layerArn)) {
    // The layer was there already (set up by hand or IaC): disable must leave it as found.
    record.replaced = appDefenderLayers;
  }

  const environment = { ...before.environment, ...wanted, [ENABLED_BY_VAR]: JSON.stringify(record) };
  assertEnvironmentFits(functionName, environment);
  const after = { layers, environment };
  return { functionName, before, after, changed: !sameSettings(before, after) };
}

export interface DisableOptions {
  /** Remove AppDefender from a function that `enable` did not set up (no record). */
  force?: boolean;
}

/** Computes the configuration that reverses `enable`, from the record it left. */
export function planDisable(fn: FunctionConfiguration, options: DisableOptions = {}): ConfigurationPlan {
  const functionName = fn.FunctionName ?? '(unknown)';
  const before = currentSettings(fn);
  const record = parseEnableRecord(before.environment[ENABLED_BY_VAR]);
  const environment = { ...before.environment };
  const ourIndex = before.layers.findIndex((arn) => arn === record?.layer || isAppDefenderLayer(arn));
  const layers = before.layers.filter((arn) => arn !== record?.layer && !isAppDefenderLayer(arn));

  if (record) {
    layers.splice(ourIndex === -1 ? layers.length : Math.min(ourIndex, layers.length), 0, ...record.replaced);
    for (const [key, previous] of Object.entries(record.env)) {
      if (previous === null) delete environment[key];
      else environment[key] = previous;
    }
    delete environment[ENABLED_BY_VAR];
  } else {
    const hasTraces = ourIndex !== -1 || environment[EXEC_WRAPPER_VAR] === WRAPPER_PATH;
    if (hasTraces && !options.force) {
      throw new CliError(
        'NOT_ENABLED_BY_CLI',
        ExitCode.failure,
        `${functionName} has AppDefender, but not from \`appdefender lambda enable\` (no ${ENABLED_BY_VAR} record), so there is no record of what to restore`,
        {
          hint: 'Remove it where it was configured (IaC), or pass --force to remove the AppDefender layers and ES_* variables',
        },
      );
    }
    if (hasTraces) {
      const chained = environment[CHAINED_WRAPPER_VAR];
      if (chained) environment[EXEC_WRAPPER_VAR] = chained;
      else if (environment[EXEC_WRAPPER_VAR] === WRAPPER_PATH) delete environment[EXEC_WRAPPER_VAR];
      for (const key of [CHAINED_WRAPPER_VAR, LICENSE_KEY_VAR, POLICY_GROUP_VAR, API_URL_VAR])
        delete environment[key];
    }
  }
  const after = { layers, environment };
  return { functionName, before, after, changed: !sameSettings(before, after) };
}

function assertEnvironmentFits(functionName: string, environment: Record<string, string>): void {
  const bytes = environmentBytes(environment);
  if (bytes > MAX_ENVIRONMENT_BYTES) {
    throw new CliError(
      'ENVIRONMENT_TOO_LARGE',
      ExitCode.failure,
      `${functionName}'s environment variables would take ${bytes} bytes with AppDefender's; Lambda allows ${MAX_ENVIRONMENT_BYTES}`,
      { hint: 'Move large values to SSM Parameter Store or Secrets Manager, then run enable again' },
    );
  }
}

/** Whether a function currently runs with AppDefender: our layer and our wrapper. */
export function appDefenderStatus(fn: FunctionConfiguration): {
  enabled: boolean;
  layer: string | undefined;
  policyGroup: string | undefined;
  managedByCli: boolean;
} {
  const settings = currentSettings(fn);
  const layer = settings.layers.find(isAppDefenderLayer);
  return {
    enabled: layer !== undefined && settings.environment[EXEC_WRAPPER_VAR] === WRAPPER_PATH,
    layer,
    policyGroup: settings.environment[POLICY_GROUP_VAR],
    managedByCli: settings.environment[ENABLED_BY_VAR] !== undefined,
  };
}
