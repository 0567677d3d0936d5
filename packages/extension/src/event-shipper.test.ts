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
