import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLambda } from '../src/index.js';
import { CJS_ECHO_HANDLER, ESM_HANDLER, makeTempDir, writeFile } from './fixtures.js';

describe('AWS_LAMBDA_EXEC_WRAPPER in the local Lambda', () => {
  const temp = makeTempDir('wrapper');
  afterAll(() => temp.cleanup());

  /** A wrapper that records its arguments, sets a variable and preloads a module, then execs "$@". */
  function writeWrapper(layerDir: string, argsFile: string): string {
    writeFile(join(layerDir, 'preload.cjs'), `globalThis.__preloaded = (globalThis.__preloaded || 0) + 1;\n`);
    return writeFile(
      join(layerDir, 'wrapper'),
      `#!/bin/bash
printf '%s\\n' "$@" > ${JSON.stringify(argsFile)}
echo "wrapper saw AWS_EXECUTION_ENV=$AWS_EXECUTION_ENV"
export FROM_WRAPPER=yes
export NODE_OPTIONS="--require ${join(layerDir, 'preload.cjs')}\${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec "$@"
`,
      true,
    );
  }

  it('runs the wrapper with the runtime command as its arguments; its environment reaches the handler', async () => {
    // Prepare
    const layerDir = join(temp.dir, 'cjs', 'opt');
    const argsFile = join(temp.dir, 'cjs', 'args.txt');
    const taskRoot = join(temp.dir, 'cjs', 'task');
    writeFile(
      join(taskRoot, 'index.js'),
      CJS_ECHO_HANDLER.replace('traceId:', 'preloaded: globalThis.__preloaded, traceId:'),
    );
    const wrapper = writeWrapper(layerDir, argsFile);

    // Act
    const lambda = await startLambda({
      handler: 'index.handler',
      taskRoot,
      layerDir,
      env: { AWS_LAMBDA_EXEC_WRAPPER: wrapper, NODE_OPTIONS: '--no-deprecation' },
    });
    const invocation = await lambda.invoke({});
    await lambda.shutdown();

    // Assess
    const runtimeDir = (invocation.result as { env: Record<string, string> }).env.LAMBDA_RUNTIME_DIR;
    expect(readFileSync(argsFile, 'utf8').trimEnd().split('\n')).toEqual([
      process.execPath,
      '--expose-gc',
      '--max-http-header-size',
      '81920',
      '--max-semi-space-size=6',
      '--max-old-space-size=116',
      join(runtimeDir ?? '', 'index.mjs'),
    ]);
    expect(lambda.logs).toContain('wrapper saw AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x');
    expect(invocation).toMatchObject({ ok: true, result: { preloaded: 1, env: { FROM_WRAPPER: 'yes' } } });
    const env = (invocation.result as { env: Record<string, string> }).env;
    expect(env.NODE_OPTIONS).toBe(`--require ${join(layerDir, 'preload.cjs')} --no-deprecation`);
    // The bootstrap's NODE_PATH puts the layer's node_modules first.
    expect(env.NODE_PATH?.split(':').slice(0, 2)).toEqual([
      join(layerDir, 'nodejs/node20/node_modules'),
      join(layerDir, 'nodejs/node_modules'),
    ]);
  });

  it('preloads into an ES module handler the same way', async () => {
    const layerDir = join(temp.dir, 'esm', 'opt');
    const taskRoot = join(temp.dir, 'esm', 'task');
    writeFile(
      join(taskRoot, 'index.mjs'),
      ESM_HANDLER.replace('esm: true,', 'esm: true, preloaded: globalThis.__preloaded,'),
    );
    const wrapper = writeWrapper(layerDir, join(temp.dir, 'esm', 'args.txt'));

    const lambda = await startLambda({
      handler: 'index.handler',
      taskRoot,
      layerDir,
      env: { AWS_LAMBDA_EXEC_WRAPPER: wrapper },
    });
    try {
      expect(await lambda.invoke({})).toMatchObject({ ok: true, result: { esm: true, preloaded: 1 } });
    } finally {
      await lambda.shutdown();
    }
  });

  it('fails Init with exit status 127 when the wrapper does not exist, as the bootstrap does', async () => {
    const taskRoot = join(temp.dir, 'missing', 'task');
    writeFile(join(taskRoot, 'index.js'), CJS_ECHO_HANDLER);
    const missing = join(temp.dir, 'missing', 'opt', 'nothing-here');

    const started = startLambda({
      handler: 'index.handler',
      taskRoot,
      env: { AWS_LAMBDA_EXEC_WRAPPER: missing },
    });

    await expect(started).rejects.toMatchObject({
      errorType: 'Runtime.ExitError',
      source: 'runtime',
      message: expect.stringContaining('exit status 127'),
      logs: expect.arrayContaining([`${missing}: does not exist`]),
    });
  });

  it('fails Init with exit status 126 when the wrapper is not executable', async () => {
    const taskRoot = join(temp.dir, 'noexec', 'task');
    writeFile(join(taskRoot, 'index.js'), CJS_ECHO_HANDLER);
    const wrapper = writeFile(join(temp.dir, 'noexec', 'opt', 'wrapper'), '#!/bin/bash\nexec "$@"\n', false);

    await expect(
      startLambda({ handler: 'index.handler', taskRoot, env: { AWS_LAMBDA_EXEC_WRAPPER: wrapper } }),
    ).rejects.toMatchObject({
      errorType: 'Runtime.ExitError',
      message: expect.stringContaining('exit status 126'),
      logs: expect.arrayContaining([`${wrapper}: is not an executable`]),
    });
  });
});
