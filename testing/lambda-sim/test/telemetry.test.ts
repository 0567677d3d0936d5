import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TelemetryEvent, TelemetryHub } from '../src/telemetry.js';

const VALID = {
  schemaVersion: '2022-12-13',
  types: ['platform'],
  buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
  destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:4243/t' },
};

describe('Telemetry API subscriptions', () => {
  it.each([
    ['a body that is not an object', 'nope', 'body must be a JSON object'],
    ['an unknown schema version', { ...VALID, schemaVersion: '2020-01-01' }, 'schemaVersion'],
    ['no types', { ...VALID, types: [] }, 'types must be a non-empty array'],
    ['an unknown type', { ...VALID, types: ['platform', 'metrics'] }, '"metrics" is not one of'],
    [
      'timeoutMs below 25',
      { ...VALID, buffering: { timeoutMs: 10 } },
      'buffering.timeoutMs must be an integer from 25 to 30000',
    ],
    ['maxItems above 10000', { ...VALID, buffering: { maxItems: 20000 } }, 'buffering.maxItems'],
    ['maxBytes below 262144', { ...VALID, buffering: { maxBytes: 1000 } }, 'buffering.maxBytes'],
    ['a TCP destination', { ...VALID, destination: { protocol: 'TCP', port: 4243 } }, 'HTTP only'],
    [
      'a remote host',
      { ...VALID, destination: { protocol: 'HTTP', URI: 'http://example.com:80/' } },
      'sandbox.localdomain',
    ],
    [
      'no port',
      { ...VALID, destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain/' } },
      'sandbox.localdomain:PORT',
    ],
  ])('rejects %s', (_, body, message) => {
    const hub = new TelemetryHub(() => {});

    const rejection = hub.subscribe('ext', body);

    expect(rejection).toEqual({
      status: 400,
      errorType: 'ValidationError',
      errorMessage: expect.stringContaining(message),
    });
    expect(hub.subscriberCount).toBe(0);
  });

  it('accepts defaults for buffering', () => {
    const hub = new TelemetryHub(() => {});
    const { buffering: _, ...withoutBuffering } = VALID;

    expect(hub.subscribe('ext', withoutBuffering)).toBeUndefined();
    expect(hub.subscriberCount).toBe(1);
    hub.close();
  });
});

describe('Telemetry API delivery', () => {
  let server: Server;
  let port: number;
  const batches: TelemetryEvent[][] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        batches.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const waitFor = async (condition: () => boolean) => {
    for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it('batches by the buffering timeout, replays Init events, filters by type, and holds batches while frozen', async () => {
    // Prepare
    batches.length = 0;
    const hub = new TelemetryHub(() => {});
    hub.beginInit();
    hub.emit('platform', 'platform.initStart', { phase: 'init' });
    hub.emit('function', 'function', 'a log line');

    // Act
    hub.subscribe('ext', {
      ...VALID,
      destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${port}/t` },
    });
    hub.endInit();
    hub.emit('platform', 'platform.start', { requestId: 'r1' });
    await waitFor(() => batches.length === 1);
    hub.freeze();
    hub.emit('platform', 'platform.report', { requestId: 'r1' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const whileFrozen = batches.length;
    hub.thaw();
    await waitFor(() => batches.length === 2);
    hub.close();

    // Assess
    expect(whileFrozen).toBe(1);
    expect(batches.map((batch) => batch.map((event) => event.type))).toEqual([
      ['platform.initStart', 'platform.telemetrySubscription', 'platform.start'],
      ['platform.report'],
    ]);
    expect(batches[0]?.[0]).toEqual({
      time: expect.any(String),
      type: 'platform.initStart',
      record: { phase: 'init' },
    });
    expect(new Date(batches[0]?.[0]?.time ?? '').getTime()).toBeGreaterThan(0);
  });

  it('delivers at once when maxItems is reached', async () => {
    batches.length = 0;
    const hub = new TelemetryHub(() => {});
    hub.subscribe('ext', {
      ...VALID,
      types: ['function'],
      buffering: { maxItems: 1000, timeoutMs: 30_000 },
      destination: { protocol: 'HTTP', URI: `http://127.0.0.1:${port}/` },
    });

    for (let i = 0; i < 1000; i++) hub.emit('function', 'function', `line ${i}`);
    await waitFor(() => batches.length === 1);
    hub.close();

    expect(batches[0]?.length).toBe(1000);
    expect(batches[0]?.[999]?.record).toBe('line 999');
  });

  it('logs a failed delivery and retries it once at the next flush', async () => {
    const logged: string[] = [];
    const hub = new TelemetryHub((line) => logged.push(line));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    hub.subscribe('ext', {
      ...VALID,
      destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${deadPort}/` },
    });

    hub.emit('platform', 'platform.start', { requestId: 'r' });
    await hub.flush();
    await hub.flush();
    await hub.flush();
    hub.close();

    expect(logged.filter((line) => line.includes('delivery of'))).toHaveLength(2);
  });
});
