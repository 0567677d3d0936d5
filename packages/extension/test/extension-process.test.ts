/**
 * The extension as Lambda runs it: the bash launcher (early registration over /dev/tcp) exec'ing
 * the bundled extension.cjs, against loopback fakes of the Extensions/Telemetry APIs and of the
 * control plane. Each test gets a fresh layer dir and runtime dir.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { buildExtension, launcherPath } from '../build.mjs';
import {
  type FakeControlPlane,
  type FakeLambdaApi,
  startFakeControlPlane,
  startFakeLambdaApi,
} from './fakes.js';

const LICENSE_KEY = 'adk_test_key';
// absolute, so a test can hide node from PATH without hiding bash
const BASH = fs.existsSync('/bin/bash') ? '/bin/bash' : '/usr/bin/bash';
const POLICY = { name: 'payments-strict', network: 'deny', filesystem: 'observe', process: 'deny' };

let layerDir: string;

beforeAll(async () => {
  layerDir = fs.mkdtempSync(join(tmpdir(), 'appdefender-layer-'));
  fs.mkdirSync(join(layerDir, 'extensions'));
  fs.mkdirSync(join(layerDir, 'appdefender'));
  fs.copyFileSync(launcherPath, join(layerDir, 'extensions', 'appdefender'));
  fs.chmodSync(join(layerDir, 'extensions', 'appdefender'), 0o755);
  await buildExtension({ outfile: join(layerDir, 'appdefender', 'extension.cjs') });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startLauncher(
  env: Record<string, string>,
  launcher = join(layerDir, 'extensions', 'appdefender'),
): Running {
  const child = spawn(BASH, [launcher], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output, exited };
}

async function setup(options: { controlPlane?: boolean; tls?: { key: string; cert: string } } = {}) {
  const lambda = await startFakeLambdaApi();
  cleanups.push(() => lambda.close());
  let plane: FakeControlPlane | undefined;
  if (options.controlPlane !== false) {
    plane = await startFakeControlPlane({
      licenseKey: LICENSE_KEY,
      policy: POLICY,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    cleanups.push(() => plane!.close());
  }
  const runtimeDir = fs.mkdtempSync(join(tmpdir(), 'appdefender-rt-'));
  const env: Record<string, string> = {
    AWS_LAMBDA_RUNTIME_API: lambda.address,
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_FUNCTION_NAME: 'fn',
    ES_RUNTIME_DIR: runtimeDir,
    ES_LICENSE_KEY: LICENSE_KEY,
    ES_POLICY_GROUP_NAME: POLICY.name,
    ES_API_URL: plane?.url ?? 'http://127.0.0.1:9',
    ES_TELEMETRY_LISTEN_HOST: '127.0.0.1',
  };
  return { lambda, plane, runtimeDir, env };
}

/** A key and self-signed certificate for 127.0.0.1 (openssl), the certificate also in a file. */
function selfSignedCertificate(): { key: string; cert: string; certFile: string } {
  const dir = fs.mkdtempSync(join(tmpdir(), 'appdefender-tls-'));
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.error?.message ?? result.stderr}`);
  return {
    key: fs.readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: fs.readFileSync(join(dir, 'cert.pem'), 'utf8'),
    certFile: join(dir, 'cert.pem'),
  };
}

function appendEvents(runtimeDir: string, prefix: string, count: number): string[] {
  const ids: string[] = [];
  let text = '';
  for (let index = 0; index < count; index++) {
    const id = `${prefix}-${index}`;
    ids.push(id);
    text += `${JSON.stringify({ id, time: new Date().toISOString(), category: 'filesystem', action: 'observe', operation: 'write', target: '/tmp/x', terminated: false, policyGroup: POLICY.name })}\n`;
  }
  fs.appendFileSync(join(runtimeDir, 'events.ndjson'), text);
  return ids;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The policy fetch runs after the first `next` (it must not hold Init): wait for its hand-off. */
async function handOffDone(runtimeDir: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (fs.existsSync(join(runtimeDir, 'policy.pending'))) {
    if (Date.now() > deadline) throw new Error('policy.pending still there');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function runInvocation(
  lambda: FakeLambdaApi,
  requestId: string,
  nextCount: number,
  during?: () => void,
) {
  lambda.invoke(requestId);
  // the extension received INVOKE once it is no longer the one waiting: give it the event, then finish
  await new Promise((resolve) => setTimeout(resolve, 20));
  during?.();
  await lambda.runtimeDone(requestId);
  await lambda.waitForNext(nextCount);
}

describe('extension launcher + extension.cjs', () => {
  it('registers early, hands the policy over, delivers events before the next `next` and at SHUTDOWN', async () => {
    // Prepare
    const { lambda, plane, runtimeDir, env } = await setup();
    const running = startLauncher(env);

    // Act: init
    await lambda.waitForNext(1);
    await handOffDone(runtimeDir);

    // Assess: registered once (by the launcher), with the account id feature, policy handed over
    expect(lambda.registrations).toEqual([{ name: 'appdefender', acceptFeature: 'accountId' }]);
    expect(lambda.telemetryDestination).toMatch(/^http:\/\/sandbox\.localdomain:\d+$/);
    const handOff = JSON.parse(fs.readFileSync(join(runtimeDir, 'policy.json'), 'utf8'));
    expect(handOff).toMatchObject({
      source: 'control-plane',
      policy: { name: POLICY.name, network: 'deny' },
    });
    expect(fs.existsSync(join(runtimeDir, 'policy.pending'))).toBe(false);
    fs.writeFileSync(
      join(runtimeDir, 'runtime.json'),
      JSON.stringify({ runtime: 'nodejs20.x', agentVersion: '0.1.0' }),
    );

    // Act: an invocation writing events, then runtimeDone
    let ids: string[] = [];
    await runInvocation(lambda, 'req-1', 2, () => {
      ids = appendEvents(runtimeDir, 'a', 3);
    });

    // Assess: everything arrived before the extension asked for the next event
    expect(plane!.events.map((event) => event.id)).toEqual(ids);
    expect(plane!.functions).toEqual([
      expect.objectContaining({
        provider: 'aws',
        region: 'eu-west-1',
        accountId: '123456789012',
        runtime: 'nodejs20.x',
        architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
        memoryMb: 256,
        functionName: 'fn',
        policyGroup: POLICY.name,
        agentVersion: '0.1.0',
        coldStart: true,
      }),
    ]);

    // Act: events written right before SHUTDOWN
    const late = appendEvents(runtimeDir, 'late', 2);
    lambda.shutdown();

    // Assess
    expect(await running.exited).toBe(0);
    expect(plane!.events.map((event) => event.id)).toEqual([...ids, ...late]);
    expect(running.output()).toContain('5 events delivered, 0 dropped');
  });

  it('delivers events as they are spooled, while the invocation is still running', async () => {
    const { lambda, plane, runtimeDir, env } = await setup();
    const running = startLauncher(env);
    await lambda.waitForNext(1);
    lambda.invoke('long-running');
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Act: the handler is still running (no runtimeDone yet) and the agent spools events
    const ids = appendEvents(runtimeDir, 'live', 3);

    // Assess: they arrive without waiting for the end of the invocation
    await until(() => plane!.events.length === 3);
    expect(plane!.events.map((event) => event.id)).toEqual(ids);
    expect(lambda.nextCalls()).toBe(1);
    await lambda.runtimeDone('long-running');
    await lambda.waitForNext(2);
    lambda.shutdown();
    expect(await running.exited).toBe(0);
    expect(plane!.events.length).toBe(3);
  });

  it('delivers every event exactly once across hundreds of invocations', async () => {
    const { lambda, plane, runtimeDir, env } = await setup();
    const running = startLauncher(env);
    await lambda.waitForNext(1);
    const expected: string[] = [];
    for (let index = 0; index < 200; index++) {
      await runInvocation(lambda, `req-${index}`, index + 2, () => {
        expected.push(...appendEvents(runtimeDir, `i${index}`, (index % 3) + 1));
      });
    }
    lambda.shutdown();
    expect(await running.exited).toBe(0);
    const received = plane!.events.map((event) => event.id);
    expect(received.length).toBe(expected.length);
    expect(new Set(received).size).toBe(expected.length);
    expect(received).toEqual(expected);
  }, 60_000);

  it('rotates the spool as it is delivered, still delivering every event exactly once', async () => {
    const { lambda, plane, runtimeDir, env } = await setup();
    const running = startLauncher({ ...env, ES_SPOOL_ROTATE_BYTES: '1500', ES_SPOOL_ROTATE_GRACE_MS: '30' });
    await lambda.waitForNext(1);
    const expected: string[] = [];
    let rotatedSeen = 0;
    for (let index = 0; index < 60; index++) {
      await runInvocation(lambda, `req-${index}`, index + 2, () => {
        expected.push(...appendEvents(runtimeDir, `i${index}`, (index % 3) + 1));
      });
      if (fs.existsSync(join(runtimeDir, 'events.ndjson.rotated'))) rotatedSeen++;
      if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100)); // grace passes
    }
    lambda.shutdown();
    expect(await running.exited).toBe(0);
    expect(plane!.events.map((event) => event.id)).toEqual(expected);
    expect(rotatedSeen).toBeGreaterThan(0);
    // what is left in /tmp is far less than what was written: rotated files were deleted
    const left = ['events.ndjson', 'events.ndjson.rotated']
      .map((name) => join(runtimeDir, name))
      .filter((path) => fs.existsSync(path))
      .reduce((sum, path) => sum + fs.statSync(path).size, 0);
    expect(left).toBeLessThan(4000);
  }, 60_000);

  it('honours Retry-After and keeps events in the spool until the control plane takes them', async () => {
    const { lambda, plane, runtimeDir, env } = await setup();
    const running = startLauncher({ ...env, ES_FLUSH_BUDGET_MS: '3000' });
    await lambda.waitForNext(1);
    plane!.failEvents = { status: 503, retryAfterSeconds: 1, times: 1 };
    let ids: string[] = [];
    const started = Date.now();
    await runInvocation(lambda, 'req-1', 2, () => {
      ids = appendEvents(runtimeDir, 'r', 4);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(plane!.eventRequests).toBeGreaterThanOrEqual(2);
    expect(plane!.events.map((event) => event.id)).toEqual(ids);
    lambda.shutdown();
    expect(await running.exited).toBe(0);
  });

  it('with the control plane down: initialises at once, falls back to the cached policy, does not hold invocations', async () => {
    // Prepare: a first start fills the cache
    const first = await setup();
    const firstRun = startLauncher(first.env);
    await first.lambda.waitForNext(1);
    await handOffDone(first.runtimeDir);
    first.lambda.shutdown();
    expect(await firstRun.exited).toBe(0);
    await first.plane!.close();

    // Act: a later start of the same environment (same runtime dir) with the control plane gone
    const lambda = await startFakeLambdaApi();
    cleanups.push(() => lambda.close());
    const started = Date.now();
    const running = startLauncher({ ...first.env, AWS_LAMBDA_RUNTIME_API: lambda.address });
    await lambda.waitForNext(1);
    await handOffDone(first.runtimeDir);
    const initMs = Date.now() - started;

    // Assess: the cached copy is handed over within the fetch budget
    expect(initMs).toBeLessThan(3000);
    expect(JSON.parse(fs.readFileSync(join(first.runtimeDir, 'policy.json'), 'utf8'))).toMatchObject({
      source: 'cache',
      policy: { name: POLICY.name },
    });
    await until(() => running.output().includes('using the cached policy group'));

    // Act: invocations with events while nobody takes them
    for (let index = 0; index < 3; index++) {
      const before = Date.now();
      await runInvocation(lambda, `req-${index}`, index + 2, () =>
        appendEvents(first.runtimeDir, `d${index}`, 2),
      );
      expect(Date.now() - before).toBeLessThan(1500);
    }
    lambda.shutdown();
    expect(await running.exited).toBe(0);
    expect(running.output()).toMatch(/0 events delivered, 0 dropped, \d+ bytes undelivered/);
  });

  it("on a restart in the same environment, the agent never sees the previous start's hand-off", async () => {
    // Prepare: a first start leaves policy.json in the runtime dir
    const first = await setup();
    const firstRun = startLauncher(first.env);
    await first.lambda.waitForNext(1);
    await handOffDone(first.runtimeDir);
    first.lambda.shutdown();
    expect(await firstRun.exited).toBe(0);
    expect(fs.existsSync(join(first.runtimeDir, 'policy.json'))).toBe(true);
    first.plane!.policy = { ...POLICY, network: 'observe' };

    // Act: the restart; note what the runtime (started right after registration) would find
    const seenAtRegistration: Array<{ policy: boolean; pending: boolean }> = [];
    const lambda = await startFakeLambdaApi({
      onRegister: () =>
        seenAtRegistration.push({
          policy: fs.existsSync(join(first.runtimeDir, 'policy.json')),
          pending: fs.existsSync(join(first.runtimeDir, 'policy.pending')),
        }),
    });
    cleanups.push(() => lambda.close());
    const running = startLauncher({ ...first.env, AWS_LAMBDA_RUNTIME_API: lambda.address });
    await lambda.waitForNext(1);
    await handOffDone(first.runtimeDir);

    // Assess: at registration only the marker was there; then this start's policy
    expect(seenAtRegistration).toEqual([{ policy: false, pending: true }]);
    expect(JSON.parse(fs.readFileSync(join(first.runtimeDir, 'policy.json'), 'utf8')).policy.network).toBe(
      'observe',
    );
    lambda.shutdown();
    expect(await running.exited).toBe(0);
  });

  it('revalidates its cached copy with If-None-Match: a 304 hands the cached group over, a changed group replaces it', async () => {
    // Prepare: a first start fetches the group and caches it with its ETag
    const first = await setup();
    const restart = async () => {
      const lambda = await startFakeLambdaApi();
      cleanups.push(() => lambda.close());
      const running = startLauncher({ ...first.env, AWS_LAMBDA_RUNTIME_API: lambda.address });
      await lambda.waitForNext(1);
      await handOffDone(first.runtimeDir);
      lambda.shutdown();
      expect(await running.exited).toBe(0);
      return JSON.parse(fs.readFileSync(join(first.runtimeDir, 'policy.json'), 'utf8'));
    };
    const fetched = await restart();
    expect(fetched).toMatchObject({ source: 'control-plane', policy: POLICY, etag: expect.any(String) });

    // Act: a restart while the group is unchanged, then one after it changed
    const unchanged = await restart();
    first.plane!.policy = { ...POLICY, network: 'observe' };
    const changed = await restart();

    // Assess: each restart asked with the ETag it had; the 304 handed the cached copy over
    expect(first.plane!.policyIfNoneMatch).toEqual([undefined, fetched.etag, fetched.etag]);
    expect(unchanged).toMatchObject({ source: 'control-plane', policy: POLICY, etag: fetched.etag });
    expect(changed).toMatchObject({ source: 'control-plane', policy: { ...POLICY, network: 'observe' } });
    expect(changed.etag).not.toBe(fetched.etag);
  });

  it('fetches the policy and delivers events over HTTPS, verifying the certificate (NODE_EXTRA_CA_CERTS)', async () => {
    // Prepare: a control plane with a self-signed certificate for 127.0.0.1
    const certificate = selfSignedCertificate();
    const { lambda, plane, runtimeDir, env } = await setup({ tls: certificate });
    expect(plane!.url).toMatch(/^https:/);
    const running = startLauncher({ ...env, NODE_EXTRA_CA_CERTS: certificate.certFile });

    // Act
    await lambda.waitForNext(1);
    await handOffDone(runtimeDir);
    let ids: string[] = [];
    await runInvocation(lambda, 'req-1', 2, () => {
      ids = appendEvents(runtimeDir, 'tls', 3);
    });
    lambda.shutdown();

    // Assess
    expect(await running.exited).toBe(0);
    expect(JSON.parse(fs.readFileSync(join(runtimeDir, 'policy.json'), 'utf8'))).toMatchObject({
      source: 'control-plane',
      policy: POLICY,
    });
    expect(plane!.events.map((event) => event.id)).toEqual(ids);
    expect(plane!.functions.length).toBe(1);

    // Act: the same without trusting the certificate
    const untrusted = await setup({ tls: certificate });
    const refused = startLauncher({ ...untrusted.env, ES_POLICY_FETCH_BUDGET_MS: '300' });
    await untrusted.lambda.waitForNext(1);
    await handOffDone(untrusted.runtimeDir);
    untrusted.lambda.shutdown();
    expect(await refused.exited).toBe(0);

    // Assess: no policy from a control plane it cannot verify, and the agent is told why
    const failure = JSON.parse(fs.readFileSync(join(untrusted.runtimeDir, 'policy.error.json'), 'utf8'));
    expect(failure.error).toMatch(/certificate/i);
    expect(untrusted.plane!.policyRequests).toBe(0);
  });

  it('without early registration, hands the policy over before it registers itself from Node', async () => {
    const { lambda: unused, runtimeDir, env } = await setup();
    await unused.close();
    const seenAtRegistration: boolean[] = [];
    const lambda = await startFakeLambdaApi({
      onRegister: () => seenAtRegistration.push(fs.existsSync(join(runtimeDir, 'policy.json'))),
    });
    cleanups.push(() => lambda.close());
    const running = startLauncher({
      ...env,
      AWS_LAMBDA_RUNTIME_API: lambda.address,
      ES_EARLY_REGISTRATION: '0',
    });
    await lambda.waitForNext(1);
    expect(seenAtRegistration).toEqual([true]);
    expect(lambda.registrations).toEqual([{ name: 'appdefender', acceptFeature: 'accountId' }]);
    lambda.shutdown();
    expect(await running.exited).toBe(0);
  });

  it('without any policy source: writes policy.error.json for the agent and still runs', async () => {
    const { lambda, runtimeDir, env } = await setup({ controlPlane: false });
    const running = startLauncher({ ...env, ES_POLICY_FETCH_BUDGET_MS: '300' });
    await lambda.waitForNext(1);
    await handOffDone(runtimeDir);
    const failure = JSON.parse(fs.readFileSync(join(runtimeDir, 'policy.error.json'), 'utf8'));
    expect(failure.error).toMatch(/ECONNREFUSED|refused/i);
    expect(fs.existsSync(join(runtimeDir, 'policy.json'))).toBe(false);
    expect(fs.existsSync(join(runtimeDir, 'policy.pending'))).toBe(false);
    lambda.shutdown();
    expect(await running.exited).toBe(0);
  });

  it('stays an idle extension when its code is missing, and when no Node.js is found', async () => {
    const { lambda, env } = await setup({ controlPlane: false });
    const brokenLayer = fs.mkdtempSync(join(tmpdir(), 'appdefender-broken-'));
    fs.mkdirSync(join(brokenLayer, 'extensions'));
    fs.copyFileSync(launcherPath, join(brokenLayer, 'extensions', 'appdefender'));
    const running = startLauncher(env, join(brokenLayer, 'extensions', 'appdefender'));
    await lambda.waitForNext(1);
    lambda.invoke('req-1');
    await lambda.waitForNext(2);
    lambda.shutdown();
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('extension code missing');

    const lambda2 = await startFakeLambdaApi();
    cleanups.push(() => lambda2.close());
    const noNode = startLauncher({ ...env, AWS_LAMBDA_RUNTIME_API: lambda2.address, PATH: '/nonexistent' });
    await lambda2.waitForNext(1);
    lambda2.shutdown();
    expect(await noNode.exited).toBe(0);
    expect(noNode.output()).toContain('no Node.js found');
  });
});
