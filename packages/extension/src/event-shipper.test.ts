import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { EventShipper } from './event-shipper.js';
import { EventSpool } from './event-spool.js';
import { runtimeFilesIn } from './runtime-dir.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A control plane answering each events request with the next status of `statuses`. */
async function controlPlane(statuses: number[]) {
  const received: string[][] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as {
        events: Array<{ id: string }>;
      };
      received.push(body.events.map((event) => event.id));
      const status = statuses.shift() ?? 200;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(
          status === 200
            ? JSON.stringify({ accepted: body.events.length, duplicates: 0, rejected: 0 })
            : '{"error":{}}',
        );
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), received };
}

function spoolWith(ids: string[]) {
  const files = runtimeFilesIn(fs.mkdtempSync(join(tmpdir(), 'shipper-')));
  fs.writeFileSync(files.events, ids.map((id) => `${JSON.stringify({ id })}\n`).join(''));
  return new EventSpool(files, {
    maxBatchEvents: 2,
    maxBatchBytes: 4096,
    maxSpoolBytes: 1 << 20,
    rotateBytes: 0,
    rotateGraceMs: 1000,
  });
}

describe('EventShipper', () => {
  it('skips a batch the control plane refuses as invalid, counting it, and goes on', async () => {
    const plane = await controlPlane([400]);
    const logs: string[] = [];
    const spool = spoolWith(['a', 'b', 'c']);
    const shipper = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: (line) => logs.push(line),
    });

    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');

    expect(plane.received).toEqual([['a', 'b'], ['c']]);
    expect(shipper.delivered).toBe(1);
    expect(spool.dropped).toBe(2);
    expect(logs.join('\n')).toContain('refused a batch of 2 events');
  });

  it('keeps events in the spool when the key is refused, backing off instead of dropping', async () => {
    const plane = await controlPlane([401]);
    const spool = spoolWith(['a']);
    const shipper = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: () => {},
    });

    expect(await shipper.drain(Date.now() + 2000)).toBe('backing-off');

    expect(shipper.isBackingOff()).toBe(true);
    expect(spool.dropped).toBe(0);
    expect(spool.pendingBytes()).toBeGreaterThan(0);
    // the next flush gives up at once instead of holding the invocation
    const started = Date.now();
    expect(await shipper.drain(Date.now() + 1000)).toBe('backing-off');
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('answers empty at once when nothing is spooled, without a request, and ships what comes later', async () => {
    const plane = await controlPlane([]);
    const files = runtimeFilesIn(fs.mkdtempSync(join(tmpdir(), 'shipper-')));
    fs.writeFileSync(files.events, '');
    const spool = new EventSpool(files, {
      maxBatchEvents: 2,
      maxBatchBytes: 4096,
      maxSpoolBytes: 1 << 20,
      rotateBytes: 0,
      rotateGraceMs: 1000,
    });
    const shipper = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: () => {},
    });

    expect(await shipper.drain(Date.now() + 1000)).toBe('empty');
    fs.rmSync(files.events);
    expect(await shipper.drain(Date.now() + 1000)).toBe('empty');
    expect(plane.received).toEqual([]);

    fs.writeFileSync(files.events, `${JSON.stringify({ id: 'late' })}\n`);
    expect(spool.hasPending()).toBe(true);
    expect(await shipper.drain(Date.now() + 1000)).toBe('empty');
    expect(plane.received).toEqual([['late']]);
    expect(spool.hasPending()).toBe(false);
  });
});

