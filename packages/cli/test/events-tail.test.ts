import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uuidv7 } from '@appdefender/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, binPath, cleanEnv } from './helpers/binary.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { runInProcess } from './helpers/in-process.js';

const event = (overrides: Record<string, unknown>) => ({
  id: uuidv7(),
  time: new Date().toISOString(),
  category: 'network',
  action: 'deny',
  operation: 'connect',
  target: 'api.evil.example:443',
  terminated: false,
  policyGroup: 'observeAll.ability',
  function: 'checkout',
  ...overrides,
});

describe('events tail against the control plane (binary)', () => {
  let controlPlane: TestControlPlane;
  beforeAll(async () => {
    assertBinaryBuilt();
    controlPlane = await startControlPlane();
  });
  afterAll(() => controlPlane?.close());

  it('prints live events, filtered, and stops after --count', async () => {
    // Prepare: start tailing, and wait until the stream is live.
    const child = spawn(process.execPath, [binPath, 'events', 'tail', '--action', 'deny', '--count', '2'], {
      env: cleanEnv('/nonexistent', { ES_API_URL: controlPlane.url, ES_API_TOKEN: controlPlane.apiToken }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const live = new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('Streaming events')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await live;
    // Act: the agent side reports three events, one of them an observe.
    const response = await fetch(`${controlPlane.url}/api/v1/agent/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${controlPlane.licenseKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          event({ target: 'first.evil.example:443' }),
          event({ action: 'observe', category: 'filesystem', operation: 'read', target: '/tmp/secret' }),
          event({ category: 'process', operation: 'spawn', target: '/bin/sh -c id' }),
        ],
      }),
    });
    expect(response.status).toBe(200);
    // Assess
    expect(await exited).toBe(ExitCode.ok);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/DENY\s+network\s+connect\s+first\.evil\.example:443\s+fn=checkout/);
    expect(lines[1]).toMatch(/DENY\s+process\s+spawn\s+\/bin\/sh -c id/);
  });

  it('exits 5 when the control plane is not there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const result = await runInProcess(['events', 'tail'], {
      env: { ES_API_URL: `http://127.0.0.1:${port}`, ES_API_TOKEN: 'adt_x' },
    });
    expect(result.code).toBe(ExitCode.unreachable);
    expect(result.stderr).toMatch(/Cannot reach the control plane/);
  });
});

describe('events tail reconnects', () => {
  let server: Server;
  let url: string;
  const connections: IncomingHttpHeaders[] = [];
  beforeAll(async () => {
    // A stream that drops after each event: the client must come back with Last-Event-ID.
    server = createServer((req, res) => {
      connections.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const n = connections.length;
      res.write(': hello\n\nretry: 10\n\n');
      res.end(
        `id: evt-${n}\nevent: event\ndata: ${JSON.stringify(event({ id: `evt-${n}`, target: `host${n}.example:443` }))}\n\n`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('resumes after the last event it saw', async () => {
    const result = await runInProcess(['events', 'tail', '--count', '3', '--json'], {
      env: { ES_API_URL: url, ES_API_TOKEN: 'adt_x' },
    });
    expect(result.code).toBe(ExitCode.ok);
    const targets = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).target);
    expect(targets).toEqual(['host1.example:443', 'host2.example:443', 'host3.example:443']);
    expect(connections[0]?.['last-event-id']).toBeUndefined();
    expect(connections[1]?.['last-event-id']).toBe('evt-1');
    expect(connections[2]?.['last-event-id']).toBe('evt-2');
    expect(connections[0]?.authorization).toBe('Bearer adt_x');
  });
});
