import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** Lambda's limit for an invocation response (and request) payload. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface Reply {
  (status: number, body?: unknown, headers?: Record<string, string>): void;
  /** True once the client has gone (e.g. a killed process's long poll). */
  readonly closed: boolean;
}

/** A request body as received, plus the error-type header both APIs use. */
export interface ApiRequest {
  body: Buffer;
  headers: IncomingMessage['headers'];
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  json: unknown;
}

/** What the execution environment does with each documented route. */
export interface ApiHandlers {
  runtimeNext(reply: Reply): void;
  runtimeResponse(requestId: string, request: ApiRequest, reply: Reply): void;
  runtimeError(requestId: string, request: ApiRequest, reply: Reply): void;
  runtimeInitError(request: ApiRequest, reply: Reply): void;
  extensionRegister(request: ApiRequest, reply: Reply): void;
  extensionNext(extensionId: string, reply: Reply): void;
  extensionInitError(extensionId: string, request: ApiRequest, reply: Reply): void;
  extensionExitError(extensionId: string, request: ApiRequest, reply: Reply): void;
  telemetrySubscribe(extensionId: string, request: ApiRequest, reply: Reply): void;
}

const RUNTIME = '/2018-06-01/runtime';
const EXTENSION = '/2020-01-01/extension';
const INVOCATION_ROUTE = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

/** Lambda's error body shape for API misuse. */
export function apiError(reply: Reply, status: number, errorType: string, errorMessage: string): void {
  reply(status, { errorType, errorMessage });
}

/**
 * The Runtime, Extensions and Telemetry APIs over HTTP, as AWS documents them; the handlers
 * decide. `listen` on 127.0.0.1 port 0 is up to the caller.
 */
export function createApiServer(handlers: ApiHandlers): Server {
  const server = createServer((req, res) => {
    void route(handlers, req, res).catch((error: Error) => {
      if (!res.headersSent)
        makeReply(res)(500, { errorType: 'Sim.InternalError', errorMessage: error.message });
    });
  });
  // Long polls (`next`) may be held for the whole life of the environment.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60 * 60 * 1000;
  return server;
}

async function route(handlers: ApiHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = makeReply(res);
  const path = (req.url ?? '').split('?')[0] ?? '';
  const method = req.method ?? 'GET';
  const extensionId = header(req, 'lambda-extension-identifier');
  const body = await readBody(req, MAX_PAYLOAD_BYTES + 1);
  const request: ApiRequest = { body, headers: req.headers, json: parseJson(body) };

  if (method === 'GET' && path === `${RUNTIME}/invocation/next`) return handlers.runtimeNext(reply);
  const invocation = INVOCATION_ROUTE.exec(path);
  if (method === 'POST' && invocation) {
    const requestId = decodeURIComponent(invocation[1] ?? '');
    if (invocation[2] === 'response') return handlers.runtimeResponse(requestId, request, reply);
    return handlers.runtimeError(requestId, request, reply);
  }
  if (method === 'POST' && path === `${RUNTIME}/init/error`) return handlers.runtimeInitError(request, reply);
  if (method === 'POST' && path === `${EXTENSION}/register`)
    return handlers.extensionRegister(request, reply);

  const needsIdentifier =
    path.startsWith(`${EXTENSION}/`) || path === '/2022-07-01/telemetry' || path === '/2020-08-15/logs';
  if (needsIdentifier && !extensionId) {
    apiError(
      reply,
      403,
      'Extension.MissingExtensionIdentifier',
      'Lambda-Extension-Identifier header is required',
    );
    return;
  }
  if (method === 'GET' && path === `${EXTENSION}/event/next`)
    return handlers.extensionNext(extensionId ?? '', reply);
  if (method === 'POST' && path === `${EXTENSION}/init/error`) {
    return handlers.extensionInitError(extensionId ?? '', request, reply);
  }
  if (method === 'POST' && path === `${EXTENSION}/exit/error`) {
    return handlers.extensionExitError(extensionId ?? '', request, reply);
  }
  if (method === 'PUT' && path === '/2022-07-01/telemetry') {
    return handlers.telemetrySubscribe(extensionId ?? '', request, reply);
  }
  if (path === '/2020-08-15/logs') {
    return apiError(
      reply,
      501,
      'Sim.NotImplemented',
      'the Logs API is not simulated; use the Telemetry API (2022-07-01)',
    );
  }
  apiError(
    reply,
    404,
    'Sim.UnknownRoute',
    `no ${method} ${path} in the Runtime, Extensions or Telemetry API`,
  );
}

function makeReply(res: ServerResponse): Reply {
  let closed = false;
  // A response's 'close' also fires when its connection drops first, e.g. when a process is killed mid-poll.
  res.once('close', () => {
    closed = true;
  });
  const reply = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    if (closed || res.headersSent) return;
    const payload =
      body === undefined
        ? ''
        : Buffer.isBuffer(body)
          ? body
          : typeof body === 'string'
            ? body
            : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(payload);
  };
  Object.defineProperty(reply, 'closed', { get: () => closed || res.destroyed });
  return reply as Reply;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Keep reading (so the client is not reset) but stop storing past the limit; the handler sees the size.
    if (size <= maxBytes) chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
