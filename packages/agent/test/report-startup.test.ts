// Where the policy comes from (ES_POLICY_FILE, the extension's hand-off, the control plane, its
// cache, the built-in observeAll.ability) and what happens without one (ES_FAIL_MODE).

import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appResult, appResults, ensureAgentBuilt, fixturePath, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
// connects to an IP literal (no DNS query ever leaves) on a loopback server of its own
const PROBE = `
  const { tcpServer, tryConnect, report } = require(${helpers});
  tcpServer('127.0.0.2').then(async (server) => {
    const outcome = await tryConnect({ host: '127.0.0.2', port: server.port });
    report({ error: outcome.error ?? null });
    server.close();
  });
`;
const DENY_GROUP = { name: 'from-somewhere', network: 'deny', allowedDomains: ['localhost'] };

beforeAll(() => ensureAgentBuilt(), 120_000);

describe('ES_POLICY_FILE', () => {
  it('is enforced', async () => {
    const run = await runFixture({ policy: DENY_GROUP, source: PROBE });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
    expect(run.events[0]).toMatchObject({ policyGroup: 'from-somewhere' });
  });

  it('when invalid, is refused with the field and reason, and the fail mode applies', async () => {
    const run = await runFixture({ policy: { name: 'bad', network: 'block' }, source: PROBE });
    expect(run.stderr).toMatch(/ES_POLICY_FILE .*network/);
    expect(run.stderr).toContain('ES_FAIL_MODE=observe');
    expect(appResult(run)).toEqual({ error: null });
    expect(run.events[0]).toMatchObject({
      action: 'observe',
      target: expect.stringMatching(/^127\.0\.0\.2:\d+$/),
    });
  });
});

describe('fail modes (no policy source at all)', () => {
  for (const [mode, expected] of [
    ['closed', 'ERR_ACCESS_DENIED'],
    ['observe', null],
    ['open', null],
  ] as const) {
    it(`ES_FAIL_MODE=${mode}`, async () => {
      const run = await runFixture({
        policy: null,
        env: { ES_FAIL_MODE: mode },
        source: PROBE,
      });
      expect(run.stderr).toContain(`ES_FAIL_MODE=${mode}`);
      expect(appResult(run)).toEqual({ error: expected });
      expect(run.events.length).toBe(mode === 'open' ? 0 : 1);
    });
  }

  it('rejects an unknown ES_FAIL_MODE with a log line and observes', async () => {
    const run = await runFixture({ policy: null, env: { ES_FAIL_MODE: 'panic' }, source: PROBE });
    expect(run.stderr).toContain('ES_FAIL_MODE="panic" is not one of open, observe, closed');
    expect(run.events[0]).toMatchObject({ action: 'observe' });
  });

  it('uses the built-in observeAll.ability group without any control plane', async () => {
    const run = await runFixture({
      policy: null,
      env: { ES_POLICY_GROUP_NAME: 'observeAll.ability' },
      source: PROBE,
    });
    expect(run.events[0]).toMatchObject({ action: 'observe', policyGroup: 'observeAll.ability' });
    expect(run.stderr).not.toContain('ES_FAIL_MODE');
  });
});

