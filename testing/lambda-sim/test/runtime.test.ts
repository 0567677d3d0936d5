import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaSim, startLambda } from '../src/index.js';
import { CJS_ECHO_HANDLER, ESM_HANDLER, makeTempDir, writeFile } from './fixtures.js';

describe('the real aws-lambda-ric runtime in the local Lambda', () => {
  const temp = makeTempDir('runtime');
  afterAll(() => temp.cleanup());

  describe('a CommonJS handler', () => {
    let lambda: LambdaSim;
    beforeAll(async () => {
      const taskRoot = join(temp.dir, 'cjs');
      writeFile(join(taskRoot, 'index.js'), CJS_ECHO_HANDLER);
      lambda = await startLambda({
        handler: 'index.handler',
        taskRoot,
        functionName: 'orders',
        memoryMb: 256,
        region: 'eu-west-1',
        env: { MY_SETTING: 'on' },
      });
    });
    afterAll(() => lambda?.shutdown());

    it('answers several invocations in one warm environment', async () => {
      // Act
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await lambda.invoke({ order: i }));

      // Assess
      expect(lambda.initDurationMs).toBeGreaterThan(0);
      for (const [i, invocation] of results.entries()) {
        expect(invocation).toMatchObject({ ok: true, status: 'success' });
        const result = invocation.result as Record<string, unknown>;
        expect(result.event).toEqual({ order: i });
        expect(result.invocations).toBe(i + 1);
        expect(result.requestId).toBe(invocation.requestId);
        expect(invocation.durationMs).toBeGreaterThan(0);
        expect(invocation.postRuntimeDurationMs).toBeGreaterThanOrEqual(0);
      }
      expect(new Set(results.map((r) => r.requestId)).size).toBe(3);
      const lines = lambda.logs.join('\n');
      expect(lines).toContain(`START RequestId: ${results[0]?.requestId} Version: $LATEST`);
      expect(lines).toMatch(new RegExp(`\\tINFO\\tcjs handler ${results[2]?.requestId}`));
      expect(lines).toMatch(/REPORT RequestId: .*\tInit Duration: /);
      // Each invocation's own output comes before its END line, as in CloudWatch.
      for (const { requestId } of results) {
        const logged = lambda.logs.findIndex((line) => line.endsWith(`INFO\tcjs handler ${requestId}`));
        expect(logged).toBeGreaterThan(lambda.logs.indexOf(`START RequestId: ${requestId} Version: $LATEST`));
        expect(logged).toBeLessThan(lambda.logs.indexOf(`END RequestId: ${requestId}`));
      }
    });

    it('gives the handler the context and the variables Lambda sets', async () => {
      const invocation = await lambda.invoke(
        {},
        { clientContext: { client: { app: 'x' } }, cognitoIdentity: { cognitoIdentityId: 'id-1' } },
      );
      const result = invocation.result as {
        env: Record<string, string>;
        argv: string[];
        execArgv: string[];
        [key: string]: unknown;
      };

      expect(result.functionName).toBe('orders');
      expect(result.functionVersion).toBe('$LATEST');
      expect(result.invokedFunctionArn).toBe('arn:aws:lambda:eu-west-1:123456789012:function:orders');
      expect(Number(result.memoryLimitInMB)).toBe(256);
      expect(result.remainingMs).toBeGreaterThan(2000);
      expect(result.remainingMs).toBeLessThanOrEqual(3000);
      expect(result.clientContext).toEqual({ client: { app: 'x' } });
      expect(result.identity).toMatchObject({ cognitoIdentityId: 'id-1' });
      expect(result.traceId).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
      const env = result.env;
      expect(env).toMatchObject({
        AWS_LAMBDA_FUNCTION_NAME: 'orders',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
        AWS_REGION: 'eu-west-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
        AWS_LAMBDA_RUNTIME_API: lambda.runtimeApi,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        _HANDLER: 'index.handler',
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        MY_SETTING: 'on',
      });
      expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
      expect(env.LAMBDA_TASK_ROOT).toBe(join(temp.dir, 'cjs'));
      expect(env.NODE_PATH?.split(':').slice(-2)).toEqual([env.LAMBDA_RUNTIME_DIR, env.LAMBDA_TASK_ROOT]);
      expect(env.NODE_PATH?.split(':')[0]).toBe('/opt/nodejs/node20/node_modules');
      expect(env.PATH?.split(':')[0]).toBe(join(process.execPath, '..'));
      expect(env.LD_LIBRARY_PATH).toContain('/opt/lib');
      // The sim's own environment (vitest's) does not leak in.
      expect(env.VITEST).toBeUndefined();
      // The bootstrap's node command line: 256 MB -> new space 25, semi space 12, old space 231.
      expect(result.execArgv).toEqual([
        '--expose-gc',
        '--max-http-header-size',
        '81920',
        '--max-semi-space-size=12',
        '--max-old-space-size=231',
      ]);
      expect(result.argv[1]).toBe(join(env.LAMBDA_RUNTIME_DIR ?? '', 'index.mjs'));
    });
  });

  it('runs an ES module handler (.mjs) several times', async () => {
    const taskRoot = join(temp.dir, 'esm');
    writeFile(join(taskRoot, 'app.mjs'), ESM_HANDLER);
    const lambda = await startLambda({ handler: 'app.handler', taskRoot, runtime: 'nodejs22.x' });
    try {
      const first = await lambda.invoke({ n: 1 });
      const second = await lambda.invoke({ n: 2 });

      expect(first).toMatchObject({ ok: true, result: { esm: true, event: { n: 1 }, count: 1 } });
      expect(second).toMatchObject({ ok: true, result: { esm: true, event: { n: 2 }, count: 2 } });
      expect((first.result as { loadedAt: number }).loadedAt).toBe(
        (second.result as { loadedAt: number }).loadedAt,
      );
    } finally {
      await lambda.shutdown();
    }
  });

  it('runs a handler in a "type": "module" package under a subdirectory', async () => {
    const taskRoot = join(temp.dir, 'esm-pkg');
    writeFile(join(taskRoot, 'package.json'), '{"type":"module"}');
    writeFile(join(taskRoot, 'src/main.js'), ESM_HANDLER);
    const lambda = await startLambda({ handler: 'src/main.handler', taskRoot });
    try {
      expect(await lambda.invoke('text')).toMatchObject({ ok: true, result: { esm: true, event: 'text' } });
    } finally {
      await lambda.shutdown();
    }
  });

  it('returns the error of a handler that throws, and keeps the environment', async () => {
    const taskRoot = join(temp.dir, 'error');
    writeFile(
      join(taskRoot, 'index.js'),
      `class PaymentError extends Error { constructor(m) { super(m); this.name = 'PaymentError'; } }
       exports.handler = async (event) => { if (event.fail) throw new PaymentError('card declined'); return 'paid'; };`,
    );
    const lambda = await startLambda({ handler: 'index.handler', taskRoot });
    try {
      const failed = await lambda.invoke({ fail: true });
      const passed = await lambda.invoke({ fail: false });

      expect(failed).toMatchObject({
        ok: false,
        status: 'error',
        error: { errorType: 'PaymentError', errorMessage: 'card declined' },
      });
      expect(failed.error?.trace?.[0]).toContain('PaymentError: card declined');
      expect(failed.reset).toBeUndefined();
      expect(passed).toMatchObject({ ok: true, result: 'paid' });
    } finally {
      await lambda.shutdown();
    }
  });

  it('times out a slow handler, then starts a new environment for the next invocation', async () => {
    const taskRoot = join(temp.dir, 'slow');
    writeFile(
      join(taskRoot, 'index.js'),
      `exports.handler = async (event) => { await new Promise((r) => setTimeout(r, event.sleepMs)); return 'woke'; };`,
    );
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, timeoutMs: 300 });
    try {
      const timedOut = await lambda.invoke({ sleepMs: 5000 });
      const next = await lambda.invoke({ sleepMs: 0 });

      expect(timedOut).toMatchObject({
        ok: false,
        status: 'timeout',
        reset: 'timeout',
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: expect.stringContaining('Task timed out after 0.30 seconds'),
        },
      });
      expect(next).toMatchObject({ ok: true, status: 'success', result: 'woke' });
      expect(next.initDurationMs).toBeGreaterThan(0);
    } finally {
      await lambda.shutdown();
    }
  });

  it('reports a runtime that exits during an invocation as Runtime.ExitError', async () => {
    const taskRoot = join(temp.dir, 'exit');
    writeFile(join(taskRoot, 'index.js'), `exports.handler = async () => { process.exit(3); };`);
    const lambda = await startLambda({ handler: 'index.handler', taskRoot });
    try {
      const crashed = await lambda.invoke({});

      expect(crashed).toMatchObject({
        ok: false,
        status: 'failure',
        reset: 'failure',
        error: { errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('exit status 3') },
      });
    } finally {
      await lambda.shutdown();
    }
  });
});
