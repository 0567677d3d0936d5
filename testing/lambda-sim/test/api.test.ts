import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaSim, startLambda } from '../src/index.js';
import { makeTempDir, writeFile } from './fixtures.js';

describe('misuse of the Runtime and Extensions APIs gets Lambda-style errors', () => {
  const temp = makeTempDir('api');
  let lambda: LambdaSim;
  beforeAll(async () => {
    writeFile(join(temp.dir, 'index.js'), 'exports.handler = async () => 1;');
    lambda = await startLambda({ handler: 'index.handler', taskRoot: temp.dir });
  });
  afterAll(async () => {
    await lambda?.shutdown();
    temp.cleanup();
  });

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const response = await fetch(`http://${lambda.runtimeApi}${path}`, {
      method,
      headers,
      body: body ?? null,
    });
    return { status: response.status, body: await response.json() };
  }

  it.each([
    [
      'register after Init',
      'POST',
      '/2020-01-01/extension/register',
      { 'Lambda-Extension-Name': 'late' },
      '{"events":[]}',
      403,
      'Extension.RegistrationClosed',
    ],
    [
      'register without a name',
      'POST',
      '/2020-01-01/extension/register',
      {},
      '{"events":[]}',
      400,
      'Extension.InvalidRequest',
    ],
    [
      'next without an identifier',
      'GET',
      '/2020-01-01/extension/event/next',
      {},
      undefined,
      403,
      'Extension.MissingExtensionIdentifier',
    ],
    [
      'next with an unknown identifier',
      'GET',
      '/2020-01-01/extension/event/next',
      { 'Lambda-Extension-Identifier': 'nope' },
      undefined,
      403,
      'Extension.UnknownExtensionIdentifier',
    ],
    [
      'telemetry with an unknown identifier',
      'PUT',
      '/2022-07-01/telemetry',
      { 'Lambda-Extension-Identifier': 'nope' },
      '{}',
      403,
      'Extension.UnknownExtensionIdentifier',
    ],
    [
      'the Logs API',
      'PUT',
      '/2020-08-15/logs',
      { 'Lambda-Extension-Identifier': 'nope' },
      '{}',
      501,
      'Sim.NotImplemented',
    ],
    [
      'a response for an unknown request',
      'POST',
      '/2018-06-01/runtime/invocation/bogus/response',
      {},
      '{}',
      400,
      'InvalidRequestID',
    ],
    [
      'an error for an unknown request',
      'POST',
      '/2018-06-01/runtime/invocation/bogus/error',
      {},
      '{}',
      400,
      'InvalidRequestID',
    ],
    [
      'a runtime init error after Init',
      'POST',
      '/2018-06-01/runtime/init/error',
      {},
      '{}',
      403,
      'InvalidStateTransition',
    ],
    ['an unknown route', 'GET', '/2018-06-01/runtime/nothing', {}, undefined, 404, 'Sim.UnknownRoute'],
  ])('%s', async (_, method, path, headers, body, status, errorType) => {
    const response = await call(method, path, headers, body);

    expect(response).toEqual({ status, body: { errorType, errorMessage: expect.any(String) } });
  });

  it('still serves invocations afterwards', async () => {
    expect(await lambda.invoke({})).toMatchObject({ ok: true, result: 1 });
  });
});
