// Bundles the extension into one self-contained CommonJS file, dist/extension.cjs, which the layer
// ships as appdefender/extension.cjs. The policy engine is bundled from its TypeScript sources, so
// this builds without a prior `tsc -b` of packages/policy.
//   node build.mjs               build dist/extension.cjs
//   import { buildExtension }    used by the layer build and the tests
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForFunction } from '../../scripts/bundle-for-function.mjs';

const packageDir = dirname(fileURLToPath(import.meta.url));
export const extensionBundlePath = join(packageDir, 'dist', 'extension.cjs');
export const launcherPath = join(packageDir, 'bin', 'appdefender');

export function buildExtension({ outfile = extensionBundlePath } = {}) {
  return bundleForFunction({
    packageDir,
    entry: join('src', 'main.ts'),
    outfile,
    versionDefine: '__EXTENSION_VERSION__',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await buildExtension();
  console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
}
