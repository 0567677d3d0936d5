/** What `lambda enable` writes into a function, and what `doctor` and `list` look for. */

/** The exec wrapper inside the layer (contract §4). */
export const WRAPPER_PATH = '/opt/appdefender_wrapper';
/** Holds a wrapper the function had before AppDefender; our wrapper execs it next (see docs/cli.md). */
export const CHAINED_WRAPPER_VAR = 'ES_CHAINED_WRAPPER';
/** Records what `enable` changed, so `disable` can put back exactly that. */
export const ENABLED_BY_VAR = 'ES_ENABLED_BY';

export const EXEC_WRAPPER_VAR = 'AWS_LAMBDA_EXEC_WRAPPER';
export const LICENSE_KEY_VAR = 'ES_LICENSE_KEY';
export const POLICY_GROUP_VAR = 'ES_POLICY_GROUP_NAME';
export const API_URL_VAR = 'ES_API_URL';

export const OBSERVE_ALL_GROUP = 'observeAll.ability';

/** Lambda allows at most five layers per function. */
export const MAX_LAYERS = 5;
/** Lambda's limit on all environment variables together, measured on their JSON form. */
export const MAX_ENVIRONMENT_BYTES = 4096;

/** Node.js runtimes on Amazon Linux 2 / 2023 that the agent supports (Node 20 and later). */
export const SUPPORTED_RUNTIMES = ['nodejs20.x', 'nodejs22.x', 'nodejs24.x'] as const;

export type Architecture = 'x86_64' | 'arm64';
export const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/** Layer names used by `layer publish` and looked up by `lambda enable` when no ARN is given. */
export const DEFAULT_LAYER_NAMES: Record<Architecture, string> = {
  // The names of docs/lambda.md and @appdefender/layer's layerArn().
  x86_64: 'Extrinsec-Appdefender',
  arm64: 'Extrinsec-Appdefender-arm64',
};
