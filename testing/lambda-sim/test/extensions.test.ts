import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LambdaInitError, startLambda } from '../src/index.js';
import { makeTempDir, readRecord, writeExtension, writeFile } from './fixtures.js';

const HANDLER = `exports.handler = async (event) => ({ echoed: event });`;

describe('external extensions in the local Lambda', () => {
  const temp = makeTempDir('extensions');
  afterAll(() => temp.cleanup());

  function prepare(name: string): { taskRoot: string; layerDir: string; recordFile: string } {
    const taskRoot = writeFile(join(temp.dir, name, 'task', 'index.js'), HANDLER).replace(/\/index\.js$/, '');
    return {
      taskRoot,
      layerDir: join(temp.dir, name, 'opt'),
      recordFile: join(temp.dir, name, 'record.txt'),
    };
  }

  it('registers, subscribes to telemetry, and sees INVOKE, runtimeDone and SHUTDOWN in order', async () => {
    // Prepare
    const { taskRoot, layerDir, recordFile } = prepare('lifecycle');
    writeExtension(layerDir, 'sample', { recordFile, telemetry: true });

    // Act
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir, functionName: 'shop' });
    const first = await lambda.invoke({ n: 1 });
    const second = await lambda.invoke({ n: 2 });
    const shutdown = await lambda.shutdown();

    // Assess
    expect(first).toMatchObject({ ok: true, result: { echoed: { n: 1 } } });
    expect(second).toMatchObject({ ok: true, result: { echoed: { n: 2 } } });
    expect(shutdown).toEqual({ extensionsExited: true, killed: [] });
    const record = readRecord(recordFile, 'sample');
    const registered = JSON.parse(record.find((line) => line.startsWith('registered '))?.slice(11) ?? '{}');
    expect(registered).toEqual({
      status: 200,
      body: {
        functionName: 'shop',
        functionVersion: '$LATEST',
        handler: 'index.handler',
        accountId: '123456789012',
      },
    });
    expect(record).toContain('subscribed 200');
    // Order of what the extension saw, telemetry included (platform.report arrives at the next thaw).
    const steps = record
      .filter((line) => /^(event|done|exit)|^telemetry platform\.(start|runtimeDone|report)/.test(line))
      .map((line) => line.split(' ').slice(0, 3).join(' '));
    const [a, b] = [first.requestId, second.requestId];
    expect(steps).toEqual([
      `event INVOKE ${a}`,
      `telemetry platform.start ${a}`,
      `telemetry platform.runtimeDone ${a}`,
      `done ${a}`,
      `event INVOKE ${b}`,
      `telemetry platform.report ${a}`,
      `telemetry platform.start ${b}`,
      `telemetry platform.runtimeDone ${b}`,
      `done ${b}`,
      `telemetry platform.report ${b}`,
      'event SHUTDOWN spindown',
      'exit',
    ]);
    const invoke = JSON.parse(
      record
        .find((line) => line.startsWith(`event INVOKE ${a}`))
        ?.split(' ')
        .slice(3)
        .join(' ') ?? '{}',
    );
    expect(invoke).toEqual({
      eventType: 'INVOKE',
      deadlineMs: expect.any(Number),
      requestId: a,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:shop',
      tracing: { type: 'X-Amzn-Trace-Id', value: expect.stringMatching(/^Root=1-/) },
    });
    const shutdownEvent = JSON.parse(
      record
        .find((line) => line.startsWith('event SHUTDOWN'))
        ?.split(' ')
        .slice(3)
        .join(' ') ?? '{}',
    );
    expect(shutdownEvent).toEqual({
      eventType: 'SHUTDOWN',
      shutdownReason: 'spindown',
      deadlineMs: expect.any(Number),
    });
    const telemetryRecord = (type: string, requestId: string) =>
      JSON.parse(
        record
          .find((line) => line.startsWith(`telemetry ${type} ${requestId} `))
          ?.split(' ')
          .slice(3)
          .join(' ') ?? '{}',
      );
    expect(telemetryRecord('platform.runtimeDone', a)).toEqual({
      requestId: a,
      status: 'success',
      metrics: { durationMs: expect.any(Number), producedBytes: '{"echoed":{"n":1}}'.length },
      tracing: { type: 'X-Amzn-Trace-Id', value: invoke.tracing.value },
      spans: [],
    });
    expect(telemetryRecord('platform.report', a)).toMatchObject({
      requestId: a,
      status: 'success',
      metrics: { memorySizeMB: 128, initDurationMs: expect.any(Number) },
    });
    expect(telemetryRecord('platform.report', b).metrics.initDurationMs).toBeUndefined();
    expect(record.some((line) => line.startsWith('telemetry platform.initStart'))).toBe(true);
    expect(record.some((line) => line.startsWith('telemetry platform.extension sample'))).toBe(true);
  });

  it('delivers the function and extension output lines as function / extension telemetry', async () => {
    const { layerDir, recordFile } = prepare('log-telemetry');
    const taskRoot = writeFile(
      join(temp.dir, 'log-telemetry', 'task', 'index.js'),
      `exports.handler = async () => { console.log('handler says hello'); return 1; };`,
    ).replace(/\/index\.js$/, '');
    writeExtension(layerDir, 'logs', {
      recordFile,
      telemetry: true,
      telemetryTypes: ['platform', 'function', 'extension'],
    });
    writeExtension(layerDir, 'chatty', { recordFile, postInvokeDelayMs: 1 });
    writeFile(
      join(layerDir, 'extensions', 'chatty'),
      readFileSync(join(layerDir, 'extensions', 'chatty'), 'utf8').replace(
        "'use strict';",
        "'use strict'; console.log('chatty extension starting');",
      ),
      true,
    );
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    await lambda.invoke({});
    await lambda.shutdown();

    const telemetry = readRecord(recordFile, 'logs').filter(
      (line) => line.startsWith('telemetry function') || line.startsWith('telemetry extension'),
    );
    expect(telemetry).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^telemetry function .*INFO\\thandler says hello"$/),
        'telemetry extension  "chatty extension starting"',
      ]),
    );
  });

  it('ends an invocation only when every extension asked for the next event', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('post-invoke');
    writeExtension(layerDir, 'slow', { recordFile, postInvokeDelayMs: 300 });
    writeExtension(layerDir, 'quick', { recordFile });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    try {
      const invocation = await lambda.invoke({});

      expect(invocation.ok).toBe(true);
      // The invocation lasted as long as the extension's 300 ms of work...
      expect(invocation.durationMs + invocation.postRuntimeDurationMs).toBeGreaterThanOrEqual(295);
      // ...but the caller had its response before: that work shows as post-runtime time only.
      expect(invocation.durationMs).toBeLessThan(295);
    } finally {
      await lambda.shutdown();
    }
  });

  it('accepts an internal extension registered by the runtime process during Init, without SHUTDOWN', async () => {
    // Prepare: an ES module handler that registers from its top level and serves INVOKE in the background.
    const taskRoot = join(temp.dir, 'internal', 'task');
    writeFile(
      join(taskRoot, 'index.mjs'),
      `const base = 'http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2020-01-01/extension';
      const register = (events) => fetch(base + '/register', { method: 'POST', headers: { 'Lambda-Extension-Name': 'inproc' }, body: JSON.stringify({ events }) });
      const refused = await register(['INVOKE', 'SHUTDOWN']);
      const refusal = { status: refused.status, body: await refused.json() };
      const accepted = await register(['INVOKE']);
      const id = accepted.headers.get('lambda-extension-identifier');
      const seen = [];
      (async () => {
        for (;;) {
          const event = await (await fetch(base + '/event/next', { headers: { 'Lambda-Extension-Identifier': id } })).json();
          seen.push(event.requestId);
        }
      })();
      export const handler = async () => ({ refusal, seen: [...seen] });`,
    );

    // Act
    const lambda = await startLambda({ handler: 'index.handler', taskRoot });
    const first = await lambda.invoke({});
    const second = await lambda.invoke({});
    await lambda.shutdown();

    // Assess: the second invocation sees that the internal extension received the first INVOKE.
    expect(first.result).toMatchObject({
      refusal: { status: 400, body: { errorType: 'Extension.InvalidEventType' } },
    });
    expect((second.result as { seen: string[] }).seen).toContain(first.requestId);
  });

  it('gives extensions the function environment without the variables Lambda hides from them', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('env');
    writeExtension(layerDir, 'envcheck', { recordFile });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir, functionName: 'envfn' });
    await lambda.shutdown();

    const env = JSON.parse(
      readRecord(recordFile, 'envcheck')
        .find((line) => line.startsWith('env '))
        ?.slice(4) ?? '{}',
    );
    expect(env).toEqual({
      AWS_LAMBDA_FUNCTION_NAME: 'envfn',
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_RUNTIME_API: lambda.runtimeApi,
    });
  });

  it('freezes the extensions between invocations', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('freeze');
    writeExtension(layerDir, 'ticker', { recordFile, tick: true });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    try {
      await lambda.invoke({});
      // A write already in a system call when SIGSTOP arrived still lands.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ticksBefore = readRecord(recordFile, 'ticker').filter((line) => line.startsWith('tick')).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ticksWhileFrozen =
        readRecord(recordFile, 'ticker').filter((line) => line.startsWith('tick')).length - ticksBefore;

      expect(ticksWhileFrozen).toBe(0);
    } finally {
      await lambda.shutdown();
    }
    expect(readRecord(recordFile, 'ticker').filter((line) => line.startsWith('tick')).length).toBeGreaterThan(
      0,
    );
  });

  it('at shutdown, SIGTERMs the runtime, SIGKILLs it after 300 ms, then sends SHUTDOWN to extensions', async () => {
    // Prepare: a runtime whose SIGTERM handler keeps it alive.
    const { layerDir, recordFile } = prepare('sigterm');
    const taskRoot = writeFile(
      join(temp.dir, 'sigterm', 'task', 'index.js'),
      `process.on('SIGTERM', () => require('node:fs').appendFileSync(${JSON.stringify(recordFile)}, 'runtime SIGTERM\\n'));
      exports.handler = async () => 'ok';`,
    ).replace(/\/index\.js$/, '');
    writeExtension(layerDir, 'present', { recordFile });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    await lambda.invoke({});

    // Act
    const shutdown = await lambda.shutdown();

    // Assess
    expect(shutdown).toEqual({ extensionsExited: true, killed: ['runtime'] });
    const lines = readFileSync(recordFile, 'utf8').split('\n');
    const sigterm = lines.indexOf('runtime SIGTERM');
    const shutdownEvent = lines.findIndex((line) => line.startsWith('present event SHUTDOWN spindown'));
    expect(sigterm).toBeGreaterThanOrEqual(0);
    expect(shutdownEvent).toBeGreaterThan(sigterm);
    expect(lambda.logs).toContain('SHUTDOWN: runtime did not exit within 300 ms of SIGTERM, SIGKILL');
  });

  it('kills the runtime at shutdown without SIGTERM when no extension is registered', async () => {
    const recordFile = join(temp.dir, 'no-sigterm.txt');
    const taskRoot = writeFile(
      join(temp.dir, 'no-sigterm', 'index.js'),
      `process.on('SIGTERM', () => require('node:fs').appendFileSync(${JSON.stringify(recordFile)}, 'runtime SIGTERM\\n'));
      exports.handler = async () => 'ok';`,
    ).replace(/\/index\.js$/, '');
    const lambda = await startLambda({ handler: 'index.handler', taskRoot });
    await lambda.invoke({});

    expect(await lambda.shutdown()).toEqual({ extensionsExited: true, killed: [] });
    expect(readRecord(recordFile, 'runtime')).toEqual([]);
  });

  it('SIGKILLs an extension that ignores SHUTDOWN after 2 seconds', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('stubborn');
    writeExtension(layerDir, 'stubborn', { recordFile, ignoreShutdown: true });
    writeExtension(layerDir, 'polite', { recordFile });
    const lambda = await startLambda({ handler: 'index.handler', taskRoot, layerDir });
    await lambda.invoke({});

    const startedAt = Date.now();
    const shutdown = await lambda.shutdown();
    const tookMs = Date.now() - startedAt;

    expect(shutdown).toEqual({ extensionsExited: false, killed: ['extension:stubborn'] });
    expect(tookMs).toBeGreaterThanOrEqual(1900);
    expect(tookMs).toBeLessThan(5000);
    expect(readRecord(recordFile, 'stubborn')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^event SHUTDOWN spindown/)]),
    );
    expect(readRecord(recordFile, 'polite')).toContain('exit');
    expect(lambda.logs).toContain('SHUTDOWN: extension:stubborn did not exit within 2000 ms, SIGKILL');
  });

  it('fails Init when an extension reports an init error', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('init-error');
    writeExtension(layerDir, 'broken', { recordFile, initError: 'Extension.ConfigInvalid' });

    const started = startLambda({ handler: 'index.handler', taskRoot, layerDir });

    await expect(started).rejects.toThrow(LambdaInitError);
    await expect(started).rejects.toMatchObject({
      errorType: 'Extension.ConfigInvalid',
      source: 'extension:broken',
    });
  });

  it('fails Init when an extension exits before registering', async () => {
    const { taskRoot, layerDir, recordFile } = prepare('crash');
    writeExtension(layerDir, 'crasher', { recordFile, exitBeforeRegister: 4 });

    await expect(startLambda({ handler: 'index.handler', taskRoot, layerDir })).rejects.toMatchObject({
      errorType: 'Extension.Crash',
      message: expect.stringContaining('exit status 4'),
    });
  });

  it('fails Init when an extension never registers within the init timeout', async () => {
    const { taskRoot, layerDir } = prepare('silent');
    writeFile(join(layerDir, 'extensions', 'silent'), '#!/bin/sh\nexec sleep 30\n', true);

    await expect(
      startLambda({ handler: 'index.handler', taskRoot, layerDir, initTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      errorType: 'Sandbox.Timedout',
      message: expect.stringContaining('not registered: extension:silent'),
    });
  });
});
