/**
 * @appdefender/layer: what the AWS Lambda layer contains. The tree is built by `build.mjs`
 * (`npm run build -w @appdefender/layer`); this module describes it for tests, tools and docs.
 */

/** One file of the layer, relative to its root (`/opt` in Lambda). */
export interface LayerFile {
  path: string;
  executable: boolean;
  what: string;
}

/** The layer tree, exactly (docs/architecture.md, "Layer tree"). */
export const LAYER_TREE: readonly LayerFile[] = [
  { path: 'appdefender_wrapper', executable: true, what: 'exec wrapper (AWS_LAMBDA_EXEC_WRAPPER)' },
  { path: 'extensions/appdefender', executable: true, what: 'extension launcher' },
  { path: 'appdefender/agent.cjs', executable: false, what: 'the agent, loaded with node --require' },
  { path: 'appdefender/extension.cjs', executable: false, what: 'the external extension' },
  { path: 'appdefender/VERSION', executable: false, what: 'layer version' },
];

/** Layer zips are published per instruction set architecture. */
export type LayerArchitecture = 'x86_64' | 'arm64';

/** The zip file name for an architecture, beside `dist/layer/`. */
export function layerZipName(architecture: LayerArchitecture): string {
  return `appdefender-layer-${architecture}.zip`;
}

/** The layer ARN users add (docs/lambda.md); arm64 layers carry the `-arm64` suffix. */
export function layerArn(options: {
  region: string;
  accountId: string;
  version: number;
  architecture: LayerArchitecture;
}): string {
  const name = options.architecture === 'arm64' ? 'Extrinsec-Appdefender-arm64' : 'Extrinsec-Appdefender';
  return `arn:aws:lambda:${options.region}:${options.accountId}:layer:${name}:${options.version}`;
}
