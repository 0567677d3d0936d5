// Bundles the extension into one self-contained CommonJS file, dist/extension.cjs, which the layer
// ships as appdefender/extension.cjs. The policy engine is bundled from its TypeScript sources, so
// this builds without a prior `tsc -b` of packages/policy.
//   node build.mjs               build dist/extension.cjs
//   import { buildExtension }    used by the layer build and the tests
import { readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const packageDir = dirname(fileURLToPath(import.meta.url));
export const extensionBundlePath = join(packageDir, 'dist', 'extension.cjs');
export const launcherPath = join(packageDir, 'bin', 'appdefender');

const policyEntry = join(packageDir, '..', 'policy', 'src', 'index.ts');
const resolvePolicyFromSource = {
  name: 'policy-from-source',
  setup(build) {
    build.onResolve({ filter: /^@appdefender\/policy$/ }, () => ({ path: policyEntry }));
  },
};

/** Builds to a temporary file and renames it into place, so concurrent builds are safe. */
export async function buildExtension({ outfile = extensionBundlePath } = {}) {
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const temporary = `${outfile}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(packageDir, 'src', 'main.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // small (it is read at every cold start) but without mangled names, so errors stay legible
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    define: { __EXTENSION_VERSION__: JSON.stringify(version) },
    plugins: [resolvePolicyFromSource],
    logLevel: 'warning',
  });
  renameSync(temporary, outfile);
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await buildExtension();
  console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
}
