// Red team, network: a hostile app under `network: deny, allowedDomains: ['localhost']` tries every
// road to 127.0.0.2 (a loopback address no allowed name resolves to). The server lives in the test
// process and must see no connection, whatever the app believes happened.
import { describe, expect, it } from 'vitest';
import { appResults, cleanup, policy, runFixture } from './harness.js';
import { attackSource, DENY_ALL, useForbiddenServer } from './redteam-support.js';

const server = useForbiddenServer();

/** Runs one attack and checks that the forbidden server saw nothing. */
async function expectBlocked(body: string): Promise<Record<string, unknown>[]> {
  const before = server.accepted();
  const run = await runFixture({
    policy: DENY_ALL,
    source: attackSource(body),
    env: { RT_PORT: String(server.port) },
  });
  const results = appResults(run);
  expect(server.accepted() - before, JSON.stringify(results)).toBe(0);
  for (const result of results) expect(result).not.toMatchObject({ connected: true });
  cleanup(run);
  return results;
}

const LOADER_ROADS: Record<string, string> = {
  'require("node:net")': `report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'module.createRequire("net")': `report(await tryConnect({ host: FORBIDDEN, port: PORT }, require('node:module').createRequire(__filename)('net')));`,
  'process.getBuiltinModule("net")': `report(await tryConnect({ host: FORBIDDEN, port: PORT }, process.getBuiltinModule('node:net')));`,
  'vm.runInNewContext + this.constructor.constructor("return process")()': `
    const hostProcess = require('node:vm').runInNewContext('this.constructor.constructor("return process")()');
    report(await tryConnect({ host: FORBIDDEN, port: PORT }, hostProcess.getBuiltinModule('net')));`,
  'a re-required net after deleting it from require.cache': `
    for (const key of Object.keys(require.cache)) delete require.cache[key];
    report(await tryConnect({ host: FORBIDDEN, port: PORT }, require('net')));`,
  'raw process.binding("tcp_wrap") connect': `
    const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
    const handle = new TCP(constants.SOCKET);
    const request = new TCPConnectWrap();
    const status = await new Promise((resolve) => {
      request.oncomplete = (code) => resolve(code);
      const returned = handle.connect(request, FORBIDDEN, PORT);
      if (returned !== 0) resolve(returned);
    });
    report({ status });`,
  'a raw TCP handle handed to new net.Socket({ handle })': `
    const { TCP, constants } = process.binding('tcp_wrap');
    const socket = new net.Socket({ handle: new TCP(constants.SOCKET) });
    report(await new Promise((resolve) => {
      socket.on('error', (error) => resolve({ error: error.code }));
      socket.connect({ host: 'localhost', port: PORT, lookup: lookupTo(FORBIDDEN) }, () => resolve({ connected: true }));
      setTimeout(() => resolve({ pending: true }), 2000).unref();
    }));`,
  'a raw handle that borrows the owner of an allowed socket': `
    const allowed = net.connect({ host: 'localhost', port: 9, lookup: lookupTo('127.0.0.1') });
    allowed.on('error', () => {});
    await settle(50);
    const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
    const handle = new TCP(constants.SOCKET);
    const ownerSymbol = allowed._handle && Object.getOwnPropertySymbols(allowed._handle).find((s) => s.description === 'owner_symbol');
    if (ownerSymbol) handle[ownerSymbol] = allowed;
    const request = new TCPConnectWrap();
    const status = await new Promise((resolve) => {
      request.oncomplete = (code) => resolve(code);
      const returned = handle.connect(request, FORBIDDEN, PORT);
      if (returned !== 0) resolve(returned);
      setTimeout(() => resolve('pending'), 1000).unref();
    });
    report({ status });`,
};

const ADDRESS_SPELLINGS: Record<string, string> = {
  'a custom lookup answering 127.0.0.2 for localhost': `report(await tryConnect({ host: 'localhost', port: PORT, lookup: lookupTo(FORBIDDEN) }));`,
  'a trailing-dot name with a custom lookup': `report(await tryConnect({ host: 'localhost.', port: PORT, lookup: lookupTo(FORBIDDEN) }));`,
  'an upper-case allowed name with a custom lookup': `report(await tryConnect({ host: 'LOCALHOST', port: PORT, lookup: lookupTo(FORBIDDEN) }));`,
  'a Unicode spelling of localhost (IDN-mapped to it) with a custom lookup': `report(await tryConnect({ host: '\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3', port: PORT, lookup: lookupTo(FORBIDDEN) }));`,
  'IPv4-mapped IPv6 ::ffff:127.0.0.2': `report(await tryConnect({ host: '::ffff:127.0.0.2', port: PORT }));`,
  'IPv4-mapped IPv6 in hex ::ffff:7f00:2': `report(await tryConnect({ host: '::ffff:7f00:2', port: PORT }));`,
  'the decimal alias 2130706434': `report(await tryConnect({ host: '2130706434', port: PORT }));`,
  'the hex alias 0x7f000002': `report(await tryConnect({ host: '0x7f000002', port: PORT }));`,
  'the short form 127.2 (inet_aton)': `report(await tryConnect({ host: '127.2', port: PORT }));`,
  'DNS rebinding: the second answer for localhost is 127.0.0.2': `
    let answers = 0;
    const rebinding = (hostname, options, callback) => {
      if (typeof options === 'function') { callback = options; options = {}; }
      const address = answers++ === 0 ? '127.0.0.1' : FORBIDDEN;
      if (options && options.all) return callback(null, [{ address, family: 4 }]);
      return callback(null, address, 4);
    };
    await tryConnect({ host: 'localhost', port: PORT, lookup: rebinding });
    report(await tryConnect({ host: 'localhost', port: PORT, lookup: rebinding }));`,
  'http.Agent#createConnection dialling elsewhere': `
    const http = require('node:http');
    const agent = new http.Agent();
    agent.createConnection = () => net.createConnection({ host: FORBIDDEN, port: PORT });
    report(await new Promise((resolve) => {
      const request = http.get({ host: 'localhost', port: PORT, agent }, (response) => resolve({ connected: true, status: response.statusCode }));
      request.on('error', (error) => resolve({ error: error.code }));
      setTimeout(() => resolve({ pending: true }), 2000).unref();
    }));`,
  'tls.connect over a socket the app connected itself': `
    const tls = require('node:tls');
    const raw = new net.Socket();
    raw.on('error', () => {});
    raw.connect({ host: FORBIDDEN, port: PORT });
    report(await new Promise((resolve) => {
      const secure = tls.connect({ socket: raw, servername: 'localhost' });
      secure.on('error', (error) => resolve({ error: error.code }));
      raw.on('connect', () => resolve({ connected: true }));
      setTimeout(() => resolve({ pending: true }), 2000).unref();
    }));`,
  'an ERR_ACCESS_DENIED caught and retried in a loop': `
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await tryConnect({ host: FORBIDDEN, port: PORT }));
    report({ outcomes: outcomes.map((o) => o.error || o.thrown || 'connected') });`,
  'Socket.prototype.connect replaced, then called through the prototype chain': `
    const hooked = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) { return hooked.apply(this, args); };
    delete net.Socket.prototype.connect;
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  'a worker started with env: {} and execArgv: []': `
    const { Worker } = require('node:worker_threads');
    const code = "const s = require('net').connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { require('worker_threads').parentPort.postMessage({ connected: true }); s.destroy(); }); s.on('error', (e) => require('worker_threads').parentPort.postMessage({ error: e.code }));";
    const worker = new Worker(code, { eval: true, env: {}, execArgv: [] });
    report(await new Promise((resolve) => { worker.on('message', resolve); worker.on('error', (e) => resolve({ error: String(e) })); }));`,
  'a worker with SHARE_ENV after NODE_OPTIONS was cleared': `
    const { Worker, SHARE_ENV } = require('node:worker_threads');
    process.env.NODE_OPTIONS = '';
    const code = "const s = require('net').connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { require('worker_threads').parentPort.postMessage({ connected: true }); s.destroy(); }); s.on('error', (e) => require('worker_threads').parentPort.postMessage({ error: e.code }));";
    const worker = new Worker(code, { eval: true, env: SHARE_ENV, execArgv: [] });
    report(await new Promise((resolve) => { worker.on('message', resolve); worker.on('error', (e) => resolve({ error: String(e) })); }));`,
  'module.register() hooks, whose initialize runs on the module hooks thread': `
    const hook = 'data:text/javascript,' + encodeURIComponent("import net from 'node:net'; export async function initialize() { await new Promise((r) => { const s = net.connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { s.destroy(); r(); }); s.on('error', () => r()); }); }");
    require('node:module').register(hook);
    await settle(500);
    report({ registered: true });`,
  "an IP literal at the app's first line, while the agent's own lookups of allowed names are still out": `
    const outcomes = await Promise.all([
      tryConnect({ host: FORBIDDEN, port: PORT }),
      new Promise((resolve) => {
        const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
        const request = new TCPConnectWrap();
        request.oncomplete = (status) => resolve({ status });
        const returned = new TCP(constants.SOCKET).connect(request, FORBIDDEN, PORT);
        if (returned !== 0) resolve({ status: returned });
      }),
    ]);
    report({ outcomes });`,
  "teaching the agent a fake address for localhost: a raw cares_wrap lookup's completion called by hand": `
    const cares = process.binding('cares_wrap');
    const request = new cares.GetAddrInfoReqWrap();
    request.oncomplete = () => {};
    cares.getaddrinfo(request, 'localhost', 4, 0, 0);
    request.oncomplete(0, [FORBIDDEN]);
    await settle(100);
    report(await tryConnect({ host: FORBIDDEN, port: PORT }));`,
  "teaching the agent a fake address: a lookup's request grabbed through async_hooks, completed by hand (also via nextTick)": `
    const asyncHooks = require('node:async_hooks');
    const requests = [];
    const hook = asyncHooks.createHook({ init(id, type, trigger, resource) { if (type === 'GETADDRINFOREQWRAP') requests.push(resource); } }).enable();
    require('node:dns').lookup('localhost', { family: 4 }, () => {});
    require('node:dns').lookup('localhost', { all: true }, () => {});
    hook.disable();
    for (const request of requests) {
      try { request.oncomplete(0, [FORBIDDEN]); } catch {}
      try { if (request.callback) request.callback(null, [{ address: FORBIDDEN, family: 4 }]); } catch {}
      process.nextTick(() => { try { request.oncomplete(0, [FORBIDDEN]); } catch {} });
    }
    await settle(100);
    report({ requests: requests.length, ...(await tryConnect({ host: FORBIDDEN, port: PORT })) });`,
  '0.0.0.0 (reaches local listeners)': `report(await tryConnect({ host: '0.0.0.0', port: PORT }));`,
  '[::] (reaches local listeners)': `report(await tryConnect({ host: '::', port: PORT }));`,
  'inspector Session + Runtime.evaluate': `
    const inspector = require('node:inspector');
    const session = new inspector.Session();
    session.connect();
    const expression = "new Promise((r) => { const s = process.getBuiltinModule('net').connect({ host: '127.0.0.2', port: " + PORT + " }); s.on('connect', () => { r('connected'); s.destroy(); }); s.on('error', (e) => r(e.code)); })";
    const value = await new Promise((resolve) => session.post('Runtime.evaluate', { expression, awaitPromise: true }, (error, result) => resolve(error ? String(error) : result.result.value)));
    report({ error: value });`,
  'dgram to 127.0.0.2 with the TCP port (a UDP packet is no TCP connection, but must still be refused)': `
    const dgram = require('node:dgram');
    const socket = dgram.createSocket('udp4');
    report(await new Promise((resolve) => socket.send('x', PORT, FORBIDDEN, (error) => { socket.close(); resolve(error ? { error: error.code } : { sent: true }); })));`,
};

describe('red team: roads to the network', () => {
  it('has an observer that would see a connection (control: the same attack under network grant)', async () => {
    const before = server.accepted();
    const run = await runFixture({
      policy: policy({ name: 'redteam-grant', network: 'grant' }),
      source: attackSource(`report(await tryConnect({ host: FORBIDDEN, port: PORT }));`),
      env: { RT_PORT: String(server.port) },
    });
    expect(appResults(run)).toEqual([{ connected: true }]);
    expect(server.accepted() - before).toBe(1);
    cleanup(run);
  });
  for (const [name, body] of Object.entries(LOADER_ROADS)) {
    it(`blocks ${name}`, async () => {
      await expectBlocked(body);
    });
  }
  for (const [name, body] of Object.entries(ADDRESS_SPELLINGS)) {
    it(`blocks ${name}`, async () => {
      const results = await expectBlocked(body);
      if (name.startsWith('dgram') || name.includes('listeners'))
        expect(results[0]).toMatchObject({ error: 'ERR_ACCESS_DENIED' });
    });
  }
});
