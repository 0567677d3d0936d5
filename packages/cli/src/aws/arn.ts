import { UsageError } from '../errors.js';

export interface LayerArn {
  arn: string;
  partition: string;
  region: string;
  accountId: string;
  layerName: string;
  version: number;
}

const layerArnPattern = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):layer:([A-Za-z0-9_-]+):(\d+)$/;

/** Parses a layer *version* ARN; returns undefined for anything else. */
export function parseLayerArn(arn: string): LayerArn | undefined {
  const match = layerArnPattern.exec(arn);
  if (!match) return undefined;
  const [, partition, region, accountId, layerName, version] = match;
  return {
    arn,
    partition: partition!,
    region: region!,
    accountId: accountId!,
    layerName: layerName!,
    version: Number(version),
  };
}

export function requireLayerArn(arn: string): LayerArn {
  const parsed = parseLayerArn(arn);
  if (!parsed) {
    throw new UsageError(
      `"${arn}" is not a layer version ARN (expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)`,
    );
  }
  return parsed;
}

/** Any layer whose name mentions AppDefender is ours (ours, or a vendor build of it). */
export function isAppDefenderLayer(arn: string): boolean {
  const parsed = parseLayerArn(arn);
  return parsed?.layerName.toLowerCase().includes('appdefender') === true;
}

const functionArnPattern = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):\d{12}:function:[^:]+(:[^:]+)?$/;

/** The region of a function ARN, so `--function ARN` works without `--region`. */
export function regionOfFunctionArn(nameOrArn: string): string | undefined {
  return functionArnPattern.exec(nameOrArn)?.[1];
}

/**
 * Configuration changes only apply to the unpublished version ($LATEST); a qualifier (`:alias`,
 * `:3`) would read one version and fail on update, so it is refused up front.
 */
export function assertUnqualifiedFunction(nameOrArn: string): void {
  const qualified = nameOrArn.startsWith('arn:')
    ? /:function:[^:]+:[^:]+$/.test(nameOrArn)
    : nameOrArn.includes(':');
  if (qualified) {
    throw new UsageError(
      `"${nameOrArn}" names a version or alias; enable and disable change the function's configuration ($LATEST)`,
      { hint: 'Pass the function name or unqualified ARN, then publish a new version if you use versions' },
    );
  }
}
