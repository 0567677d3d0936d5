/**
 * The layer end to end with observeAll.ability and a temporary key: the local Lambda (real
 * aws-lambda-ric) starts through the wrapper with the extension, the handler's operations work and
 * are observed, events and the function reach a real control plane.
 */
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freshDir, spooledIds, startFunction, useLayerAndControlPlane } from './harness.js';

const setup = useLayerAndControlPlane();
let target: net.Server;
let targetPort: number;

beforeAll(async () => {
  target = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as net.AddressInfo).port;
});

afterAll(async () => {
  target?.close();
});

describe.each(['cjs', 'esm'] as const)('observeAll.ability, %s handler', (kind) => {
  it('lets the handler connect out, write /tmp and spawn; observe events and the function reach the control plane', async () => {
    // Prepare
    const licenseKey = await setup.plane.temporaryKey();
    const written = join(freshDir('writes'), 'out.txt');
    const fn = await startFunction({
      layerDir: setup.layerDir,
      kind,
      env: {
        ES_API_URL: setup.plane.url,
        ES_LICENSE_KEY: licenseKey,
        ES_POLICY_GROUP_NAME: 'observeAll.ability',
      },
    });

    // Act
    const result = await fn.lambda.invoke({
      connect: { host: '127.0.0.1', port: targetPort },
      write: written,
      spawn: true,
    });

    // Assess: the operations worked
    expect(result.status).toBe('success');
    expect(result.result).toEqual({
      module: kind === 'cjs' ? 'commonjs' : 'esm',
      connect: 'ok',
      write: 'ok',
      spawn: 'ok',
    });

    // Assess: observe events were delivered before the invocation ended (no waiting needed)
    const stored = await setup.plane.storedEvents(licenseKey);
    const observed = stored.map((event) => `${event.category}:${event.action}`);
    expect(observed).toEqual(
      expect.arrayContaining(['network:observe', 'filesystem:observe', 'process:observe']),
    );
    expect(stored.find((event) => event.category === 'network')).toMatchObject({
      operation: 'connect',
      target: `127.0.0.1:${targetPort}`,
      policyGroup: 'observeAll.ability',
    });
    expect(stored.some((event) => event.category === 'filesystem' && event.target === written)).toBe(true);
    expect(stored.map((event) => event.id).sort()).toEqual(spooledIds(fn.runtimeDir).sort());

    // Assess: the function is registered as AWS / nodejs20.x
    await eventually(
      'function registration',
      async () => (await setup.plane.functions(licenseKey)).length === 1,
    );
    expect((await setup.plane.functions(licenseKey))[0]).toMatchObject({
      provider: 'aws',
      runtime: 'nodejs20.x',
      region: 'us-east-1',
      accountId: '123456789012',
      functionName: 'lambda-sim-function',
      policyGroup: 'observeAll.ability',
      architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
      memoryMb: 128,
      coldStarts: 1,
    });

    await fn.lambda.shutdown();
  });
});

describe('shutdown', () => {
  it('delivers events written while the runtime exits, before the extension exits', async () => {
    // Prepare: the handler writes a file in its SIGTERM handler
    const licenseKey = await setup.plane.temporaryKey();
    const lastWords = join(freshDir('sigterm'), 'bye.txt');
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: {
        ES_API_URL: setup.plane.url,
        ES_LICENSE_KEY: licenseKey,
        ES_POLICY_GROUP_NAME: 'observeAll.ability',
        E2E_WRITE_ON_SIGTERM: lastWords,
      },
    });
    expect((await fn.lambda.invoke({ write: join(freshDir('writes'), 'a.txt') })).status).toBe('success');

    // Act
    const shutdown = await fn.lambda.shutdown();

    // Assess: the extension exited by itself (not killed) after delivering the late event
    expect(shutdown.killed).not.toContain('extension:appdefender');
    const stored = await setup.plane.storedEvents(licenseKey);
    expect(stored.some((event) => event.target === lastWords)).toBe(true);
    expect(stored.map((event) => event.id).sort()).toEqual(spooledIds(fn.runtimeDir).sort());
    expect(fn.lambda.logs.join('\n')).toMatch(
      /shutdown \(spindown\): \d+ events delivered, 0 dropped, 0 bytes undelivered/,
    );
  });
});
