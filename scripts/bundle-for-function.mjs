// The one esbuild setup for code that runs inside the user's function (the agent and the extension):
// a single self-contained CommonJS file for Node 20+, with the policy engine bundled from its
// TypeScript sources (so no prior `tsc -b` of packages/policy is needed), written to a temporary
// file and renamed into place so concurrent builds are safe.
import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const policyEntry = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'packages',
  'policy',
  'src',
  'index.ts',
);
const resolvePolicyFromSource = {
  name: 'policy-from-source',
  setup(build) {
    build.onResolve({ filter: /^@appdefender\/policy$/ }, () => ({ path: policyEntry }));
  },
};

/**
 * Bundles `entry` of the package in `packageDir` to `outfile`. `versionDefine` names the global the
 * package's version is compiled into; `inject` lists modules esbuild injects into every module;
 * `minifyIdentifiers` also shortens local names (stack frames inside the bundle get short names).
 */
export async function bundleForFunction({
  packageDir,
  entry,
  outfile,
  versionDefine,
  inject = [],
  minifyIdentifiers = false,
}) {
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const temporary = `${outfile}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(packageDir, entry)],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // small: it is read and compiled at every cold start (V8 compiles about 40 KB/ms here)
    minifySyntax: true,
    minifyWhitespace: true,
    minifyIdentifiers,
    legalComments: 'none',
    define: { [versionDefine]: JSON.stringify(version) },
    inject,
    plugins: [resolvePolicyFromSource],
    logLevel: 'warning',
  });
  renameSync(temporary, outfile);
  return outfile;
}
