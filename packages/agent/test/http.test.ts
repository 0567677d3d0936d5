// HTTP clients: http/https/http2, global fetch and WebSocket (Node's bundled undici), userland
// undici. They all end in net.Socket#connect, so they are blocked there; the http hooks add the URL.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appResult,
  ensureAgentBuilt,
  fixturePath,
  policy,
  requireDependency,
  runFixture,
} from './harness.js';

const netHelpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const httpHelpers = JSON.stringify(fixturePath('http-helpers.cjs'));
const DENY = policy({ name: 'http-deny', network: 'deny', allowedDomains: ['localhost'] });
const OBSERVE = policy({ name: 'http-observe', network: 'observe' });
const GRANT = policy({ name: 'http-grant', network: 'grant' });

/** Serves on `serverHost`, runs `request` (JS evaluating to a promise, with `server`), reports. */
function requestFixture(serverHost: string, request: string, server = 'httpServer'): string {
  return `
    const { outcome, settle, report } = require(${netHelpers});
    const helpers = require(${httpHelpers});
    const http = require('node:http');
    const https = require('node:https');
    const http2 = require('node:http2');
    (async () => {
      const server = await helpers.${server}(${JSON.stringify(serverHost)});
      const result = await outcome(() => ${request});
      await settle();
      report({ ...result, accepted: server.accepted() });
      server.close();
    })();
  `;
}

const HTTP_GET = (url: string) => `new Promise((resolve, reject) => {
  http.get(${url}, (response) => { let body = ''; response.on('data', (c) => (body += c)); response.on('end', () => resolve(JSON.parse(body))); })
    .on('error', reject);
})`;
const HTTP2_GET = (url: string) => `new Promise((resolve, reject) => {
  const session = http2.connect(${url});
  session.on('error', reject);
  const stream = session.request({ ':path': '/' });
  stream.on('error', reject);
  let body = '';
  stream.on('data', (c) => (body += c));
  stream.on('end', () => { session.close(); resolve(body); });
})`;
const FETCH = (url: string) =>
  `fetch(${url}, { method: 'POST', body: 'hi' }).then((response) => response.json())`;
const UNDICI = (url: string) =>
  `${requireDependency('undici')}.request(${url}, { method: 'PUT', body: 'hi' }).then(({ body }) => body.json())`;
const WEBSOCKET = (url: string) => `new Promise((resolve, reject) => {
  const socket = new WebSocket(${url});
  socket.onopen = () => { socket.close(); resolve('open'); };
  socket.onerror = (event) => reject(event.error ?? new Error('websocket error'));
})`;

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('HTTP clients under deny', () => {
  const cases: Array<[string, (url: string) => string, string?]> = [
    ['http.get', HTTP_GET],
    ['https.get', (url) => HTTP_GET(url).replace('http.get', 'https.get')],
    ['http2.connect', HTTP2_GET, 'http2Server'],
    ['global fetch', FETCH],
    ['userland undici', UNDICI],
  ];
  for (const [name, request, server] of cases) {
    it(`${name}: a non-allowed host is refused with ERR_ACCESS_DENIED and the server sees nothing`, async () => {
      const scheme = name === 'https.get' ? 'https' : 'http';
      const run = await runFixture({
        policy: DENY,
        source: requestFixture(
          '127.0.0.2',
          request(`'${scheme}://127.0.0.2:' + server.port + '/pay'`),
          server,
        ),
      });
      const outcome = appResult<{ error?: string; cause?: string; accepted: number }>(run);
      expect(outcome.error === 'ERR_ACCESS_DENIED' || outcome.cause === 'ERR_ACCESS_DENIED').toBe(true);
      expect(outcome.accepted).toBe(0);
      expect(run.events).toHaveLength(1);
      expect(run.events[0]).toMatchObject({
        action: 'deny',
        operation: 'connect',
        target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
      });
    });

    it(`${name}: an allowed host works under deny, silently`, async () => {
      if (name === 'https.get') return; // no TLS server here; https is covered by its denial above
      const run = await runFixture({
        policy: DENY,
        source: requestFixture('127.0.0.1', request(`'http://localhost:' + server.port + '/pay'`), server),
      });
      expect(appResult(run)).toMatchObject({ ok: true, accepted: 1 });
      expect(run.events).toEqual([]);
    });
  }

  it('global WebSocket: refused to a non-allowed host', async () => {
    const denied = await runFixture({
      policy: DENY,
      nodeArgs: ['--experimental-websocket', '--no-warnings'],
      source: requestFixture('127.0.0.2', WEBSOCKET(`'ws://127.0.0.2:' + server.port + '/'`)),
    });
    const outcome = appResult<{ error?: string; accepted: number }>(denied);
    expect(outcome.error).toBeDefined();
    expect(outcome.accepted).toBe(0);
    expect(denied.events[0]).toMatchObject({
      action: 'deny',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });
});

describe('HTTP clients under observe and grant', () => {
  it("reports http.request with its URL and method (from the Agent's connect options), unchanged", async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: requestFixture(
        '127.0.0.1',
        `new Promise((resolve, reject) => {
          const request = http.request('http://localhost:' + server.port + '/orders?id=7', { method: 'post' }, (response) => {
            let body = ''; response.on('data', (c) => (body += c)); response.on('end', () => resolve(JSON.parse(body)));
          });
          request.on('error', reject);
          request.end('payload');
        })`,
      ),
    });
    expect(appResult(run)).toMatchObject({
      ok: true,
      value: { method: 'POST', url: '/orders?id=7', body: 'payload' },
      accepted: 1,
    });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'observe',
      target: expect.stringMatching(/^localhost:\d+$/),
      details: { url: expect.stringMatching(/^http:\/\/localhost:\d+\/orders\?id=7$/), method: 'POST' },
    });
  });

  it('reports fetch under observe and returns the same response', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: requestFixture('127.0.0.1', FETCH(`'http://localhost:' + server.port + '/f'`)),
    });
    expect(appResult(run)).toMatchObject({ ok: true, value: { method: 'POST', url: '/f', body: 'hi' } });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'observe', operation: 'connect' });
  });

  it('is silent under grant', async () => {
    const run = await runFixture({
      policy: GRANT,
      source: requestFixture('127.0.0.2', FETCH(`'http://127.0.0.2:' + server.port + '/f'`)),
    });
    expect(appResult(run)).toMatchObject({ ok: true, accepted: 1 });
    expect(run.events).toEqual([]);
  });
});
