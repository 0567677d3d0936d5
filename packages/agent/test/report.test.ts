// Events: the contract fields plus enrichment, written to stdout, ES_EVENT_FILE and the spool the
// extension tails; aggregation of repeats; terminateOnDeny; attribution that the app cannot spoof.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPath, appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const DENY = policy({ name: 'report-deny', network: 'deny', allowedDomains: ['localhost'] });
const OBSERVE = policy({ name: 'report-observe', network: 'observe', filesystem: 'observe' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A server in the test process (so it outlives a terminated fixture) counting accepted connections. */
let witness: net.Server;
let witnessAccepted = 0;
let witnessPort = 0;

beforeAll(async () => {
  await ensureAgentBuilt();
  witness = net.createServer((socket) => {
    witnessAccepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => witness.listen(0, '127.0.0.2', resolve));
  witnessPort = (witness.address() as net.AddressInfo).port;
}, 120_000);
afterAll(() => witness.close());

const CONNECT_TO_WITNESS = (port: () => number) => `
  const { tryConnect, report } = require(${helpers});
  tryConnect({ host: '127.0.0.2', port: ${port()} }).then((outcome) => report(outcome));
`;

describe('event contents and sinks', () => {
  it('writes one identical event to stdout, ES_EVENT_FILE and the spool, with Lambda metadata', async () => {
    const run = await runFixture({
      policy: DENY,
      env: {
        AWS_LAMBDA_FUNCTION_NAME: 'checkout',
        AWS_LAMBDA_FUNCTION_VERSION: '7',
        AWS_REGION: 'eu-west-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
        _X_AMZN_TRACE_ID: 'Root=1-abc',
      },
      source: `
        globalThis.awslambda = { InvokeStore: { getRequestId: () => 'req-42' } };
        ${CONNECT_TO_WITNESS(() => witnessPort)}
      `,
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    expect(run.events).toHaveLength(1);
    expect(run.stdoutEvents).toEqual(run.events);
    expect(run.spoolEvents).toEqual(run.events);
    const [event] = run.events;
    expect(event).toMatchObject({
      id: expect.stringMatching(UUID),
      category: 'network',
      action: 'deny',
      operation: 'connect',
      target: `127.0.0.2:${witnessPort}`,
      terminated: false,
      policyGroup: 'report-deny',
      count: 1,
      rule: 'mode',
      function: 'checkout',
      functionVersion: '7',
      region: 'eu-west-1',
      runtime: 'nodejs20.x',
      provider: 'aws',
      requestId: 'req-42',
      details: { traceId: 'Root=1-abc' },
    });
    expect(new Date(event!.time).toISOString()).toBe(event!.time);
  });

  it('writes runtime.json for the extension', async () => {
    const run = await runFixture({
      policy: DENY,
      env: { _HANDLER: 'index.handler', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' },
      source: `require(${helpers}).report({ pid: process.pid })`,
    });
    const { pid } = appResult<{ pid: number }>(run);
    const runtime = JSON.parse(readFileSync(join(run.runtimeDir, 'runtime.json'), 'utf8'));
    expect(runtime).toMatchObject({
      runtime: 'nodejs22.x',
      pid,
      handler: 'index.handler',
      agentVersion: expect.any(String),
    });
  });

  it('does not report its own writes to the spool and event files', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      env: { ES_RUNTIME_DIR: '/tmp/.appdefender-test-' + process.pid },
      source: `
        const { tryConnect, report } = require(${helpers});
        tryConnect({ host: '127.0.0.2', port: ${witnessPort} }).then(() => report({ done: true }));
      `,
    });
    expect(appResult(run)).toEqual({ done: true });
    expect(run.events.filter((event) => event.category === 'filesystem')).toEqual([]);
    expect(run.events.filter((event) => event.category === 'network')).toHaveLength(1);
  });
});

describe('aggregation', () => {
  it('turns a loop of identical denials into a first event and one counted repeat event', async () => {
    const run = await runFixture({
      policy: DENY,
      env: { ES_AGGREGATE_WINDOW_MS: '300' },
      source: `
        const { tryConnect, settle, report } = require(${helpers});
        (async () => {
          const outcomes = [];
          for (let i = 0; i < 50; i++) outcomes.push((await tryConnect({ host: '127.0.0.2', port: ${witnessPort} })).error);
          await settle(600);
          report({ denied: outcomes.filter((code) => code === 'ERR_ACCESS_DENIED').length });
        })();
      `,
    });
    expect(appResult(run)).toEqual({ denied: 50 });
    expect(run.events.map((event) => event.count)).toEqual([1, 49]);
    expect(run.events[1]!.id).not.toBe(run.events[0]!.id);
  });

  it('writes the pending repeat count when the process exits inside the window', async () => {
    const run = await runFixture({
      policy: DENY,
      env: { ES_AGGREGATE_WINDOW_MS: '60000' },
      source: `
        const dns = require('node:dns');
        let pending = 5;
        for (let i = 0; i < 5; i++) dns.lookup('blocked.test', () => { if (--pending === 0) process.exit(0); });
      `,
    });
    expect(run.code).toBe(0);
    expect(run.events.map((event) => event.count)).toEqual([1, 4]);
  });
});

describe('flood protection', () => {
  it('writes at most 100 new events per window and counts the rest in one (multiple targets) event', async () => {
    const run = await runFixture({
      policy: DENY,
      env: { ES_AGGREGATE_WINDOW_MS: '60000' },
      source: `
        const dns = require('node:dns');
        let pending = 300;
        for (let i = 0; i < 300; i++) {
          dns.lookup('chunk' + i + '.exfil.test', () => { if (--pending === 0) process.exit(0); });
        }
      `,
    });
    expect(run.code).toBe(0);
    const single = run.events.filter((event) => event.target !== '(multiple targets)');
    const multiple = run.events.filter((event) => event.target === '(multiple targets)');
    expect(single).toHaveLength(100);
    expect(multiple).toHaveLength(1);
    expect(multiple[0]).toMatchObject({ action: 'deny', operation: 'dns', count: 200 });
    expect(multiple[0]!.details?.sampleTargets).toEqual([
      'chunk100.exfil.test',
      'chunk101.exfil.test',
      'chunk102.exfil.test',
      'chunk103.exfil.test',
      'chunk104.exfil.test',
    ]);
    expect(run.events.reduce((sum, event) => sum + (event.count ?? 0), 0)).toBe(300);
  });
});

describe('terminateOnDeny', () => {
  it('records the event, then ends the process before the connection is made', async () => {
    const before = witnessAccepted;
    const run = await runFixture({
      policy: { ...DENY, terminateOnDeny: true },
      source: `
        process.on('exit', () => console.log('exit handler ran'));
        const net = require('node:net');
        const { lookupTo } = require(${helpers});
        const socket = net.connect({ port: ${witnessPort}, host: 'blocked.test', lookup: lookupTo('127.0.0.2') });
        socket.on('error', () => {});
        console.log('after connect');
      `,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(run.code).toBe(70);
    expect(run.appOutput).not.toContain('after connect');
    expect(run.appOutput).not.toContain('exit handler ran');
    expect(witnessAccepted).toBe(before);
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'deny', terminated: true });
    expect(run.stderr).toContain('terminateOnDeny');
  });
});

describe('attribution', () => {
  function withPackages(workDir: string): string {
    const plain = join(workDir, 'node_modules', 'left-pad-evil');
    const scoped = join(workDir, 'node_modules', '@acme', 'telemetry');
    mkdirSync(plain, { recursive: true });
    mkdirSync(scoped, { recursive: true });
    writeFileSync(join(plain, 'package.json'), JSON.stringify({ name: 'left-pad-evil', version: '6.6.6' }));
    writeFileSync(
      join(plain, 'index.js'),
      `module.exports = (port) => new Promise((resolve) => {
        const socket = require('node:net').connect(port, '127.0.0.2');
        socket.on('connect', () => { socket.destroy(); resolve('connected'); });
        socket.on('error', (error) => resolve(error.code));
      });\n`,
    );
    writeFileSync(
      join(scoped, 'package.json'),
      JSON.stringify({ name: '@acme/telemetry', version: '1.2.3' }),
    );
    writeFileSync(
      join(scoped, 'index.js'),
      `module.exports = (host) => require('node:dns').promises.lookup(host);\n`,
    );
    const app = join(workDir, 'main.cjs');
    return app;
  }

  it('names the npm package and version that made the call, and the top application frames', async () => {
    let app = '';
    const run = await runFixture({
      policy: DENY,
      setup: ({ workDir }) => {
        app = withPackages(workDir);
        writeFileSync(
          app,
          `const { report } = require(${helpers});
          (async () => {
            await require('left-pad-evil')(${witnessPort});
            await require('@acme/telemetry')('blocked.test').catch(() => {});
            report({ done: true });
          })();`,
        );
      },
      get file() {
        return app;
      },
      source: undefined,
    } as never);
    expect(appResult(run)).toEqual({ done: true });
    expect(run.events).toHaveLength(2);
    expect(run.events[0]!.module).toEqual({ name: 'left-pad-evil', version: '6.6.6' });
    expect(run.events[1]!.module).toEqual({ name: '@acme/telemetry', version: '1.2.3' });
    expect(run.events[0]!.stack?.some((frame) => frame.includes('main.cjs'))).toBe(true);
    expect(run.events[0]!.stack?.some((frame) => frame.includes(agentPath))).toBe(false);
  });

  it('cannot be spoofed through Error.prepareStackTrace or Error.stackTraceLimit', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { tryConnect, report, lookupTo } = require(${helpers});
        Error.prepareStackTrace = () => ['/node_modules/innocent/index.js:1:1 fake'];
        Error.stackTraceLimit = 0;
        let redefined = true;
        try { Object.defineProperty(Error, 'prepareStackTrace', { get: () => () => [] }); } catch { redefined = false; }
        tryConnect({ host: 'blocked.test', port: ${witnessPort}, lookup: lookupTo('127.0.0.2') }).then((outcome) => {
          const ownStack = (() => { const e = {}; Error.captureStackTrace(e); return e.stack; })();
          report({ error: outcome.error, redefined, ownStackIsAppFormatted: Array.isArray(ownStack) });
        });
      `,
    });
    expect(appResult(run)).toEqual({
      error: 'ERR_ACCESS_DENIED',
      redefined: false,
      ownStackIsAppFormatted: true,
    });
    const [event] = run.events;
    expect(event!.module).toBeUndefined();
    expect(event!.stack?.some((frame) => frame.includes('innocent'))).toBe(false);
    expect(event!.stack?.some((frame) => /net-helpers\.cjs:\d+/.test(frame))).toBe(true);
  });
});
