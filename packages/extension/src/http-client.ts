/**
 * A small HTTP client over node:http/https. Not `fetch`: loading undici costs tens of milliseconds
 * of cold start in an extension that makes a handful of requests. Every request has a hard timeout
 * covering connect, upload and the whole response.
 */
import * as http from 'node:http';
import type * as https from 'node:https';
import { builtin } from './builtin.js';
import { ExtensionError } from './errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Omitted: no timeout (the Extensions API's event/next is a long poll). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let httpsModule: typeof https | undefined;
// One agent per protocol keeps connections to the control plane alive between batches.
const keepAliveHttp = new http.Agent({ keepAlive: true, maxSockets: 4 });
let keepAliveHttps: https.Agent | undefined;

function transportFor(url: URL): { request: typeof http.request; agent: http.Agent } {
  if (url.protocol === 'https:') {
    // Loaded on first use only: TLS setup is costly at cold start and plain http needs none of it.
    httpsModule ??= builtin<typeof https>('node:https');
    keepAliveHttps ??= new httpsModule.Agent({ keepAlive: true, maxSockets: 4 });
    return { request: httpsModule.request, agent: keepAliveHttps };
  }
  return { request: http.request, agent: keepAliveHttp };
}

/**
 * Sends one request and reads the whole response as text.
 * @example await httpRequest({ method: 'GET', url: new URL('http://127.0.0.1:8080/healthz'), timeoutMs: 500 })
 * @throws ExtensionError HTTP_TIMEOUT or HTTP_FAILED (network errors); HTTP error statuses are returned.
 */
export async function httpRequest(
  request: HttpRequest,
  options: { keepAlive?: boolean } = {},
): Promise<HttpResponse> {
  try {
    return await requestOnce(request, options);
  } catch (error) {
    // A kept-alive socket may have been closed by the server while Lambda froze us. One immediate
    // retry on a fresh socket is Node's documented pattern, and safe here: event batches are
    // deduplicated by id and the other requests are idempotent.
    if ((error as { staleSocket?: boolean }).staleSocket) return requestOnce(request, options);
    throw error;
  }
}

async function requestOnce(request: HttpRequest, options: { keepAlive?: boolean }): Promise<HttpResponse> {
  const transport = transportFor(request.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
    let timer: NodeJS.Timeout | undefined;
    const req = transport.request(
      request.url,
      {
        method: request.method,
        headers,
        ...(options.keepAlive === false ? { agent: false } : { agent: transport.agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (timer) clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', (cause) => {
          if (timer) clearTimeout(timer);
          reject(
            new ExtensionError('HTTP_FAILED', `${request.method} ${request.url.pathname}: ${cause.message}`, {
              cause,
            }),
          );
        });
      },
    );
    if (request.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        req.destroy(
          new ExtensionError(
            'HTTP_TIMEOUT',
            `${request.method} ${request.url.pathname} timed out after ${request.timeoutMs} ms`,
          ),
        );
      }, request.timeoutMs);
    }
    req.on('error', (cause) => {
      if (timer) clearTimeout(timer);
      if (cause instanceof ExtensionError) {
        reject(cause);
        return;
      }
      const failure = new ExtensionError(
        'HTTP_FAILED',
        `${request.method} ${request.url.pathname}: ${cause.message}`,
        {
          cause,
        },
      );
      const code = (cause as NodeJS.ErrnoException).code;
      if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
        Object.assign(failure, { staleSocket: true });
      }
      reject(failure);
    });
    req.end(request.body);
  });
}

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds; undefined when absent or bad. */
export function retryAfterMs(
  header: string | string[] | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
