/**
 * Small loopback fakes for the extension's tests: the Lambda Extensions + Telemetry APIs (enough of
 * them to drive one extension through init, invocations and shutdown) and the control plane's agent
 * routes. Real HTTP servers on port 0; what they receive is recorded for the assertions.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

async function listen(server: http.Server | https.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

type NextEvent = Record<string, unknown>;

export interface FakeLambdaApi {
  /** host:port, the value of AWS_LAMBDA_RUNTIME_API. */
  address: string;
  registrations: Array<{ name: string; acceptFeature: string | undefined }>;
  telemetryDestination: string | undefined;
  /** Resolves when the extension asks for its n-th next event (1-based). */
  waitForNext(count: number, timeoutMs?: number): Promise<void>;
  nextCalls(): number;
  /** Queues an INVOKE; the extension gets it on its pending or next `next`. */
  invoke(requestId: string, deadlineMs?: number): void;
  shutdown(deadlineMs?: number): void;
  /** Posts platform.runtimeDone to the subscribed listener (sandbox.localdomain is our loopback). */
  runtimeDone(requestId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeLambdaApi(
  options: { accountId?: string; onRegister?: () => void } = {},
): Promise<FakeLambdaApi> {
  const queue: NextEvent[] = [];
  let waitingNext: http.ServerResponse | undefined;
  let nextCount = 0;
  const nextWaiters: Array<{ count: number; resolve: () => void }> = [];
  const state = {
    registrations: [] as FakeLambdaApi['registrations'],
    telemetryDestination: undefined as string | undefined,
  };
  const deliver = () => {
    if (waitingNext && queue.length > 0) {
      const event = queue.shift()!;
      waitingNext.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(event));
      waitingNext = undefined;
    }
  };
  const server = http.createServer(async (req, res) => {
    const body = (await readBody(req)).toString('utf8');
    if (req.method === 'POST' && req.url === '/2020-01-01/extension/register') {
      const name = req.headers['lambda-extension-name'];
      if (typeof name !== 'string' || JSON.parse(body).events?.[0] !== 'INVOKE') {
        res.writeHead(400).end('{"errorType":"InvalidRequest"}');
        return;
      }
      const acceptFeature = req.headers['lambda-extension-accept-feature'] as string | undefined;
      state.registrations.push({ name, acceptFeature });
      options.onRegister?.();
      const payload: Record<string, string> = {
        functionName: 'fn',
        functionVersion: '$LATEST',
        handler: 'index.handler',
      };
      if (acceptFeature === 'accountId') payload.accountId = options.accountId ?? '123456789012';
      res
        .writeHead(200, {
          'lambda-extension-identifier': `ext-${state.registrations.length}`,
          'content-type': 'application/json',
        })
        .end(JSON.stringify(payload));
      return;
    }
    if (req.method === 'GET' && req.url === '/2020-01-01/extension/event/next') {
      nextCount++;
      for (const waiter of nextWaiters.filter((w) => w.count <= nextCount)) {
        nextWaiters.splice(nextWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      waitingNext = res;
      deliver();
      return;
    }
    if (req.method === 'PUT' && req.url === '/2022-07-01/telemetry') {
      state.telemetryDestination = JSON.parse(body).destination?.URI;
      res.writeHead(200).end('OK');
      return;
    }
    res.writeHead(404).end();
  });
  const address = await listen(server);
  return {
    address,
    get registrations() {
      return state.registrations;
    },
    get telemetryDestination() {
      return state.telemetryDestination;
    },
    nextCalls: () => nextCount,
    waitForNext(count, timeoutMs = 10_000) {
      if (nextCount >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`next #${count} not called within ${timeoutMs} ms (got ${nextCount})`)),
          timeoutMs,
        );
        nextWaiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    invoke(requestId, deadlineMs = Date.now() + 30_000) {
      queue.push({
        eventType: 'INVOKE',
        requestId,
        deadlineMs,
        invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:fn',
      });
      deliver();
    },
    shutdown(deadlineMs = Date.now() + 2000) {
      queue.push({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs });
      deliver();
    },
    async runtimeDone(requestId) {
      const destination = state.telemetryDestination;
      if (!destination) throw new Error('no telemetry subscription');
      const url = new URL(destination);
      url.hostname = '127.0.0.1';
      const response = await fetch(url, {
        method: 'POST',
        body: JSON.stringify([
          { time: new Date().toISOString(), type: 'platform.start', record: { requestId } },
          {
            time: new Date().toISOString(),
            type: 'platform.runtimeDone',
            record: { requestId, status: 'success' },
          },
        ]),
      });
      await response.arrayBuffer();
    },
    close: () =>
      new Promise((resolve) => {
        waitingNext?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface FakeControlPlane {
  url: string;
  /** Every event received, in order, duplicates included. */
  events: Array<Record<string, unknown>>;
  functions: Array<Record<string, unknown>>;
  policyRequests: number;
  /** If-None-Match of each policy request (undefined when absent). */
  policyIfNoneMatch: Array<string | undefined>;
  eventRequests: number;
  /** Set to make the next requests answer with this status (and Retry-After seconds). */
  failEvents: { status: number; retryAfterSeconds?: number; times: number } | undefined;
  policy: Record<string, unknown>;
  close(): Promise<void>;
}

export async function startFakeControlPlane(options: {
  licenseKey: string;
  policy: Record<string, unknown>;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}): Promise<FakeControlPlane> {
  const plane = {
    events: [] as Array<Record<string, unknown>>,
    functions: [] as Array<Record<string, unknown>>,
    policyRequests: 0,
    policyIfNoneMatch: [] as Array<string | undefined>,
    eventRequests: 0,
    failEvents: undefined as FakeControlPlane['failEvents'],
    policy: options.policy,
  };
  const handler: http.RequestListener = async (req, res) => {
    const raw = await readBody(req);
    if (req.headers.authorization !== `Bearer ${options.licenseKey}`) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"error":{"code":"UNAUTHORIZED","message":"bad key"}}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/v1/agent/policy') {
      plane.policyRequests++;
      if (url.searchParams.get('group') !== plane.policy.name) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"code":"NOT_FOUND","message":"no such group"}}');
        return;
      }
      // the real control plane's ETag changes with the group's content; so does this one's
      const body = JSON.stringify(plane.policy);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
      const ifNoneMatch = req.headers['if-none-match'];
      plane.policyIfNoneMatch.push(ifNoneMatch);
      if (ifNoneMatch === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
      return;
    }
    const body = JSON.parse(
      (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
    );
    if (req.method === 'POST' && url.pathname === '/api/v1/agent/functions') {
      plane.functions.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ function: body }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/agent/events') {
      plane.eventRequests++;
      if (plane.failEvents && plane.failEvents.times > 0) {
        plane.failEvents.times--;
        const headers: Record<string, string> = {};
        if (plane.failEvents.retryAfterSeconds !== undefined)
          headers['retry-after'] = String(plane.failEvents.retryAfterSeconds);
        res
          .writeHead(plane.failEvents.status, headers)
          .end('{"error":{"code":"UNAVAILABLE","message":"try later"}}');
        return;
      }
      plane.events.push(...body.events);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted: body.events.length, duplicates: 0, rejected: 0, results: [] }));
      return;
    }
    res.writeHead(404).end();
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  const address = await listen(server);
  return Object.assign(plane, {
    url: `${options.tls ? 'https' : 'http'}://${address}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
