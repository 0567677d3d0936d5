// net.Socket#connect and the tcp_wrap binding: deny blocks (and the loopback server really saw no
// connection), observe allows and reports, grant allows silently. Each fixture runs in its own process.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const DENY = policy({ name: 'net-deny', network: 'deny', allowedDomains: ['localhost'] });
const OBSERVE = policy({ name: 'net-observe', network: 'observe' });
const GRANT = policy({ name: 'net-grant', network: 'grant' });

/** A fixture that starts a server on `serverHost`, connects with `connectOptions` (JS source using `port`). */
function connectFixture(serverHost: string, connectOptions: string): string {
  return `
    const { tcpServer, tryConnect, settle, report, lookupTo } = require(${helpers});
    (async () => {
      const server = await tcpServer(${JSON.stringify(serverHost)});
      const port = server.port;
      const outcome = await tryConnect(${connectOptions});
      await settle();
      report({ ...outcome, accepted: server.accepted() });
      server.close();
    })();
  `;
}

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('net.connect by name', () => {
  it('denies a name that no allowed domain matches, before any lookup or connection', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.1', `{ host: 'blocked.test', port, lookup: lookupTo('127.0.0.1') }`),
    });
    const outcome = appResult(run);
    expect(outcome).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
    expect(String(outcome.message)).toContain('policy group "net-deny"');
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      category: 'network',
      action: 'deny',
      operation: 'connect',
      target: expect.stringMatching(/^blocked\.test:\d+$/),
      policyGroup: 'net-deny',
      terminated: false,
    });
  });

  it('allows an allowed name under deny, silently', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.1', `{ host: 'localhost', port }`),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toEqual([]);
  });

  it('allows and reports under observe, once per connection, with the app frame that connected', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: connectFixture('127.0.0.1', `{ host: 'localhost', port }`),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'observe',
      operation: 'connect',
      target: expect.stringMatching(/^localhost:\d+$/),
    });
    expect(run.events[0]!.stack?.some((frame) => /app\.cjs:\d+:\d+/.test(frame))).toBe(true);
  });

  it('allows silently under grant', async () => {
    const run = await runFixture({
      policy: GRANT,
      source: connectFixture('127.0.0.2', `{ host: '127.0.0.2', port }`),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toEqual([]);
    expect(run.stdoutEvents).toEqual([]);
  });

  it('fails tls.connect and http.get to a denied host through their own error paths', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { tcpServer, settle, report, lookupTo } = require(${helpers});
        const tls = require('node:tls');
        const http = require('node:http');
        (async () => {
          const server = await tcpServer('127.0.0.1');
          const tlsError = await new Promise((resolve) => {
            const socket = tls.connect({ host: 'blocked.test', port: server.port, lookup: lookupTo('127.0.0.1') });
            socket.on('error', (error) => resolve(error.code));
            socket.on('secureConnect', () => resolve('connected'));
          });
          const httpError = await new Promise((resolve) => {
            const request = http.get('http://blocked-http.test:' + server.port + '/x', { lookup: lookupTo('127.0.0.1') });
            request.on('error', (error) => resolve(error.code));
            request.on('response', () => resolve('response'));
          });
          await settle();
          report({ tlsError, httpError, accepted: server.accepted() });
          server.close();
        })();
      `,
    });
    expect(appResult(run)).toEqual({
      tlsError: 'ERR_ACCESS_DENIED',
      httpError: 'ERR_ACCESS_DENIED',
      accepted: 0,
    });
    expect(run.events.map((event) => event.action)).toEqual(['deny', 'deny']);
    expect(run.events[1]!.details).toMatchObject({
      url: expect.stringContaining('blocked-http.test'),
      method: 'GET',
    });
  });
});

describe('net.connect bypass attempts', () => {
  it('judges the address dialled: a custom lookup mapping an allowed name elsewhere is denied', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.2', `{ host: 'localhost', port, lookup: lookupTo('127.0.0.2') }`),
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
      details: { host: 'localhost' },
    });
  });

  it('judges every address of a multi-address answer (happy eyeballs tries them one by one)', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture(
        '127.0.0.2',
        `{ host: 'localhost', port, autoSelectFamily: true, lookup: (host, options, callback) =>
            options.all
              ? callback(null, [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }])
              : callback(null, '127.0.0.2', 4) }`,
      ),
    });
    expect(appResult(run)).toMatchObject({ accepted: 0 });
    expect(
      run.events.some((event) => /^127\.0\.0\.2:\d+$/.test(event.target) && event.action === 'deny'),
    ).toBe(true);
  });

  it('allows the IP literal of an allowed name (the agent resolved it) and denies any other', async () => {
    const allowed = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.1', `{ host: '127.0.0.1', port }`),
    });
    expect(appResult(allowed)).toMatchObject({ connected: true, accepted: 1 });
    expect(allowed.events).toEqual([]);
    const denied = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.2', `{ host: '127.0.0.2', port }`),
    });
    expect(appResult(denied)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
    expect(denied.events[0]).toMatchObject({
      action: 'deny',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });

  it('at the first line, waits for its own resolution of the allowed names before judging an IP literal', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const run = await runFixture({
        policy: DENY,
        source: `
          // no await before this connect: the agent's lookup of 'localhost' has not even started
          const socket = require('node:net').connect(${port}, '127.0.0.1');
          const { report } = require(${helpers});
          socket.on('connect', () => { socket.destroy(); report({ connected: true }); });
          socket.on('error', (error) => report({ error: error.code }));
        `,
      });
      expect(appResult(run)).toEqual({ connected: true });
      expect(run.events).toEqual([]);
    } finally {
      server.close();
    }
  });

  for (const alias of ['2130706434', '0x7f000002', '0177.0.0.2', '127.2']) {
    it(`denies the numeric alias ${alias} of a non-allowed address`, async () => {
      const run = await runFixture({
        policy: DENY,
        source: connectFixture('127.0.0.2', `{ host: '${alias}', port }`),
      });
      expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
      expect(run.events[0]).toMatchObject({ action: 'deny', details: { host: alias } });
    });
  }

  it('sees through IPv4-mapped IPv6: ::ffff:127.0.0.2 is denied, ::ffff:127.0.0.1 (localhost) allowed', async () => {
    const denied = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.2', `{ host: '::ffff:127.0.0.2', port }`),
    });
    expect(appResult(denied)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
    const allowed = await runFixture({
      policy: DENY,
      source: connectFixture('127.0.0.1', `{ host: '::ffff:127.0.0.1', port }`),
    });
    expect(appResult(allowed)).toMatchObject({ connected: true, accepted: 1 });
  });

  it('denies DNS rebinding: the second answer for an allowed name points elsewhere', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { tcpServer, tryConnect, settle, report, lookupTo } = require(${helpers});
        (async () => {
          const good = await tcpServer('127.0.0.1');
          const evil = await tcpServer('127.0.0.2');
          let answers = 0;
          const rebinding = (host, options, callback) =>
            lookupTo(answers++ === 0 ? '127.0.0.1' : '127.0.0.2')(host, options, callback);
          const first = await tryConnect({ host: 'localhost', port: good.port, lookup: rebinding });
          const second = await tryConnect({ host: 'localhost', port: evil.port, lookup: rebinding });
          await settle();
          report({ first: first.connected === true, second: second.error, good: good.accepted(), evil: evil.accepted() });
          good.close();
          evil.close();
        })();
      `,
    });
    expect(appResult(run)).toEqual({ first: true, second: 'ERR_ACCESS_DENIED', good: 1, evil: 0 });
  });

  it('denies a raw tcp_wrap connect to a non-allowed address (no socket, no connection)', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { tcpServer, settle, report } = require(${helpers});
        (async () => {
          const server = await tcpServer('127.0.0.2');
          const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
          const handle = new TCP(constants.SOCKET);
          const request = new TCPConnectWrap();
          let completed = null;
          request.oncomplete = (status) => { completed = status; };
          const status = handle.connect(request, '127.0.0.2', server.port);
          await settle();
          report({ status, completed, accepted: server.accepted() });
          handle.close();
          server.close();
        })();
      `,
    });
    const outcome = appResult<{ status: number; completed: number | null; accepted: number }>(run);
    // refused at once, or (while the agent's first lookups of allowed names are out) on completion
    expect(outcome.status < 0 || (outcome.completed ?? 0) < 0).toBe(true);
    expect(outcome.accepted).toBe(0);
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });

  it('refuses a raw tcp_wrap connect whose address is not a string (instead of passing it on)', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { report } = require(${helpers});
        const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
        const handle = new TCP(constants.SOCKET);
        const request = new TCPConnectWrap();
        request.oncomplete = () => {};
        setTimeout(() => {
          report({ status: handle.connect(request, new String('127.0.0.2'), 9) });
          handle.close();
        }, 50);
      `,
    });
    expect(appResult<{ status: number }>(run).status).toBeLessThan(0);
    expect(run.events[0]).toMatchObject({ action: 'deny', target: '(not a string):9' });
  });

  it('reports a raw tcp_wrap connect under observe and lets it through', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: `
        const { tcpServer, settle, report } = require(${helpers});
        (async () => {
          const server = await tcpServer('127.0.0.2');
          const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
          const handle = new TCP(constants.SOCKET);
          const request = new TCPConnectWrap();
          request.oncomplete = () => {};
          const status = handle.connect(request, '127.0.0.2', server.port);
          await settle();
          report({ status, accepted: server.accepted() });
          handle.close();
          server.close();
        })();
      `,
    });
    expect(appResult(run)).toEqual({ status: 0, accepted: 1 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'observe',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });

  it('is not fooled by an options object whose host getter answers differently on each read', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture(
        '127.0.0.2',
        `(() => {
          let reads = 0;
          return { port, get host() { return reads++ === 0 ? 'localhost' : '127.0.0.2'; } };
        })()`,
      ),
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
  });

  it('keeps the hook when the app replaces or re-reads Socket.prototype.connect', async () => {
    const run = await runFixture({
      policy: DENY,
      source: connectFixture(
        '127.0.0.2',
        `(() => {
          const net = require('node:net');
          const saved = net.Socket.prototype.connect;
          net.Socket.prototype.connect = function (...args) { return saved.apply(this, args); };
          return { host: '127.0.0.2', port };
        })()`,
      ),
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
  });

  it('never blocks or reports the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API), even under deny', async () => {
    const runtimeApi = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => runtimeApi.listen(0, '127.0.0.2', resolve));
    const { port } = runtimeApi.address() as net.AddressInfo;
    try {
      const run = await runFixture({
        policy: policy({ name: 'net-deny-all', network: 'deny' }),
        env: { AWS_LAMBDA_RUNTIME_API: `127.0.0.2:${port}` },
        source: `
          const { tryConnect, report } = require(${helpers});
          (async () => {
            const runtime = await tryConnect({ host: '127.0.0.2', port: ${port} });
            const otherPort = await tryConnect({ host: '127.0.0.2', port: ${port === 65535 ? port - 1 : port + 1} });
            report({ runtime: runtime.connected === true, otherPort: otherPort.error });
          })();
        `,
      });
      expect(appResult(run)).toEqual({ runtime: true, otherPort: 'ERR_ACCESS_DENIED' });
      expect(run.events).toHaveLength(1);
      expect(run.events[0]!.target).not.toBe(`127.0.0.2:${port}`);
    } finally {
      runtimeApi.close();
    }
  });
});
