/**
 * The layer under stress and failure, end to end in the local Lambda: the control plane down,
 * hundreds of invocations delivered exactly once, and the wrapper's fallbacks and chaining as the
 * real bootstrap runs them.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDir, spooledIds, startFunction, useLayerAndControlPlane } from './harness.js';

const setup = useLayerAndControlPlane();

/** A loopback port nobody listens on: the control plane is down. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('control plane down', () => {
  it('the function still initialises and answers, without waiting on delivery', async () => {
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: {
        ES_API_URL: `http://127.0.0.1:${await closedPort()}`,
        ES_LICENSE_KEY: 'adk_live_unreachable',
        ES_POLICY_GROUP_NAME: 'payments-strict',
      },
    });
    for (let index = 0; index < 3; index++) {
      const result = await fn.lambda.invoke({ write: join(freshDir('down'), 'x.txt') });
      expect(result.status).toBe('success');
      expect(result.result).toEqual({ module: 'commonjs', write: 'ok' });
      // the extension's end-of-invocation flush gives up at once while delivery backs off
      expect(result.postRuntimeDurationMs).toBeLessThan(1500);
    }
    const logs = fn.lambda.logs.join('\n');
    expect(logs).toContain('no policy group for the agent');
    expect(logs).toContain('event delivery failed');
    await fn.lambda.shutdown();
  });
});

describe('hundreds of invocations', () => {
  it('delivers every event exactly once', async () => {
    // Prepare
    const licenseKey = await setup.plane.temporaryKey();
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: {
        ES_API_URL: setup.plane.url,
        ES_LICENSE_KEY: licenseKey,
        ES_POLICY_GROUP_NAME: 'observeAll.ability',
      },
    });
    const writes = freshDir('many');

    // Act: each invocation writes a file of its own, so each makes distinct events
    for (let index = 0; index < 300; index++) {
      const result = await fn.lambda.invoke({ write: join(writes, `${index}.txt`) });
      expect(result.status).toBe('success');
    }
    await fn.lambda.shutdown();

    // Assess: what the agent spooled is what the control plane has, and each id was sent once
    const spooled = spooledIds(fn.runtimeDir);
    expect(spooled.length).toBeGreaterThanOrEqual(300);
    const stored = (await setup.plane.storedEvents(licenseKey)).map((event) => event.id as string);
    expect(stored.length).toBe(spooled.length);
    expect(new Set(stored)).toEqual(new Set(spooled));
    const sentTwice = [...setup.plane.sentIds.entries()].filter(
      ([id, count]) => spooled.includes(id) && count !== 1,
    );
    expect(sentTwice).toEqual([]);
  }, 120_000);
});

describe('wrapper in the Lambda bootstrap', () => {
  it('runs the function unprotected, saying so once, when the agent is missing from the layer', async () => {
    const broken = freshDir('layer-no-agent');
    fs.cpSync(setup.layerDir, broken, { recursive: true });
    fs.rmSync(join(broken, 'appdefender', 'agent.cjs'));
    const fn = await startFunction({ layerDir: broken, env: { ES_POLICY_FILE: '/nonexistent/policy.json' } });
    const result = await fn.lambda.invoke({ write: join(freshDir('unprotected'), 'x.txt') });
    expect(result.result).toEqual({ module: 'commonjs', write: 'ok' });
    const notes = fn.lambda.logs.filter((line) => line.includes('running the function UNPROTECTED'));
    expect(notes).toEqual([
      `[appdefender] agent not found at ${join(broken, 'appdefender', 'agent.cjs')}; running the function UNPROTECTED`,
    ]);
    await fn.lambda.shutdown();
  });

  it('chains to another vendor wrapper named in ES_CHAINED_WRAPPER, with the agent loaded', async () => {
    const vendor = join(freshDir('vendor'), 'vendor_wrapper');
    fs.writeFileSync(vendor, '#!/bin/bash\necho "vendor wrapper ran: $1"\nexec "$@"\n', { mode: 0o755 });
    const policyFile = join(freshDir('policy'), 'policy.json');
    fs.writeFileSync(
      policyFile,
      JSON.stringify({ name: 'local', network: 'deny', filesystem: 'grant', process: 'grant' }),
    );
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: { ES_CHAINED_WRAPPER: vendor, ES_POLICY_FILE: policyFile },
    });
    const result = await fn.lambda.invoke({ connect: { host: '127.0.0.1', port: await closedPort() } });
    // denied by the agent (not refused by the closed port): the agent is loaded behind the chain
    expect(result.result).toEqual({ module: 'commonjs', connect: 'ERR_ACCESS_DENIED' });
    expect(fn.lambda.logs.some((line) => line.startsWith('vendor wrapper ran: '))).toBe(true);
    await fn.lambda.shutdown();
  });
});
