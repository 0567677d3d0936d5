/**
 * The layer end to end with deny policies of a registered account: operations fail inside the
 * handler with ERR_ACCESS_DENIED, deny events reach the control plane, allowedDomains lets the
 * named hosts through, terminateOnDeny ends the process before the operation.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freshDir, spooledIds, startFunction, useLayerAndControlPlane } from './harness.js';

const setup = useLayerAndControlPlane();
const targets: net.Server[] = [];

async function listenOn(host: string): Promise<number> {
  const server = net.createServer((socket) => socket.end());
  targets.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

afterAll(async () => {
  for (const server of targets) server.close();
});

function envFor(licenseKey: string, group: string): Record<string, string> {
  return { ES_API_URL: setup.plane.url, ES_LICENSE_KEY: licenseKey, ES_POLICY_GROUP_NAME: group };
}

describe('deny policies end to end', () => {
  it('denies outbound and /tmp writes with ERR_ACCESS_DENIED, and reports deny events', async () => {
    // Prepare
    const port = await listenOn('127.0.0.1');
    const licenseKey = await setup.plane.accountWithGroup({
      name: 'e2e-deny-network-files',
      network: 'deny',
      filesystem: 'deny',
      process: 'observe',
    });
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: envFor(licenseKey, 'e2e-deny-network-files'),
    });
    const written = join(freshDir('denied-writes'), 'out.txt');

    // Act
    const result = await fn.lambda.invoke({ connect: { host: '127.0.0.1', port }, write: written });

    // Assess
    expect(result.status).toBe('success');
    expect(result.result).toEqual({
      module: 'commonjs',
      connect: 'ERR_ACCESS_DENIED',
      write: 'ERR_ACCESS_DENIED',
    });
    expect(fs.existsSync(written)).toBe(false);
    const stored = await setup.plane.storedEvents(licenseKey);
    const denied = stored.filter((event) => event.action === 'deny');
    expect(denied.find((event) => event.category === 'network')).toMatchObject({
      operation: 'connect',
      target: `127.0.0.1:${port}`,
      terminated: false,
    });
    // the handler's first write is the mkdir of the file's directory: that is what gets denied
    expect(
      denied.some(
        (event) => event.category === 'filesystem' && String(event.target).startsWith(dirname(written)),
      ),
    ).toBe(true);
    expect(stored.every((event) => event.policyGroup === 'e2e-deny-network-files')).toBe(true);
    expect(stored.map((event) => event.id).sort()).toEqual(spooledIds(fn.runtimeDir).sort());
    await fn.lambda.shutdown();
  });

  // The runtime itself loads a native addon (the Runtime API client) at start: process "deny" must
  // not stop the runtime the function needs to live (contract §1), only the function's own spawns.
  it('denies spawns with ERR_ACCESS_DENIED without stopping the runtime, and reports the deny event', async () => {
    const licenseKey = await setup.plane.accountWithGroup({
      name: 'e2e-deny-process',
      network: 'observe',
      filesystem: 'observe',
      process: 'deny',
    });
    const fn = await startFunction({ layerDir: setup.layerDir, env: envFor(licenseKey, 'e2e-deny-process') });
    const result = await fn.lambda.invoke({ spawn: true });
    expect(result.result).toEqual({ module: 'commonjs', spawn: 'ERR_ACCESS_DENIED' });
    const stored = await setup.plane.storedEvents(licenseKey);
    expect(stored.some((event) => event.category === 'process' && event.action === 'deny')).toBe(true);
    await fn.lambda.shutdown();
  });

  it('lets allowedDomains through when network is denied, and denies the rest', async () => {
    // Prepare: one target reached by an allowed name, one by an address no allowed name resolves to
    const allowedPort = await listenOn('127.0.0.1');
    const otherPort = await listenOn('127.0.0.2');
    const licenseKey = await setup.plane.accountWithGroup({
      name: 'e2e-allowed-domains',
      network: 'deny',
      filesystem: 'grant',
      process: 'grant',
      allowedDomains: ['localhost'],
    });
    const fn = await startFunction({
      layerDir: setup.layerDir,
      kind: 'esm',
      env: envFor(licenseKey, 'e2e-allowed-domains'),
    });

    // Act
    const allowed = await fn.lambda.invoke({ connect: { host: 'localhost', port: allowedPort } });
    const denied = await fn.lambda.invoke({ connect: { host: '127.0.0.2', port: otherPort } });

    // Assess
    expect(allowed.result).toEqual({ module: 'esm', connect: 'ok' });
    expect(denied.result).toEqual({ module: 'esm', connect: 'ERR_ACCESS_DENIED' });
    const stored = await setup.plane.storedEvents(licenseKey);
    expect(stored.filter((event) => event.action === 'deny').map((event) => event.target)).toEqual([
      `127.0.0.2:${otherPort}`,
    ]);
    await fn.lambda.shutdown();
  });

  it('terminateOnDeny ends the process before the operation, and the deny event still arrives', async () => {
    // Prepare
    const port = await listenOn('127.0.0.1');
    const licenseKey = await setup.plane.accountWithGroup({
      name: 'e2e-terminate',
      network: 'deny',
      filesystem: 'grant',
      process: 'grant',
      terminateOnDeny: true,
    });
    const fn = await startFunction({ layerDir: setup.layerDir, env: envFor(licenseKey, 'e2e-terminate') });
    let connections = 0;
    targets.at(-1)?.on('connection', () => connections++);

    // Act
    const terminated = await fn.lambda.invoke({ connect: { host: '127.0.0.1', port } });

    // Assess: the invocation failed (the runtime exited), the environment was reset, the event is there
    expect(terminated.ok).toBe(false);
    expect(terminated.reset).toBe('failure');
    await eventually('the terminating deny event', async () =>
      (await setup.plane.storedEvents(licenseKey)).some(
        (event) => event.category === 'network' && event.action === 'deny' && event.terminated === true,
      ),
    );
    expect(connections).toBe(0);

    // Act: the next invocation starts a fresh environment, protected again
    const again = await fn.lambda.invoke({ write: join(freshDir('after-terminate'), 'x.txt') });
    expect(again.status).toBe('success');
    expect(again.result).toEqual({ module: 'commonjs', write: 'ok' });
    await fn.lambda.shutdown();
  });
});
