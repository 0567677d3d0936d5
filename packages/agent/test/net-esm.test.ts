// ESM applications: named imports of node:* builtins are live bindings that must see the hooks
// (the agent calls syncBuiltinESMExports after patching), and default imports the patched objects.
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpersUrl = JSON.stringify(new URL(`file://${fixturePath('net-helpers.cjs')}`).href);
const DENY = policy({ name: 'esm-deny', network: 'deny', allowedDomains: ['localhost'] });

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('ESM apps', () => {
  it('denies through named imports of node:net, node:dns and node:dgram', async () => {
    const run = await runFixture({
      type: 'esm',
      policy: DENY,
      source: `
        import { connect, createConnection } from 'node:net';
        import { lookup, resolveTxt, promises as dnsPromises } from 'node:dns';
        import { lookup as lookupPromise } from 'node:dns/promises';
        import { createSocket } from 'node:dgram';
        import { request } from 'node:http';
        import helpers from ${helpersUrl};
        const { tcpServer, settle, report } = helpers;

        const server = await tcpServer('127.0.0.2');
        const socketError = (socket) => new Promise((resolve) => {
          socket.on('error', (error) => resolve(error.code));
          socket.on('connect', () => { socket.destroy(); resolve('connected'); });
        });
        const callbackError = (call) => new Promise((resolve) => call((error) => resolve(error ? error.code : 'ok')));
        const rejection = (promise) => promise.then(() => 'ok', (error) => error.code);
        const results = {
          connect: await socketError(connect(server.port, '127.0.0.2')),
          createConnection: await socketError(createConnection({ port: server.port, host: 'blocked.test' })),
          lookup: await callbackError((done) => lookup('blocked.test', done)),
          resolveTxt: await callbackError((done) => resolveTxt('exfil.attacker.test', done)),
          dnsPromises: await rejection(dnsPromises.resolveTxt('exfil.attacker.test')),
          lookupPromise: await rejection(lookupPromise('blocked.test')),
          udp: await callbackError((done) => createSocket('udp4').send('x', server.port, '127.0.0.2', done)),
          http: await new Promise((resolve) => request('http://127.0.0.2:' + server.port).on('error', (e) => resolve(e.code)).end()),
        };
        await settle();
        report({ ...results, accepted: server.accepted() });
        server.close();
        process.exit(0);
      `,
    });
    expect(appResult(run)).toEqual({
      connect: 'ERR_ACCESS_DENIED',
      createConnection: 'ERR_ACCESS_DENIED',
      lookup: 'ERR_ACCESS_DENIED',
      resolveTxt: 'ERR_ACCESS_DENIED',
      dnsPromises: 'ERR_ACCESS_DENIED',
      lookupPromise: 'ERR_ACCESS_DENIED',
      udp: 'ERR_ACCESS_DENIED',
      http: 'ERR_ACCESS_DENIED',
      accepted: 0,
    });
  });

  it('allows an allowed name from an ESM app, silently', async () => {
    const run = await runFixture({
      type: 'esm',
      policy: DENY,
      source: `
        import helpers from ${helpersUrl};
        const server = await helpers.tcpServer('127.0.0.1');
        const outcome = await helpers.tryConnect({ host: 'localhost', port: server.port });
        helpers.report({ ...outcome, accepted: server.accepted() });
        server.close();
      `,
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toEqual([]);
  });
});
