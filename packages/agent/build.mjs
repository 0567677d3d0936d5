// Bundles the agent into one self-contained CommonJS file, dist/agent.cjs, the file the layer ships
// and `node --require` loads. The policy engine is bundled from its TypeScript sources, so the agent
// builds without a prior `tsc -b` of packages/policy.
//   node build.mjs            build dist/agent.cjs
//   import { buildAgent }     used by the tests to rebuild a stale bundle
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
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
  const built = await esbuild.build({
    entryPoints: [join(packageDir, 'src', 'index.ts')],
    outfile: temporary,
    write: false,
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
  const source = wrapAsFunction(built.outputFiles[0].text);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 32);
  mkdirSync(dirname(outfile), { recursive: true });
  // the code cache first: a cache next to an agent.cjs of another build has another key and is ignored
  writeCodeCache(source, key, join(realpathSync(dirname(outfile)), basename(outfile)));
  writeFileSync(temporary, loaderFor(source, key));
  renameSync(temporary, outfile);
  return outfile;
}

/**
 * Cold start (issue 3: < 5 ms). Compiling the 115 KB bundle, and compiling each of its functions
 * the first time the hooks' installation calls it, is a third of the agent's start-up CPU. V8 can
 * skip both with a code cache, which Node 20's CommonJS loader does not use. So agent.cjs is a
 * small loader carrying the bundle: it compiles it with `vm.Script` and the code cache
 * `agent.cjs.cache` made here, at build time, next to it (as trusted as agent.cjs itself; a cache
 * written at run time under /tmp could be planted by the app, and V8 checks only the source's
 * length). The cache starts with a key, the bundle's hash, and the path it was made for (V8 keeps
 * the file name the cache was made with for the stack traces, and the agent tells its own frames by
 * that name): a stale or foreign cache, or one next to a copy of agent.cjs elsewhere, is ignored, one
 * V8 rejects (another Node version, other V8 flags) costs only the compile it would have cost, and
 * without the file the agent works the same. V8 refuses a cache made with other flags, and the
 * Lambda runtime starts node with its own (--expose-gc, --max-old-space-size...), so in Lambda the
 * cache does not help and the layer does not ship it; local runs, containers and the CLI gain.
 */
function wrapAsFunction(bundle) {
  // the parameters of Node's CommonJS wrapper: the bundle sees the loader's own module, require
  // and file name (stack traces and attribution name agent.cjs, as before)
  return `(function (exports, require, module, __filename, __dirname) {${bundle}\n})`;
}

/**
 * The bundle rides in agent.cjs as a block comment after the loader: Node's compile of agent.cjs
 * skips a comment far faster than it would scan a 115 KB string literal (about a millisecond when
 * the code cache is not used), and the loader takes the bundle as a slice of its own file's text.
 */
const BUNDLE_MARK = '\n/*# appdefender-bundle\n';
function loaderFor(source, key) {
  // the loader reads its file as latin1 (esbuild writes ASCII), and the comment must not end early
  if (source.includes('*/') || Buffer.byteLength(source) !== source.length) {
    throw new Error(
      'the agent bundle holds "*/" or a non-ASCII character: it cannot ride in a block comment',
    );
  }
  return `'use strict';
// AppDefender agent. The bundle is the comment after the mark below: this loader compiles it with
// its V8 code cache (agent.cjs.cache, made by packages/agent/build.mjs, which says why) when that
// cache matches it.
(() => {
  const fs = require('node:fs');
  const key = '${key}';
  const text = fs.readFileSync(__filename, 'latin1');
  const mark = '\\n/*' + '# appdefender-bundle\\n';
  const source = text.slice(text.indexOf(mark) + mark.length, text.length - 2);
  let cachedData;
  try {
    const data = fs.readFileSync(__filename + '.cache');
    const header = key + __filename + '\\0';
    const size = Buffer.byteLength(header);
    if (data.length > size && data.toString('utf8', 0, size) === header) cachedData = data.subarray(size);
  } catch {}
  const { Script } = require('node:vm');
  new Script(source, { filename: __filename, cachedData }).runInThisContext()(exports, require, module, __filename, __dirname);
})();${BUNDLE_MARK}${source}*/`;
}

/**
 * Runs the bundle once in a child node (so the functions that load calls are compiled, the way a
 * real start does) with every category observed, and writes `key`, the path of agent.cjs (the name
 * V8 records in the cache) and V8's code cache to `<agentFile>.cache`.
 * The child has no ES_RUNTIME_DIR and nothing to observe, so it writes nothing but its answer.
 */
function writeCodeCache(source, key, agentFile) {
  const cachePath = `${agentFile}.cache`;
  const work = mkdtempSync(join(tmpdir(), 'agent-build-'));
  try {
    const sourceFile = join(work, 'bundle.js');
    const policyFile = join(work, 'policy.json');
    writeFileSync(sourceFile, source);
    writeFileSync(
      policyFile,
      JSON.stringify({
        name: 'build-code-cache',
        network: 'observe',
        filesystem: 'observe',
        process: 'observe',
      }),
    );
    const produce = `
const { Script } = require('node:vm');
const source = require('node:fs').readFileSync(process.argv[1], 'utf8');
const script = new Script(source, { filename: process.argv[2] });
script.runInThisContext()({}, require, { exports: {} }, process.argv[2], require('node:path').dirname(process.argv[2]));
process.stdout.write('CODE-CACHE:' + script.createCachedData().toString('base64') + '\\n');
`;
    const result = spawnSync(process.execPath, ['-e', produce, sourceFile, agentFile], {
      env: { PATH: process.env.PATH, ES_POLICY_FILE: policyFile },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const line = result.stdout?.split('\n').find((text) => text.startsWith('CODE-CACHE:'));
    if (result.status !== 0 || !line) {
      throw new Error(`making the agent's code cache failed (${result.status}): ${result.stderr}`);
    }
    const temporary = `${cachePath}.${process.pid}.tmp`;
    writeFileSync(
      temporary,
      Buffer.concat([Buffer.from(`${key}${agentFile}\0`), Buffer.from(line.slice(11), 'base64')]),
    );
    renameSync(temporary, cachePath);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await buildAgent();
  const { size } = await import('node:fs').then((fs) => fs.statSync(outfile));
  console.log(`built ${outfile} (${(size / 1024).toFixed(1)} KiB)`);
}
