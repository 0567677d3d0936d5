// Unix-domain sockets: net.connect(path) and the pipe_wrap binding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appResult, ensureAgentBuilt, fixturePath, policy, runFixture } from './harness.js';

const helpers = JSON.stringify(fixturePath('net-helpers.cjs'));
const socketDir = mkdtempSync(join(tmpdir(), 'agent-pipe-'));
let socketCounter = 0;

function pipeFixture(connect: string): string {
  const path = join(socketDir, `s${socketCounter++}.sock`);
  return `
    const { pipeServer, tryConnect, settle, report } = require(${helpers});
    (async () => {
      const server = await pipeServer(${JSON.stringify(path)});
      const path = server.path;
      const outcome = await (${connect});
      await settle();
      report({ ...outcome, accepted: server.accepted() });
      server.close();
    })();
  `;
}

const RAW_CONNECT = `new Promise((resolve) => {
  const { Pipe, PipeConnectWrap, constants } = process.binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const request = new PipeConnectWrap();
  request.oncomplete = (status) => { handle.close(); resolve({ completed: status }); };
  const status = handle.connect(request, path);
  if (status !== 0) { handle.close(); resolve({ status }); }
})`;

beforeAll(() => ensureAgentBuilt(), 120_000);
afterAll(() => rmSync(socketDir, { recursive: true, force: true }));

// filesystem grant: the fixture's own server creates its socket file, a filesystem write the agent
// judges and reports (test/redteam-round6.test.ts); these tests are about the network side only
describe('unix sockets', () => {
  it('denies net.connect(path) under deny; the server sees nothing', async () => {
    const run = await runFixture({
      policy: policy({ network: 'deny', filesystem: 'grant' }),
      source: pipeFixture('tryConnect(path)'),
    });
    expect(appResult(run)).toMatchObject({ error: 'ERR_ACCESS_DENIED', accepted: 0 });
    expect(run.events[0]).toMatchObject({
      action: 'deny',
      operation: 'connect',
      target: expect.stringContaining(socketDir),
    });
  });

  it('allows and reports under observe', async () => {
    const run = await runFixture({
      policy: policy({ network: 'observe', filesystem: 'grant' }),
      source: pipeFixture('tryConnect({ path })'),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toHaveLength(1);
    expect(run.events[0]).toMatchObject({ action: 'observe', target: expect.stringContaining('.sock') });
  });

  it('allows silently under grant', async () => {
    const run = await runFixture({
      policy: policy({ network: 'grant', filesystem: 'grant' }),
      source: pipeFixture('tryConnect(path)'),
    });
    expect(appResult(run)).toMatchObject({ connected: true, accepted: 1 });
    expect(run.events).toEqual([]);
  });

  it('denies a raw pipe_wrap connect', async () => {
    const run = await runFixture({
      policy: policy({ network: 'deny', filesystem: 'grant' }),
      source: pipeFixture(RAW_CONNECT),
    });
    const outcome = appResult<{ status?: number; accepted: number }>(run);
    expect(outcome.status).toBeLessThan(0);
    expect(outcome.accepted).toBe(0);
    expect(run.events[0]).toMatchObject({ action: 'deny', target: expect.stringContaining('.sock') });
  });
});
