import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
