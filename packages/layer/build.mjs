// Builds the AWS Lambda layer: dist/layer/ is exactly what lands in /opt, and one zip per
// architecture beside it (the content is the same JavaScript and bash; Lambda wants a layer
// version per architecture). Fails when a zip exceeds the size budget.
//   node build.mjs               build dist/layer and the zips
//   import { buildLayer }        used by the tests (build into a temp dir) and the benchmark
import * as fs from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { buildExtension, launcherPath } from '../extension/build.mjs';

const packageDir = dirname(fileURLToPath(import.meta.url));
export const defaultOutDir = join(packageDir, 'dist');
export const agentBundlePath = join(packageDir, '..', 'agent', 'dist', 'agent.cjs');
export const wrapperPath = join(packageDir, 'bin', 'appdefender_wrapper');
export const ARCHITECTURES = ['x86_64', 'arm64'];
export const MAX_ZIP_BYTES = 2 * 1024 * 1024;
/** Fixed timestamp in the zips: the same inputs give byte-identical layers. */
const ZIP_MTIME = new Date('2026-01-01T00:00:00Z');

export function zipName(architecture) {
  return `appdefender-layer-${architecture}.zip`;
}

function copyExecutable(from, to) {
  fs.mkdirSync(dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o755);
}

function listFiles(dir) {
  const files = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else files.push(path);
  }
  return files.sort();
}

function writeZip(treeDir, zipPath) {
  const zip = new yazl.ZipFile();
  for (const file of listFiles(treeDir)) {
    const { mode } = fs.statSync(file);
    // unix mode bits are kept: Lambda runs appdefender_wrapper and extensions/* only if executable
    zip.addFile(file, relative(treeDir, file), { mtime: ZIP_MTIME, mode: 0o100000 | (mode & 0o777) });
  }
  zip.end();
  const temporary = `${zipPath}.${process.pid}.tmp`;
  return new Promise((resolve, reject) => {
    zip.outputStream
      .pipe(fs.createWriteStream(temporary))
      .on('close', () => {
        fs.renameSync(temporary, zipPath);
        resolve(fs.statSync(zipPath).size);
      })
      .on('error', reject);
  });
}

/**
 * Builds `<outDir>/layer/` and `<outDir>/appdefender-layer-<arch>.zip`.
 * @param {{ outDir?: string, agentBundle?: string, zips?: boolean }} options
 * @returns {Promise<{ layerDir: string, zips: Array<{ architecture: string, path: string, bytes: number }> }>}
 */
export async function buildLayer({
  outDir = defaultOutDir,
  agentBundle = agentBundlePath,
  zips = true,
} = {}) {
  if (!fs.existsSync(agentBundle)) {
    throw new Error(
      `the agent bundle ${agentBundle} does not exist: build it first (npm run build -w @appdefender/agent)`,
    );
  }
  const layerDir = join(outDir, 'layer');
  fs.rmSync(layerDir, { recursive: true, force: true });
  fs.mkdirSync(join(layerDir, 'appdefender'), { recursive: true, mode: 0o755 });

  copyExecutable(wrapperPath, join(layerDir, 'appdefender_wrapper'));
  copyExecutable(launcherPath, join(layerDir, 'extensions', 'appdefender'));
  fs.copyFileSync(agentBundle, join(layerDir, 'appdefender', 'agent.cjs'));
  await buildExtension({ outfile: join(layerDir, 'appdefender', 'extension.cjs') });
  const { version } = JSON.parse(fs.readFileSync(join(packageDir, 'package.json'), 'utf8'));
  fs.writeFileSync(join(layerDir, 'appdefender', 'VERSION'), `${version}\n`);
  for (const file of ['agent.cjs', 'extension.cjs', 'VERSION'])
    fs.chmodSync(join(layerDir, 'appdefender', file), 0o644);

  const built = [];
  if (zips) {
    for (const architecture of ARCHITECTURES) {
      const path = join(outDir, zipName(architecture));
      const bytes = await writeZip(layerDir, path);
      if (bytes > MAX_ZIP_BYTES) {
        throw new Error(`${path} is ${bytes} bytes, over the ${MAX_ZIP_BYTES}-byte layer budget`);
      }
      built.push({ architecture, path, bytes });
    }
  }
  return { layerDir, zips: built };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { layerDir, zips } = await buildLayer();
    const unpacked = listFiles(layerDir).reduce((sum, file) => sum + fs.statSync(file).size, 0);
    console.log(`layer tree ${layerDir}: ${(unpacked / 1024).toFixed(1)} KiB unpacked`);
    for (const zip of zips) {
      console.log(
        `layer ${zip.path}: ${(zip.bytes / 1024).toFixed(1)} KiB zipped (budget ${MAX_ZIP_BYTES / 1024} KiB)`,
      );
    }
  } catch (error) {
    console.error(`layer build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