describe('the extension hand-off', () => {
  // atomically, as the extension writes them (temporary file + rename): the agent polls every 1 ms
  // and must never see a half-written policy.json
  const handOff = (runtimeDir: string, files: Record<string, unknown>) => {
    mkdirSync(runtimeDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      const temporary = join(runtimeDir, `.${name}.tmp`);
      writeFileSync(temporary, JSON.stringify(content));
      renameSync(temporary, join(runtimeDir, name));
    }
  };

  it('enforces the policy.json the extension left', async () => {
    const run = await runFixture({
      policy: null,
      setup: ({ runtimeDir }) =>
        handOff(runtimeDir, {
          'policy.json': { policy: DENY_GROUP, source: 'control-plane', fetchedAt: new Date().toISOString() },
        }),
      source: PROBE,
    });
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });

  it('waits while policy.pending exists, and takes the policy once it lands', async () => {
    let runtime = '';
    const running = runFixture({
      policy: null,
      env: { ES_POLICY_WAIT_MS: '5000' },
      setup: ({ runtimeDir }) => {
        runtime = runtimeDir;
        handOff(runtimeDir, { 'policy.pending': {} });
      },
      source: PROBE,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    handOff(runtime, { 'policy.json': { policy: DENY_GROUP, source: 'cache' } });
    const run = await running;
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });

  // The hooks are installed while the agent waits (their cost hides in the wait); those of the
  // categories the policy grants must come out again, exactly as Node had them, before the app runs.
  const FINGERPRINT = `
    const fn = (f) => (typeof f === 'function' ? Function.prototype.toString.call(f).slice(0, 80) : String(f));
    const fs = require('node:fs');
    const net = require('node:net');
    const childProcess = require('node:child_process');
    const wasi = Object.getOwnPropertyDescriptor(require('node:wasi').WASI.prototype, 'constructor');
    const fsBinding = process.binding('fs');
    const prepare = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    console.log(JSON.stringify({ result: {
      filesystem: [fn(fs.readFileSync), fn(fs.promises.opendir), fn(fsBinding.open), fn(wasi.value), wasi.writable],
      // wrapped while filesystem (the fs binding's copy) or network (async_wrap's) is governed
      processBinding: fn(process.binding),
      network: [fn(net.Socket.prototype.connect), fn(require('node:dns').lookup), fn(process.binding('tcp_wrap').TCP.prototype.connect)],
      process: [fn(childProcess.ChildProcess.prototype.spawn), fn(process.dlopen)],
      stackCapture: prepare ? [fn(prepare.get), prepare.configurable] : null,
      // the watch for modules loaded later (src/builtin-loads.ts) is gone when nothing waits for one
      loadListPrototype: Object.getPrototypeOf(process.moduleLoadList) === Array.prototype,
    } }));
  `;
  const fingerprintWithPolicyDuringWait = async (policy: Record<string, unknown>, source: string) => {
    let runtime = '';
    const running = runFixture({
      policy: null,
      env: { ES_POLICY_WAIT_MS: '5000', NODE_NO_WARNINGS: '1' },
      setup: ({ runtimeDir }) => {
        runtime = runtimeDir;
        handOff(runtimeDir, { 'policy.pending': {} });
      },
      source: `${FINGERPRINT}\n${source}`,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    handOff(runtime, { 'policy.json': { policy, source: 'control-plane' } });
    return appResults<Record<string, unknown>>(await running);
  };

  it('installs hooks during the wait, then takes out those of granted categories', async () => {
    const bare = appResult<Record<string, unknown>>(
      await runFixture({ agent: false, policy: null, source: FINGERPRINT, env: { NODE_NO_WARNINGS: '1' } }),
    );
    const [withAgent, probe] = await fingerprintWithPolicyDuringWait(
      { ...DENY_GROUP, filesystem: 'grant', process: 'grant' },
      PROBE,
    );
    expect(withAgent?.filesystem).toEqual(bare.filesystem);
    expect(withAgent?.process).toEqual(bare.process);
    expect(withAgent?.network).not.toEqual(bare.network);
    expect(withAgent?.processBinding).not.toEqual(bare.processBinding);
    expect(withAgent?.stackCapture).toEqual([expect.any(String), false]);
    expect(probe).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });

  it('leaves Node exactly as it was when the policy that lands grants everything', async () => {
    const bare = appResult<Record<string, unknown>>(
      await runFixture({ agent: false, policy: null, source: FINGERPRINT, env: { NODE_NO_WARNINGS: '1' } }),
    );
    const [withAgent] = await fingerprintWithPolicyDuringWait(
      { name: 'all-granted', network: 'grant', filesystem: 'grant', process: 'grant' },
      '',
    );
    expect(withAgent).toEqual(bare);
  });

  it('stops waiting after ES_POLICY_WAIT_MS and says why', async () => {
    const run = await runFixture({
      policy: null,
      env: { ES_POLICY_WAIT_MS: '100', ES_FAIL_MODE: 'closed' },
      setup: ({ runtimeDir }) => handOff(runtimeDir, { 'policy.pending': {} }),
      source: PROBE,
    });
    expect(run.stderr).toContain('did not hand over a policy within 100 ms');
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });

  it('applies the fail mode when the extension reports policy.error.json', async () => {
    const run = await runFixture({
      policy: null,
      env: { ES_FAIL_MODE: 'closed' },
      setup: ({ runtimeDir }) =>
        handOff(runtimeDir, { 'policy.error.json': { error: 'license key revoked', time: '' } }),
      source: PROBE,
    });
    expect(run.stderr).toContain('license key revoked');
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });
});

describe('the control plane (outside Lambda)', () => {
  let server: Server;
  let apiUrl = '';
  let failing = false;
  const seen: Array<{ url?: string; authorization?: string }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push({ url: request.url, authorization: request.headers.authorization });
      if (failing) {
        response.statusCode = 503;
        response.end('{"error":{"code":"UNAVAILABLE","message":"down"}}');
        return;
      }
      if (request.headers.authorization !== 'Bearer adk_live_test') {
        response.statusCode = 401;
        response.end('{"error":{"code":"UNAUTHORIZED","message":"bad key"}}');
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ ...DENY_GROUP, name: 'remote-group' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('fetches the group at start with the license key, caches it, and uses the cache when the fetch fails', async () => {
    const env = { ES_API_URL: apiUrl, ES_LICENSE_KEY: 'adk_live_test', ES_POLICY_GROUP_NAME: 'remote-group' };
    const first = await runFixture({ policy: null, env, source: PROBE });
    expect(appResult(first)).toEqual({ error: 'ERR_ACCESS_DENIED' });
    expect(first.events[0]).toMatchObject({ policyGroup: 'remote-group' });
    expect(seen.at(-1)).toEqual({
      url: '/api/v1/agent/policy?group=remote-group',
      authorization: 'Bearer adk_live_test',
    });
    const cache = join(first.runtimeDir, 'policy-cache-remote-group.json');
    expect(existsSync(cache)).toBe(true);

    failing = true;
    const second = await runFixture({
      policy: null,
      env: { ...env, ES_RUNTIME_DIR: first.runtimeDir },
      source: PROBE,
    });
    failing = false;
    expect(second.stderr).toContain('using the cached policy group "remote-group"');
    expect(appResult(second)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });

  it('says why when the key is refused, and applies the fail mode', async () => {
    const run = await runFixture({
      policy: null,
      env: {
        ES_API_URL: apiUrl,
        ES_LICENSE_KEY: 'wrong',
        ES_POLICY_GROUP_NAME: 'remote-group',
        ES_FAIL_MODE: 'closed',
      },
      source: PROBE,
    });
    expect(run.stderr).toContain('HTTP 401');
    expect(appResult(run)).toEqual({ error: 'ERR_ACCESS_DENIED' });
  });
});
