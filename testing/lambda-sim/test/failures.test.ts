import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LambdaInitError, startLambda } from '../src/index.js';
import { makeTempDir, readRecord, writeExtension, writeFile } from './fixtures.js';

describe('failures in the local Lambda', () => {
  const temp = makeTempDir('failures');
  afterAll(() => temp.cleanup());

  function taskWith(name: string, file: string, source: string): string {
    const taskRoot = join(temp.dir, name, 'task');
    writeFile(join(taskRoot, file), source);
    return taskRoot;
  }

  it.each([
    [
      'a missing handler module',
      'index.js',
      'exports.other = 1;',
      'missing.handler',
      'Runtime.ImportModuleError',
    ],
    [
      'a missing export',
      'index.js',
      'exports.other = async () => 1;',
      'index.handler',
      'Runtime.HandlerNotFound',
    ],
    [
      'a syntax error',
      'index.js',
      'exports.handler = async () => {',
      'index.handler',
      'Runtime.UserCodeSyntaxError',
    ],
    [
      'code that throws at load',
      'index.js',
      'throw new TypeError("no config");',
      'index.handler',
      'TypeError',
    ],
    [
      'a callback-style handler',
      'index.js',
      'exports.handler = (e, c, cb) => cb(null, 1);',
      'index.handler',
      'Runtime.CallbackHandlerDeprecated',
    ],
  ])('fails Init with the runtime init error for %s', async (_, file, source, handler, errorType) => {
    const taskRoot = taskWith(errorType, file, source);

    const started = startLambda({ handler, taskRoot });

    await expect(started).rejects.toThrow(LambdaInitError);
    await expect(started).rejects.toMatchObject({ errorType, source: 'runtime' });
  });

  it('starts a new environment when the runtime died while frozen', async () => {
    const taskRoot = taskWith('frozen-death', 'index.js', 'exports.handler = async () => process.pid;');
    const lambda = await startLambda({ handler: 'index.handler', taskRoot });
    try {
      const first = await lambda.invoke({});
      process.kill(first.result as number, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));

      const second = await lambda.invoke({});

      expect(second.ok).toBe(true);
      expect(second.result).not.toBe(first.result);
      expect(second.initDurationMs).toBeGreaterThan(0);
      expect(lambda.errors).toEqual([
        expect.objectContaining({ source: 'runtime', errorType: 'Runtime.ExitError' }),
      ]);
    } finally {
      await lambda.shutdown();
    }
  });

  it('reports an extension that crashes during an invocation and resets the environment', async () => {
    const taskRoot = taskWith('ext-crash', 'index.js', 'exports.handler = async () => "fine";');
    const layerDir = join(temp.dir, 'ext-crash', 'opt');
    writeFile(
      join(layerDir, 'extensions', 'fragile'),
      `#!/usr/bin/env node
const http = require('node:http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const call = (method, path, headers, body) => new Promise((resolve) => {
  const req = http.request({ host, port, method, path, headers }, (res) => { res.resume(); res.on('end', () => resolve(res)); });
  req.end(body);
});
(async () => {
  const reg = await call('POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': 'fragile' }, '{"events":["INVOKE"]}');
  const id = reg.headers['lambda-extension-identifier'];
  await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
  await call('POST', '/2020-01-01/extension/exit/error', { 'Lambda-Extension-Identifier': id, 'Lambda-Extension-Function-Error-Type': 'Extension.Broken' }, '{"errorMessage":"gave up"}');
  process.exit(5);
})();
`,
      true,
    );
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    try {
      const invocation = await lambda.invoke({});

      expect(invocation).toMatchObject({ ok: true, result: 'fine', status: 'failure', reset: 'failure' });
      expect(lambda.errors).toEqual([
        expect.objectContaining({
          source: 'extension:fragile',
          errorType: 'Extension.Broken',
          errorMessage: 'gave up',
        }),
        expect.objectContaining({ source: 'extension:fragile', errorType: 'Extension.Crash' }),
      ]);
    } finally {
      await lambda.shutdown();
    }
  });

  it('times out when an extension takes longer than the function timeout after the response', async () => {
    const taskRoot = taskWith('ext-slow', 'index.js', 'exports.handler = async () => "answered";');
    const layerDir = join(temp.dir, 'ext-slow', 'opt');
    const recordFile = join(temp.dir, 'ext-slow', 'record.txt');
    writeExtension(layerDir, 'dawdler', { recordFile, postInvokeDelayMs: 2000 });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir, timeoutMs: 400 });
    try {
      const invocation = await lambda.invoke({});

      // The caller got the answer; the environment is discarded because the extension overran.
      expect(invocation).toMatchObject({ ok: true, result: 'answered', status: 'timeout', reset: 'timeout' });
      expect(readRecord(recordFile, 'dawdler')).toEqual(
        expect.arrayContaining([expect.stringMatching(/^event SHUTDOWN timeout/)]),
      );
    } finally {
      await lambda.shutdown();
    }
  });
});
