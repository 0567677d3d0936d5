// Bundles the agent into one self-contained CommonJS file, dist/agent.cjs, the file the layer ships
// and `node --require` loads. The policy engine is bundled from its TypeScript sources, so the agent
// builds without a prior `tsc -b` of packages/policy.
//   node build.mjs            build dist/agent.cjs
//   import { buildAgent }     used by the tests to rebuild a stale bundle
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForFunction } from '../../scripts/bundle-for-function.mjs';

const packageDir = dirname(fileURLToPath(import.meta.url));
export const agentBundlePath = join(packageDir, 'dist', 'agent.cjs');
export const sourceDirs = [join(packageDir, 'src'), join(packageDir, '..', 'policy', 'src')];

export function buildAgent({ outfile = agentBundlePath } = {}) {
  return bundleForFunction({
    packageDir,
    entry: join('src', 'index.ts'),
    outfile,
    versionDefine: '__AGENT_VERSION__',
    // trusted Map/Set/WeakMap/WeakSet/Reflect/JSON for every module of the bundle, policy engine
    // included, captured before the app runs (see src/trusted-globals.ts)
    inject: [join(packageDir, 'src', 'trusted-globals.ts')],
    // a third less to compile at every cold start (~0.5 ms); the agent's own frames never reach
    // the app's errors by name (wrappers carry the originals' names) and attribution skips them
    minifyIdentifiers: true,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await buildAgent();
  console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(1)} KiB)`);
}
