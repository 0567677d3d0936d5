/**
 * Receives Telemetry API batches and tells when an invocation's handler is done
 * (`platform.runtimeDone`), so events can be flushed before the environment freezes.
 * https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html#platform-runtimeDone
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TelemetryListener {
  /** The URI to subscribe with: Lambda only delivers to sandbox.localdomain. */
  destinationUri: string;
  /** Resolves once runtimeDone for `requestId` arrived (or at once if it already did), false on timeout. */
  waitForRuntimeDone(requestId: string, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Extracts the request ids of platform.runtimeDone records from one delivered batch. */
export function runtimeDoneRequestIds(batch: unknown): string[] {
  if (!Array.isArray(batch)) return [];
  const ids: string[] = [];
  for (const item of batch) {
    if (typeof item !== 'object' || item === null) continue;
    const { type, record } = item as { type?: unknown; record?: unknown };
    if (type !== 'platform.runtimeDone' || typeof record !== 'object' || record === null) continue;
    const requestId = (record as { requestId?: unknown }).requestId;
    if (typeof requestId === 'string') ids.push(requestId);
  }
  return ids;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const REMEMBERED_REQUESTS = 64;

/**
 * Starts the listener. It binds 0.0.0.0 (ES_TELEMETRY_LISTEN_HOST to change it) because Lambda
 * delivers to sandbox.localdomain, whose address is the sandbox's own interface.
 */
export async function startTelemetryListener(
  options: { listenHost?: string; port?: number } = {},
): Promise<TelemetryListener> {
  const done = new Set<string>();
  const waiters = new Map<string, Array<(value: boolean) => void>>();

  const markDone = (requestId: string) => {
    done.add(requestId);
    // Keep the set small: only recent invocations can still be waited for.
    if (done.size > REMEMBERED_REQUESTS) {
      const oldest = done.values().next().value;
      if (oldest !== undefined) done.delete(oldest);
    }
    const pending = waiters.get(requestId);
    if (pending) {
      waiters.delete(requestId);
      for (const resolve of pending) resolve(true);
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      res.writeHead(200).end();
      if (size > MAX_BODY_BYTES) return;
      try {
        for (const requestId of runtimeDoneRequestIds(JSON.parse(Buffer.concat(chunks).toString('utf8')))) {
          markDone(requestId);
        }
      } catch {
        // a malformed batch carries nothing we can use; the invocation falls back to its timeout
      }
    });
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.listenHost ?? '0.0.0.0', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;

  return {
    destinationUri: `http://sandbox.localdomain:${port}`,
    waitForRuntimeDone(requestId, timeoutMs) {
      if (done.has(requestId)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          const list = waiters.get(requestId) ?? [];
          const index = list.indexOf(finish);
          if (index >= 0) list.splice(index, 1);
          if (list.length === 0) waiters.delete(requestId);
          resolve(false);
        }, timeoutMs);
        const finish = (value: boolean) => {
          clearTimeout(timer);
          resolve(value);
        };
        const list = waiters.get(requestId) ?? [];
        list.push(finish);
        waiters.set(requestId, list);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
