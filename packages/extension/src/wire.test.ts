import { describe, expect, it } from 'vitest';
import { readConfig } from './config.js';
import { lambdaArchitecture } from './function-report.js';
import { retryAfterMs } from './http-client.js';
import { parseLifecycleEvent, parseRegisterBody } from './lambda-api.js';
import { runtimeDoneRequestIds } from './telemetry-listener.js';

describe('runtimeDoneRequestIds', () => {
  it('takes the request ids of platform.runtimeDone records only', () => {
    const batch = [
      { type: 'platform.start', record: { requestId: 'a' } },
      { type: 'platform.runtimeDone', record: { requestId: 'a', status: 'success' } },
      { type: 'platform.runtimeDone', record: { status: 'success' } },
      { type: 'function', record: 'a log line' },
      null,
      { type: 'platform.runtimeDone', record: { requestId: 'b', status: 'timeout' } },
    ];
    expect(runtimeDoneRequestIds(batch)).toEqual(['a', 'b']);
    expect(runtimeDoneRequestIds({ not: 'an array' })).toEqual([]);
  });
});

describe('retryAfterMs', () => {
  it.each([
    ['3', 3000],
    [' 0 ', 0],
    ['Wed, 25 Nov 2026 15:00:10 GMT', 10_000],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s', (header, expected) => {
    expect(retryAfterMs(header, Date.parse('Wed, 25 Nov 2026 15:00:00 GMT'))).toBe(expected);
  });
});

describe('parseLifecycleEvent', () => {
  it('reads INVOKE and SHUTDOWN, and refuses anything else', () => {
    expect(parseLifecycleEvent('{"eventType":"INVOKE","requestId":"r","deadlineMs":5}')).toEqual({
      eventType: 'INVOKE',
      requestId: 'r',
      deadlineMs: 5,
    });
    expect(
      parseLifecycleEvent('{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":7}'),
    ).toEqual({
      eventType: 'SHUTDOWN',
      shutdownReason: 'spindown',
      deadlineMs: 7,
    });
    expect(() => parseLifecycleEvent('{"eventType":"INVOKE"}')).toThrow(/requestId/);
    expect(() => parseLifecycleEvent('{"eventType":"RESTORE"}')).toThrow(/unknown eventType/);
    expect(() => parseLifecycleEvent('not json')).toThrow(/not JSON/);
  });

  it('reads the register body, keeping only known string fields', () => {
    expect(parseRegisterBody('id', '{"functionName":"f","accountId":"123456789012","handler":7}')).toEqual({
      extensionId: 'id',
      functionName: 'f',
      accountId: '123456789012',
    });
    expect(parseRegisterBody('id', '')).toEqual({ extensionId: 'id' });
    expect(() => parseRegisterBody('id', '[]')).toThrow(/not a JSON object/);
  });
});

describe('readConfig', () => {
  const base = { AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' };

  it('fills defaults and reads the function environment', () => {
    const config = readConfig({
      ...base,
      ES_API_URL: 'https://plane.example',
      ES_LICENSE_KEY: 'k',
      ES_POLICY_GROUP_NAME: 'g',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      APPDEFENDER_EXTENSION_ID: 'ext-1',
      APPDEFENDER_REGISTER_RESPONSE: '{}',
    });
    expect(config).toMatchObject({
      runtimeDir: '/tmp/.appdefender',
      extensionName: 'appdefender',
      licenseKey: 'k',
      policyGroup: 'g',
      memoryMb: 512,
      preRegistered: { extensionId: 'ext-1', responseBody: '{}' },
      rotateBytes: 1024 * 1024,
      rotateGraceMs: 2000,
    });
    expect(readConfig({ ...base, ES_SPOOL_ROTATE_BYTES: '0' }).rotateBytes).toBe(0);
    expect(config.apiUrl?.href).toBe('https://plane.example/');
  });

  it.each([
    [{}, /AWS_LAMBDA_RUNTIME_API is not set/],
    [{ ...base, ES_API_URL: 'not a url' }, /ES_API_URL is not a URL/],
    [{ ...base, ES_API_URL: 'ftp://x' }, /ES_API_URL must be http\(s\)/],
    [{ ...base, ES_FLUSH_BUDGET_MS: '-1' }, /ES_FLUSH_BUDGET_MS must be a positive integer/],
    [{ ...base, ES_SPOOL_ROTATE_BYTES: '-1' }, /ES_SPOOL_ROTATE_BYTES must be a non-negative integer/],
    [{ ...base, ES_SPOOL_ROTATE_GRACE_MS: '0' }, /ES_SPOOL_ROTATE_GRACE_MS must be a positive integer/],
  ])('refuses %j', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
});

describe('lambdaArchitecture', () => {
  it.each([
    ['x64', 'x86_64'],
    ['arm64', 'arm64'],
  ])('%s → %s', (arch, expected) => {
    expect(lambdaArchitecture(arch)).toBe(expected);
  });
});
