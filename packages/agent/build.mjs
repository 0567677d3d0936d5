// Bundles the agent into one self-contained CommonJS file, dist/agent.cjs, the file the layer ships
// and `node --require` loads. The policy engine is bundled from its TypeScript sources, so the agent
// builds without a prior `tsc -b` of packages/policy.
//   node build.mjs            build dist/agent.cjs
//   import { buildAgent }     used by the tests to rebuild a stale bundle
import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const packageDir = dirname(fileURLToPath(import.meta.url));
export const agentBundlePath = join(packageDir, 'dist', 'agent.cjs');
export const sourceDirs = [join(packageDir, 'src'), join(packageDir, '..', 'policy', 'src')];

const policyEntry = join(packageDir, '..', 'policy', 'src', 'index.ts');
const resolvePolicyFromSource = {
  name: 'policy-from-source',
  setup(build) {
    build.onResolve({ filter: /^@appdefender\/policy$/ }, () => ({ path: policyEntry }));
  },
};

/** Builds the bundle to a temporary file and renames it into place, so concurrent builds are safe. */
export async function buildAgent({ outfile = agentBundlePath } = {}) {
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const temporary = `${outfile}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(packageDir, 'src', 'index.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // small but readable: no identifier mangling, so stack traces and bug reports stay legible
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: false,
    legalComments: 'none',
    define: { __AGENT_VERSION__: JSON.stringify(version) },
    // trusted Map/Set/WeakMap/WeakSet/Reflect/JSON for every module of the bundle, policy engine
    // included, captured before the app runs (see src/trusted-globals.ts)
    inject: [join(packageDir, 'src', 'trusted-globals.ts')],
    plugins: [resolvePolicyFromSource],
    logLevel: 'warning',
  });
  renameSync(temporary, outfile);
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await buildAgent();
  const { size } = await import('node:fs').then((fs) => fs.statSync(outfile));
  console.log(`built ${outfile} (${(size / 1024).toFixed(1)} KiB)`);
}
