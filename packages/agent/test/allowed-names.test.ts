// The agent's own resolution of the resolvable allowedDomains starts with the first network
// operation that needs it, not at start (cold start: a process's first lookup costs ~5 ms of CPU,
// and with an ES module entry it ran before the app's first line). An operation on an address only
// that resolution can vouch for waits for it: a literal 127.0.0.1 under `allowedDomains: ['localhost']`
// is still allowed when it is the app's first network operation, and other addresses still denied.
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const DENY = policy({ name: 'allowed-names-deny', network: 'deny', allowedDomains: ['localhost'] });

beforeAll(() => ensureAgentBuilt(), 120_000);

/** A fixture whose first network operation is `operation` (JS using `server`, resolving `done(result)`). */
function firstOperation(kind: 'udp' | 'tcp', host: string, operation: string): string {
  return `
    const { udpServer, tcpServer, settle, report } = require(${helpers});
    const dgram = require('node:dgram');
    const net = require('node:net');
    (async () => {
      const server = await ${kind === 'udp' ? 'udpServer' : 'tcpServer'}(${JSON.stringify(host)});
      const outcome = await new Promise((done) => { ${operation} });
      await settle();
      report({ ...outcome, arrived: ${kind === 'udp' ? 'server.received()' : 'server.accepted()'} });
      server.close();
    })();
  `;
}

describe('first resolution of the allowed names', () => {
  it('lets a UDP send to dgram default address (127.0.0.1) through when it is the first network operation', async () => {
    const run = await runFixture({
      policy: DENY,
      source: firstOperation(
        'udp',
        '127.0.0.1',
        `const socket = dgram.createSocket('udp4');
         socket.on('error', (error) => done({ errorEvent: error.code }));
         socket.send('x', server.port, (error) => { socket.close(); done(error ? { error: error.code } : { sent: true }); });`,
      ),
    });
    expect(appResult(run)).toEqual({ sent: true, arrived: 1 });
    expect(run.events).toEqual([]);
  });

  it('lets a UDP send to the literal 127.0.0.1 through, and still denies 127.0.0.2', async () => {
    const allowed = await runFixture({
      policy: DENY,
      source: firstOperation(
        'udp',
        '127.0.0.1',
        `const socket = dgram.createSocket('udp4');
         socket.send('x', server.port, '127.0.0.1', (error) => { socket.close(); done(error ? { error: error.code } : { sent: true }); });`,
      ),
    });
    expect(appResult(allowed)).toEqual({ sent: true, arrived: 1 });
    const denied = await runFixture({
      policy: DENY,
      source: firstOperation(
        'udp',
        '127.0.0.2',
        `const socket = dgram.createSocket('udp4');
         socket.send('x', server.port, '127.0.0.2', (error) => { socket.close(); done(error ? { error: error.code } : { sent: true }); });`,
      ),
    });
    expect(appResult(denied)).toEqual({ error: 'ERR_ACCESS_DENIED', arrived: 0 });
    expect(denied.events).toHaveLength(1);
  });

  it('lets a dgram connect to the literal 127.0.0.1 (and the send after it) through when it is the first network operation', async () => {
    const run = await runFixture({
      policy: DENY,
      source: firstOperation(
        'udp',
        '127.0.0.1',
        `const socket = dgram.createSocket('udp4');
         socket.on('error', (error) => done({ errorEvent: error.code }));
         socket.connect(server.port, '127.0.0.1', () => socket.send('x', (error) => { socket.close(); done(error ? { error: error.code } : { sent: true }); }));`,
      ),
    });
    expect(appResult(run)).toEqual({ sent: true, arrived: 1 });
    expect(run.events).toEqual([]);
  });

  it('lets a TCP connect to the literal 127.0.0.1 through when it is the first network operation', async () => {
    const run = await runFixture({
      policy: DENY,
      source: firstOperation(
        'tcp',
        '127.0.0.1',
        `const socket = net.connect(server.port, '127.0.0.1');
         socket.on('connect', () => { socket.destroy(); done({ connected: true }); });
         socket.on('error', (error) => done({ error: error.code }));`,
      ),
    });
    expect(appResult(run)).toEqual({ connected: true, arrived: 1 });
    expect(run.events).toEqual([]);
  });
});
