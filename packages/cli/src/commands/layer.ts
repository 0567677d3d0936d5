import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { ARCHITECTURES, DEFAULT_LAYER_NAMES } from '../aws/constants.js';
import { type LayerZip, publishLayer } from '../aws/publish-layer.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { CliError, ExitCode, NotFoundError, UsageError } from '../errors.js';
import { layerDistDir, layerPackageDir } from '../local/paths.js';
import { CLI_VERSION } from '../version.js';

export function registerLayerCommand(program: Command, deps: CliDeps): void {
  const layer = program
    .command('layer')
    .description('build and publish the AppDefender Lambda layer')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender layer build
  $ appdefender layer publish --regions us-east-1,eu-west-1 --public`,
    );

  layer
    .command('build')
    .description('build the layer tree (packages/layer/dist/layer/) and the per-architecture zips')
    .option('--out <dir>', 'build into this directory instead of packages/layer/dist/')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender layer build
  $ appdefender layer build --out /tmp/layer && appdefender layer publish --regions us-east-1 --zip-dir /tmp/layer`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await buildLayer(ctx);
    });

  layer
    .command('publish')
    .description('publish the layer for both architectures to each region and print the ARNs')
    .requiredOption('--regions <list>', 'comma-separated regions, e.g. us-east-1,eu-west-1')
    .option('--public', 'let every AWS account use the published versions')
    .option('--zip-dir <dir>', 'where the zips are (default: packages/layer/dist/)')
    .option('--profile <name>', 'AWS profile (env AWS_PROFILE)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender layer publish --regions us-east-1
  $ appdefender layer publish --regions us-east-1,eu-west-1,ap-southeast-2 --public --json

Layers are named ${DEFAULT_LAYER_NAMES.x86_64} (x86_64) and ${DEFAULT_LAYER_NAMES.arm64} (arm64); \`lambda enable\`
picks the newest version of these in the function's region when no --layer-arn is given.`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await publishCommand(ctx);
    });
}

interface LayerBuildModule {
  buildLayer(options: { outDir?: string }): Promise<{
    layerDir: string;
    zips: { architecture: string; path: string; bytes: number }[];
  }>;
}

async function buildLayer(ctx: CommandContext): Promise<void> {
  const script = join(layerPackageDir, 'build.mjs');
  if (!existsSync(script)) {
    throw new NotFoundError(`The layer build script is not at ${script}`, {
      hint: '`layer build` runs from a checkout of the AppDefender repository',
    });
  }
  const outOption = ctx.options['out'] as string | undefined;
  const outDir = outOption ? resolve(ctx.deps.cwd, outOption) : layerDistDir;
  const progress = ctx.out.progress(`Building the layer into ${outDir}`);
  let built: Awaited<ReturnType<LayerBuildModule['buildLayer']>>;
  try {
    const { buildLayer: build } = (await import(pathToFileURL(script).href)) as LayerBuildModule;
    built = await build({ outDir });
  } catch (error) {
    progress.fail();
    throw new CliError(
      'BUILD_FAILED',
      ExitCode.failure,
      `The layer build failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  progress.succeed(`Built the layer tree ${built.layerDir}`);
  if (ctx.out.json) ctx.out.printJson(built);
  else
    for (const zip of built.zips)
      ctx.out.line(`${zip.architecture}: ${zip.path} (${(zip.bytes / 1024).toFixed(1)} KiB)`);
}

/** Finds one zip per architecture in a directory (file names contain x86_64 / arm64). */
export async function findLayerZips(dir: string): Promise<LayerZip[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new NotFoundError(`No layer zips: ${dir} does not exist`, {
      hint: 'Run `appdefender layer build` first',
    });
  }
  const zips: LayerZip[] = [];
  for (const architecture of ARCHITECTURES) {
    const name = names.find((file) => file.endsWith('.zip') && file.includes(architecture));
    if (!name) {
      throw new NotFoundError(`No ${architecture} layer zip in ${dir}`, {
        hint: 'Run `appdefender layer build` first',
      });
    }
    zips.push({ architecture, path: join(dir, name) });
  }
  return zips;
}

const regionPattern = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

async function publishCommand(ctx: CommandContext): Promise<void> {
  const regions = String(ctx.options['regions'])
    .split(',')
    .map((region) => region.trim())
    .filter(Boolean);
  const bad = regions.filter((region) => !regionPattern.test(region));
  if (regions.length === 0 || bad.length > 0) {
    throw new UsageError(
      `--regions must list AWS regions like us-east-1; not understood: ${bad.join(', ') || '(empty)'}`,
    );
  }
  const zips = await findLayerZips((ctx.options['zipDir'] as string | undefined) ?? layerDistDir);
  const isPublic = ctx.options['public'] === true;
  const { out } = ctx;
  const progress = new Map<string, ReturnType<typeof out.progress>>();
  const published = await publishLayer({
    regions,
    zips,
    public: isPublic,
    description: `AppDefender ${CLI_VERSION}: runtime protection for Node.js functions`,
    createClient: (region) => ctx.deps.createLambdaClient({ region, profile: ctx.config.profile?.value }),
    onProgress: ({ region, architecture, step }) => {
      const key = `${region} ${architecture}`;
      if (step === 'publishing') progress.set(key, out.progress(`${region}: publishing ${architecture}`));
      else if (step === 'sharing') progress.get(key)?.update(`${region}: making ${architecture} public`);
      else {
        progress.get(key)?.succeed(`${region}: ${architecture} published`);
        progress.delete(key);
      }
    },
  }).catch((error: unknown) => {
    for (const unfinished of progress.values()) unfinished.fail();
    throw error;
  });
  if (out.json) {
    out.printJson({ layers: published });
    return;
  }
  for (const layer of published) {
    out.line(
      `${layer.region}  ${layer.architecture.padEnd(6)}  ${layer.layerVersionArn}${layer.public ? '  (public)' : ''}`,
    );
  }
}
