// What ships into the function: the engine must bundle with no runtime dependency and no Node built-in
// (it also runs in the dashboard), code that only parses policies must not carry the validator's advice,
// and the bundle stays within a size budget, since every byte is parsed on a cold start.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const indexPath = fileURLToPath(new URL('./index.ts', import.meta.url));

// Same options as packages/agent/build.mjs.
async function bundle(exports: string): Promise<{ code: string; imports: string[] }> {
  const result = await build({
    stdin: {
      contents:
        exports === '*'
          ? `export * from ${JSON.stringify(indexPath)};`
          : `export { ${exports} } from ${JSON.stringify(indexPath)};`,
      resolveDir: '/',
      loader: 'ts',
    },
    bundle: true,
    write: false,
    platform: 'neutral',
    format: 'cjs',
    target: 'node20',
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
  });
  const imports = Object.values(result.metafile.inputs).flatMap((input) =>
    input.imports.map((entry) => entry.path),
  );
  return { code: result.outputFiles[0]!.text, imports };
}

const AGENT_IMPORTS =
  'IpNameTable, OBSERVE_ALL, createDecider, createEvent, describeTarget, detectCloudProvider, isUnderDirectory, normalizeAbsolutePath, normalizeHostname, parsePolicyGroup, toAbsolutePath, uuidv7';

describe('bundle', () => {
  it('imports nothing outside the package (no dependency, no Node built-in)', async () => {
    const { imports } = await bundle('*');
    expect(imports.filter((path) => !path.includes('packages/policy/src/'))).toEqual([]);
  });

  it('leaves the weak-entry advice out of code that only parses policies', async () => {
    const agent = await bundle(AGENT_IMPORTS);
    const validator = await bundle('validatePolicyGroup');
    const adviceText = 'countless unrelated host names';
    expect(validator.code).toContain(adviceText);
    expect(agent.code).not.toContain(adviceText);
  });

  it('stays within its size budget', async () => {
    const whole = await bundle('*');
    const agent = await bundle(AGENT_IMPORTS);
    expect(whole.code.length).toBeLessThan(46 * 1024);
    expect(agent.code.length).toBeLessThan(35 * 1024);
  });
});
