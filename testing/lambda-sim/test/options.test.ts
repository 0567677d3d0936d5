import { describe, expect, it } from 'vitest';
import { LambdaSimError, type StartLambdaOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';

const taskRoot = process.cwd();

describe('startLambda options', () => {
  it.each<[string, Partial<StartLambdaOptions>, string]>([
    ['a handler without an export', { handler: 'index' }, 'handler must look like "file.export"'],
    [
      'a missing task root',
      { taskRoot: '/nonexistent/task' },
      'taskRoot /nonexistent/task is not an existing directory',
    ],
    ['a missing layer dir', { layerDir: '/nonexistent/opt' }, 'layerDir /nonexistent/opt'],
    ['a reserved variable', { env: { AWS_REGION: 'x' } }, 'env key AWS_REGION is reserved'],
    ['a bad variable name', { env: { 'A-B': 'x' } }, 'not a valid Lambda variable name'],
    ['too little memory', { memoryMb: 64 }, 'memoryMb must be an integer from 128 to 10240'],
    ['a bad function name', { functionName: 'a b' }, 'functionName'],
    ['an unknown runtime', { runtime: 'nodejs18.x' as 'nodejs20.x' }, 'runtime nodejs18.x is not supported'],
    [
      'a foreign architecture',
      { architecture: process.arch === 'arm64' ? 'x86_64' : 'arm64' },
      'does not emulate',
    ],
    ['a bad region', { region: 'mars' }, 'region'],
    ['a bad account id', { accountId: '12' }, 'accountId must be 12 digits'],
    ['a runtime dir without the ric', { runtimeDir: taskRoot }, 'has no index.mjs'],
  ])('rejects %s', (_, override, message) => {
    const act = () => resolveOptions({ handler: 'index.handler', taskRoot, ...override });

    expect(act).toThrow(LambdaSimError);
    expect(act).toThrow(message);
  });

  it("fills in Lambda's defaults", () => {
    const resolved = resolveOptions({ handler: 'index.handler', taskRoot });

    expect(resolved).toMatchObject({
      functionName: 'lambda-sim-function',
      functionVersion: '$LATEST',
      memoryMb: 128,
      region: 'us-east-1',
      timeoutMs: 3000,
      initTimeoutMs: 10_000,
      runtime: 'nodejs20.x',
      freeze: true,
      nodeBinary: process.execPath,
    });
    // the aws-lambda-ric package directory, or its copy outside /tmp when the checkout is under /tmp
    expect(resolved.runtimeDir).toMatch(/aws-lambda-ric(-\d+\.\d+\.\d+)?$/);
    expect(resolved.runtimeDir.startsWith('/tmp/')).toBe(false);
  });
});
