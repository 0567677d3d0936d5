import { readFile } from 'node:fs/promises';
import {
  AddLayerVersionPermissionCommand,
  type LambdaClient,
  PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { type Architecture, DEFAULT_LAYER_NAMES, SUPPORTED_RUNTIMES } from './constants.js';
import { toCliError } from './lambda-client.js';

export interface LayerZip {
  architecture: Architecture;
  path: string;
}

export interface PublishedLayer {
  region: string;
  architecture: Architecture;
  layerName: string;
  layerVersionArn: string;
  version: number;
  public: boolean;
}

export interface PublishOptions {
  regions: string[];
  zips: LayerZip[];
  public: boolean;
  description: string;
  createClient: (region: string) => LambdaClient;
  layerNames?: Partial<Record<Architecture, string>>;
  onProgress?: (event: {
    region: string;
    architecture: Architecture;
    step: 'publishing' | 'sharing' | 'done';
  }) => void;
}

/** Publishes every zip to every region (one layer per architecture), optionally readable by everyone. */
export async function publishLayer(options: PublishOptions): Promise<PublishedLayer[]> {
  const contents = await Promise.all(
    options.zips.map(async (zip) => ({ ...zip, bytes: await readFile(zip.path) })),
  );
  const published: PublishedLayer[] = [];
  for (const region of options.regions) {
    const client = options.createClient(region);
    for (const zip of contents) {
      const layerName = options.layerNames?.[zip.architecture] ?? DEFAULT_LAYER_NAMES[zip.architecture];
      options.onProgress?.({ region, architecture: zip.architecture, step: 'publishing' });
      let arn: string | undefined;
      let version: number | undefined;
      try {
        const response = await client.send(
          new PublishLayerVersionCommand({
            LayerName: layerName,
            Description: options.description,
            Content: { ZipFile: zip.bytes },
            CompatibleArchitectures: [zip.architecture],
            CompatibleRuntimes: [...SUPPORTED_RUNTIMES],
            LicenseInfo: 'Apache-2.0',
          }),
        );
        arn = response.LayerVersionArn;
        version = response.Version;
      } catch (error) {
        throw toCliError(error, `Publishing ${layerName} (${zip.architecture}) to ${region}`);
      }
      if (!arn || version === undefined) {
        throw toCliError(
          new Error('the response has no LayerVersionArn'),
          `Publishing ${layerName} to ${region}`,
        );
      }
      if (options.public) {
        options.onProgress?.({ region, architecture: zip.architecture, step: 'sharing' });
        try {
          await client.send(
            new AddLayerVersionPermissionCommand({
              LayerName: layerName,
              VersionNumber: version,
              StatementId: 'appdefender-public',
              Action: 'lambda:GetLayerVersion',
              Principal: '*',
            }),
          );
        } catch (error) {
          throw toCliError(error, `Making ${arn} public`);
        }
      }
      options.onProgress?.({ region, architecture: zip.architecture, step: 'done' });
      published.push({
        region,
        architecture: zip.architecture,
        layerName,
        layerVersionArn: arn,
        version,
        public: options.public,
      });
    }
  }
  return published;
}
