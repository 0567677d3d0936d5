// UDP: dgram send/connect and the udp_wrap binding. The loopback receiver counts what really arrived.
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const DENY = policy({ name: 'udp-deny', network: 'deny', allowedDomains: ['localhost'] });
const OBSERVE = policy({ name: 'udp-observe', network: 'observe' });
const GRANT = policy({ name: 'udp-grant', network: 'grant' });

/** Sends one datagram with `sendCall` (JS using `socket`, `receiver`, `done(error)`) and reports. */
function sendFixture(receiverHost: string, sendCall: string, socketOptions = `'udp4'`): string {
  return `
    const { udpServer, settle, report, lookupTo } = require(${helpers});
    const dgram = require('node:dgram');
    (async () => {
      const receiver = await udpServer(${JSON.stringify(receiverHost)});
      const socket = dgram.createSocket(${socketOptions});
      const outcome = await new Promise((resolve) => {
        const done = (error) => resolve(error ? { error: error.code } : { sent: true });
        socket.on('error', (error) => resolve({ errorEvent: error.code }));
        ${sendCall}
      });
      await settle();
      report({ ...outcome, received: receiver.received() });
      socket.close();
      receiver.close();
    })();
  `;
}

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('dgram', () => {
  it('denies a send to a non-allowed address: callback error, nothing arrives', async () => {
    const run = await runFixture({
      policy: DENY,
      source: sendFixture('127.0.0.2', `socket.send('x', receiver.port, '127.0.0.2', done);`),
    });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED', received: 0 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      details: { protocol: 'udp' },
      operation: 'send',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });

  it('denies a send without callback with an error event', async () => {
    const run = await runFixture({
      policy: DENY,
      source: sendFixture('127.0.0.2', `socket.send('x', receiver.port, '127.0.0.2');`),
    });
    expect(appResult(run)).toEqual({ errorEvent: 'ERR_ACCESS_DENIED', received: 0 });
  });

  it('allows a send to an allowed name under deny, silently', async () => {
    const run = await runFixture({
      policy: DENY,
      source: sendFixture('127.0.0.1', `socket.send('x', receiver.port, 'localhost', done);`),
    });
    expect(appResult(run)).toEqual({ sent: true, received: 1 });
    expect(run.events).toEqual([]);
  });

  it('allows and reports a send under observe (one event, no separate dns event)', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: sendFixture('127.0.0.1', `socket.send('x', receiver.port, 'localhost', done);`),
    });
    expect(appResult(run)).toEqual({ sent: true, received: 1 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'observe',
      operation: 'send',
      target: expect.stringMatching(/^localhost:\d+$/),
    });
  });

  it('allows silently under grant', async () => {
    const run = await runFixture({
      policy: GRANT,
      source: sendFixture('127.0.0.2', `socket.send('x', receiver.port, '127.0.0.2', done);`),
    });
    expect(appResult(run)).toEqual({ sent: true, received: 1 });
    expect(run.events).toEqual([]);
  });

  it('denies connect to a non-allowed address with an error event', async () => {
    const run = await runFixture({
      policy: DENY,
      source: sendFixture(
        '127.0.0.2',
        `socket.connect(receiver.port, '127.0.0.2', () => socket.send('x', done));`,
      ),
    });
    expect(appResult(run)).toEqual({ errorEvent: 'ERR_ACCESS_DENIED', received: 0 });
    expect(run.events[0]).toMatchObject({ action: 'deny', operation: 'connect' });
  });

  it('judges the address used: a socket lookup mapping an allowed name elsewhere is refused', async () => {
    const run = await runFixture({
      policy: DENY,
      source: sendFixture(
        '127.0.0.2',
        `socket.send('x', receiver.port, 'localhost', done);`,
        `{ type: 'udp4', lookup: lookupTo('127.0.0.2') }`,
      ),
    });
    expect(appResult(run)).toEqual({ error: 'EACCES', received: 0 });
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
      details: { host: 'localhost' },
    });
  });

  it('denies a raw udp_wrap send', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { udpServer, settle, report } = require(${helpers});
        (async () => {
          const receiver = await udpServer('127.0.0.2');
          const { UDP, SendWrap } = process.binding('udp_wrap');
          const handle = new UDP();
          handle.bind('127.0.0.1', 0, 0);
          const request = new SendWrap();
          request.oncomplete = () => {};
          const status = handle.send(request, [Buffer.from('x')], 1, receiver.port, '127.0.0.2', false);
          await settle();
          report({ status, received: receiver.received() });
          handle.close();
          receiver.close();
        })();
      `,
    });
    const outcome = appResult<{ status: number; received: number }>(run);
    expect(outcome.status).toBeLessThan(0);
    expect(outcome.received).toBe(0);
  });
});
