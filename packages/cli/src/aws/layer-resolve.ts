import {
  GetLayerVersionByArnCommand,
  type LambdaClient,
  ListLayerVersionsCommand,
} from '@aws-sdk/client-lambda';
import { CliError, ExitCode, errorName, NotFoundError } from '../errors.js';
import { requireLayerArn } from './arn.js';
import { type Architecture, DEFAULT_LAYER_NAMES } from './constants.js';
import { toCliError } from './lambda-client.js';

export interface ResolveLayerOptions {
  architecture: Architecture;
  region: string;
  /** An explicit layer version ARN (`--layer-arn`). */
  layerArn?: string | undefined;
  /** The layer name to look up in the account when no ARN is given. */
  layerName?: string | undefined;
  warn: (text: string) => void;
}

/**
 * Picks the layer version for a function's architecture: the explicit ARN after checking it fits,
 * else the newest version of our layer published in the function's account and region.
 */
export async function resolveLayerArn(client: LambdaClient, options: ResolveLayerOptions): Promise<string> {
  if (options.layerArn) {
    const parsed = requireLayerArn(options.layerArn);
    if (parsed.region !== options.region) {
      throw new CliError(
        'LAYER_REGION_MISMATCH',
        ExitCode.failure,
        `The layer ${options.layerArn} is in ${parsed.region} but the function is in ${options.region}; Lambda only attaches layers from the same region`,
      );
    }
    await assertLayerArchitecture(client, options.layerArn, options.architecture, options.warn);
    return options.layerArn;
  }
  const layerName = options.layerName ?? DEFAULT_LAYER_NAMES[options.architecture];
  let newest: string | undefined;
  try {
    const response = await client.send(
      new ListLayerVersionsCommand({ LayerName: layerName, CompatibleArchitecture: options.architecture }),
    );
    newest = response.LayerVersions?.[0]?.LayerVersionArn;
  } catch (error) {
    if (errorName(error) !== 'ResourceNotFoundException') throw toCliError(error, `Layer ${layerName}`);
  }
  if (!newest) {
    throw new NotFoundError(
      `No ${options.architecture} AppDefender layer named "${layerName}" in ${options.region}`,
      {
        hint: `Publish it with \`appdefender layer publish --regions ${options.region}\`, or pass --layer-arn`,
      },
    );
  }
  return newest;
}

async function assertLayerArchitecture(
  client: LambdaClient,
  layerArn: string,
  architecture: Architecture,
  warn: (text: string) => void,
): Promise<void> {
  let compatible: string[] | undefined;
  try {
    const layer = await client.send(new GetLayerVersionByArnCommand({ Arn: layerArn }));
    compatible = layer.CompatibleArchitectures;
  } catch (error) {
    const name = errorName(error);
    if (name === 'AccessDeniedException') {
      // Another account's layer may be attachable without being readable; Lambda checks on update.
      warn(`cannot read ${layerArn} to check its architecture (${name}); continuing`);
      return;
    }
    throw toCliError(error, `Layer ${layerArn}`);
  }
  if (compatible && compatible.length > 0 && !compatible.includes(architecture)) {
    throw new CliError(
      'LAYER_ARCHITECTURE_MISMATCH',
      ExitCode.failure,
      `The layer ${layerArn} is built for ${compatible.join(', ')} but the function runs on ${architecture}`,
      { hint: `Use the ${architecture} layer (${DEFAULT_LAYER_NAMES[architecture]})` },
    );
  }
}
