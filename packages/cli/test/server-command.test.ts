import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@appdefender/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, binPath, cleanEnv, runBinary } from './helpers/binary.js';

let dataDir: string;
beforeAll(async () => {
  assertBinaryBuilt();
  dataDir = await mkdtemp(join(tmpdir(), 'cli-server-'));
});
afterAll(() => dataDir && rm(dataDir, { recursive: true, force: true }));

/** Starts `appdefender server`, resolves with its stdout once the URL is printed. */
function startServerBinary(args: string[]) {
  const child = spawn(process.execPath, [binPath, 'server', '--port', '0', ...args], {
    env: cleanEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  // The signal and stderr are part of the result, so a crash says what it was.
  const exited = new Promise<string>((resolve) =>
    child.on('close', (code, signal) => resolve(`exit ${code} signal ${signal} ${stderr.trim()}`)),
  );
  const ready = new Promise<{ url: string; stdout: () => string }>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('Ctrl-C'))
        resolve({ url: /listening on (\S+)/.exec(stdout)![1]!, stdout: () => stdout });
    });
    void exited.then((how) => reject(new Error(`server ended early: ${how}`)));
  });
  return { child, ready, exited };
}

describe('server (binary)', () => {
  it('starts on an empty store, says how to sign up, serves the API, stops on Ctrl-C', async () => {
    const store = join(dataDir, 'store');
    const first = startServerBinary(['--data', store]);
    const { url, stdout } = await first.ready;
    expect(stdout()).toMatch(/This is a new, empty store/);
    expect(stdout()).toMatch(new RegExp(`open ${url.replace(/[.:/]/g, '\\$&')}/ and sign up`));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(`exit ${ExitCode.ok} signal null Stopping the control plane`);

    // Second start on the same store: no first-start instructions.
    const second = startServerBinary(['--data', store]);
    expect((await second.ready).stdout()).not.toMatch(/empty store/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(`exit ${ExitCode.ok} signal null Stopping the control plane`);
  });

  it('refuses --data together with --database-url, and a bad port', async () => {
    const both = await runBinary(
      ['server', '--data', dataDir, '--database-url', 'postgres://x@127.0.0.1/db'],
      {
        env: cleanEnv(dataDir),
      },
    );
    expect(both.code).toBe(ExitCode.usage);
    expect(both.stderr).toMatch(/either --data or --database-url/);
    const port = await runBinary(['server', '--port', 'http'], { env: cleanEnv(dataDir) });
    expect(port.code).toBe(ExitCode.usage);
    expect(port.stderr).toMatch(/--port must be a port number/);
  });
});

/** A control plane on its own SQLite store in `dir`, with `email` signed up (on the free plan). */
async function serverWithAccount(dir: string, email: string) {
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    dashboardDir: null,
    retention: false,
  });
  const signup = await fetch(`${server.url}/api/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery staple' }),
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${await signup.text()}`);
  const { apiToken } = (await signup.json()) as { apiToken: string };
  return { server, apiToken };
}

describe('server plan (binary)', () => {
  it("shows an account's plan and moves it to another, which the running server applies at once", async () => {
    // Arrange: a running control plane on its own store, with one account on the free plan
    const store = join(dataDir, 'plan-store');
    const { server, apiToken } = await serverWithAccount(store, 'Ops@Example.com');
    try {
      const createCloudGroup = (name: string) =>
        fetch(`${server.url}/api/v1/policy-groups`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name, network: 'deny', allowCloudProviderTraffic: true }),
        });
      expect((await createCloudGroup('before')).status).toBe(402);
      const env = cleanEnv(dataDir);

      // Act + Assert: show, change, show again
      const shown = await runBinary(['server', 'plan', 'ops@example.com', '--data', store], { env });
      expect(shown.code).toBe(ExitCode.ok);
      expect(shown.stdout).toMatch(/ops@example\.com is on the free plan/);
      expect(shown.stdout).toMatch(/paid +events kept 90 days, allowCloudProviderTraffic/);
      const changed = await runBinary(
        ['server', 'plan', 'OPS@example.com', 'paid', '--data', store, '--json'],
        {
          env,
        },
      );
      expect(changed.code).toBe(ExitCode.ok);
      expect(JSON.parse(changed.stdout)).toEqual({
        email: 'ops@example.com',
        plan: 'paid',
        previous: 'free',
      });
      expect((await createCloudGroup('after')).status).toBe(201);
      const me = (await (
        await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${apiToken}` } })
      ).json()) as { account: { plan: string } };
      expect(me.account.plan).toBe('paid');
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown plan, an unknown account and a directory without a store, changing nothing', async () => {
    const store = join(dataDir, 'plan-errors');
    const { server } = await serverWithAccount(store, 'dev@example.com');
    await server.close();
    const env = cleanEnv(dataDir);

    const unknownPlan = await runBinary(['server', 'plan', 'dev@example.com', 'gold', '--data', store], {
      env,
    });
    expect(unknownPlan.code).toBe(ExitCode.usage);
    expect(unknownPlan.stderr).toMatch(/There is no plan "gold"; the plans are free, paid/);
    const unknownAccount = await runBinary(
      ['server', 'plan', 'nobody@example.com', 'paid', '--data', store],
      { env },
    );
    expect(unknownAccount.code).toBe(ExitCode.notFound);
    expect(unknownAccount.stderr).toMatch(/No account with the e-mail address nobody@example\.com/);
    const noStore = await runBinary(
      ['server', 'plan', 'dev@example.com', '--data', join(dataDir, 'nothing-here')],
      {
        env,
      },
    );
    expect(noStore.code).toBe(ExitCode.notFound);
    expect(noStore.stderr).toMatch(/There is no control plane store in .*nothing-here/);
    const still = await runBinary(['server', 'plan', 'dev@example.com', '--data', store, '--json'], { env });
    expect(JSON.parse(still.stdout)).toMatchObject({ plan: 'free' });
  });
});