describe('EventShipper drop reports', () => {
  const fn = { provider: 'aws', region: 'eu-west-1', accountId: '123456789012', functionName: 'orders' };

  /** A control plane keeping whole bodies; with `refuseDropped` it refuses droppedEvents as unknown. */
  async function recordingPlane(refuseDropped = false) {
    const bodies: Array<Record<string, unknown>> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as Record<
          string,
          unknown
        >;
        bodies.push(body);
        if (refuseDropped && 'droppedEvents' in body) {
          res
            .writeHead(400, { 'content-type': 'application/json' })
            .end('{"error":{"code":"VALIDATION_FAILED"}}');
          return;
        }
        const count = (body.events as unknown[]).length;
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ accepted: count, duplicates: 0, rejected: 0 }));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), bodies };
  }

  function spoolFile(text: string) {
    const files = runtimeFilesIn(fs.mkdtempSync(join(tmpdir(), 'shipper-drops-')));
    fs.writeFileSync(files.events, text);
    const spool = new EventSpool(files, {
      maxBatchEvents: 10,
      maxBatchBytes: 4096,
      maxSpoolBytes: 1 << 20,
      rotateBytes: 0,
      rotateGraceMs: 1000,
    });
    return { files, spool };
  }

  it('sends the drops since the last accepted batch as droppedEvents, with the function, once', async () => {
    const plane = await recordingPlane();
    const { files, spool } = spoolFile(`not json\n{"no":"id"}\n{"id":"a"}\n`);
    const shipper = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: () => {},
      functionKey: () => fn,
    });

    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');
    fs.appendFileSync(files.events, '{"id":"b"}\n');
    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');
    fs.appendFileSync(files.events, 'broken\n{"id":"c"}\n');
    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');

    expect(plane.bodies).toEqual([
      { events: [{ id: 'a' }], droppedEvents: 2, function: fn },
      { events: [{ id: 'b' }] },
      { events: [{ id: 'c' }], droppedEvents: 1, function: fn },
    ]);
  });

  it('keeps a count whose batch failed for the next attempt, and sends none without a function name', async () => {
    const plane = await recordingPlane();
    const { spool } = spoolFile(`junk\n{"id":"a"}\n`);
    let key: typeof fn | undefined;
    const shipper = new EventShipper({
      apiUrl: new URL('http://127.0.0.1:9'), // nothing listens: the delivery fails
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 300,
      log: () => {},
      functionKey: () => key,
    });
    expect(await shipper.drain(Date.now() + 1000, { waitOutBackoff: false })).toBe('backing-off');

    const anonymous = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: () => {},
      functionKey: () => ({ ...fn, functionName: '' }),
    });
    expect(await anonymous.drain(Date.now() + 5000)).toBe('empty');
    expect(plane.bodies).toEqual([{ events: [{ id: 'a' }] }]);

    // the failed shipper still owes its count: it goes with its next accepted batch
    key = fn;
    const { spool: later } = spoolFile(`junk\n{"id":"x"}\n`);
    const retrying = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool: later,
      deliveryTimeoutMs: 1000,
      log: () => {},
      functionKey: () => key,
    });
    expect(await retrying.drain(Date.now() + 5000)).toBe('empty');
    expect(plane.bodies[1]).toEqual({ events: [{ id: 'x' }], droppedEvents: 1, function: fn });
  });

  it('resends a batch without droppedEvents when the control plane refuses the field, losing no events', async () => {
    const plane = await recordingPlane(true);
    const logs: string[] = [];
    const { files, spool } = spoolFile(`junk\n{"id":"a"}\n`);
    const shipper = new EventShipper({
      apiUrl: plane.url,
      licenseKey: 'k',
      spool,
      deliveryTimeoutMs: 1000,
      log: (line) => logs.push(line),
      functionKey: () => fn,
    });
    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');
    fs.appendFileSync(files.events, 'junk\n{"id":"b"}\n');
    expect(await shipper.drain(Date.now() + 5000)).toBe('empty');

    expect(plane.bodies).toEqual([
      { events: [{ id: 'a' }], droppedEvents: 1, function: fn },
      { events: [{ id: 'a' }] },
      { events: [{ id: 'b' }] },
    ]);
    expect(shipper.delivered).toBe(2);
    expect(spool.dropped).toBe(2);
    expect(logs.join('\n')).toContain('refused droppedEvents');
  });
});
