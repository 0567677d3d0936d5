/**
 * The policy fetch's HTTP client: one GET over a fresh connection (node:net, node:tls for https),
 * read to the end of the response. The fetch is the first thing the extension's Node does, and the
 * agent waits for its result, so it loads as little as it can: not node:http (its module, agent and
 * request machinery cost ~4 ms of a cold start before the request is on the wire; the rest of the
 * extension loads node:http once the policy is handed over). HTTP/1.1 only, `Connection: close`; the
 * body is framed by Content-Length, chunked transfer coding or the end of the connection, as RFC 9112
 * §6.3 says. Anything else it does not understand is an error, never a guess.
 */
import * as net from 'node:net';
import { builtin } from './builtin.js';
import { ExtensionError } from './errors.js';

export interface PlainResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** A policy group is a few KiB; anything near this is not one. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * GETs `url` with `headers`, bounded by `timeoutMs` (connect, TLS, request and the whole response).
 * @example await getOnce(new URL('http://127.0.0.1:8080/api/v1/agent/policy?group=g'), { authorization: 'Bearer k' }, 600)
 * @throws ExtensionError HTTP_TIMEOUT, or HTTP_FAILED (network error, malformed response); HTTP error statuses are returned.
 */
export async function getOnce(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PlainResponse> {
  const what = `GET ${url.pathname}`;
  const request = requestText(url, headers);
  const secure = url.protocol === 'https:';
  // Loaded on first use only: TLS costs milliseconds to load and plain http needs none of it.
  const tls = secure ? builtin<typeof import('node:tls')>('node:tls') : undefined;
  return new Promise((resolve, reject) => {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (secure ? 443 : 80);
    const socket: net.Socket = tls
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }) })
      : net.connect({ host, port });
    const reader = new ResponseReader();
    let settled = false;
    const finish = (error: Error | undefined, response?: PlainResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(response!);
      // After the policy is written (the caller's continuation runs first): closing a socket costs
      // a little (Node creates process.stderr on the way), and the server closes it anyway.
      setImmediate(() => socket.destroy());
    };
    const failed = (message: string, cause?: unknown) =>
      finish(new ExtensionError('HTTP_FAILED', `${what}: ${message}`, cause ? { cause } : undefined));
    const timer = setTimeout(
      () => finish(new ExtensionError('HTTP_TIMEOUT', `${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (cause) => failed(cause.message, cause));
    socket.on('data', (chunk: Buffer) => {
      try {
        const response = reader.push(chunk);
        if (response) finish(undefined, response);
      } catch (error) {
        failed((error as Error).message);
      }
    });
    socket.on('end', () => {
      try {
        finish(undefined, reader.end());
      } catch (error) {
        failed((error as Error).message);
      }
    });
    socket.on('close', () => failed('connection closed before the response was complete'));
    // Both sockets queue the write until they are connected (TLS: until the handshake is done).
    // Not end(): a half-closed request is answered by most servers, but not by every proxy.
    socket.write(request, 'latin1');
  });
}

function requestText(url: URL, headers: Record<string, string>): string {
  let text = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // What node:http refuses too (ERR_INVALID_CHAR): a value must not end the header or the request.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value) || /[^\t\x20-\xff]/.test(value))
      throw new ExtensionError('HTTP_FAILED', `GET ${url.pathname}: invalid header ${JSON.stringify(name)}`);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Parses one HTTP/1.1 response as it arrives. `push` returns the response once it is complete;
 * `end` (the connection closed) returns it when the body was delimited by the close, else throws.
 */
export class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Record<string, string>; framing: Framing } | undefined;
  /** Where the body starts in `buffer`, once the head is parsed. */
  private bodyStart = 0;

  push(chunk: Buffer): PlainResponse | undefined {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > MAX_RESPONSE_BYTES)
      throw new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
    for (;;) {
      if (!this.head) {
        const end = this.buffer.indexOf(HEADER_END);
        if (end < 0) return undefined;
        const head = parseHead(this.buffer.toString('latin1', 0, end));
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
        // 1xx (100 Continue, 103 Early Hints) precede the real response
        if (head.status < 200) continue;
        this.head = head;
        this.bodyStart = 0;
      }
      return this.complete();
    }
  }

  end(): PlainResponse {
    if (this.head?.framing.kind === 'close') return this.response(this.buffer.subarray(this.bodyStart));
    throw new Error('connection closed before the response was complete');
  }

  private complete(): PlainResponse | undefined {
    const head = this.head!;
    const { framing } = head;
    if (framing.kind === 'length') {
      if (this.buffer.length < framing.length) return undefined;
      return this.response(this.buffer.subarray(0, framing.length));
    }
    if (framing.kind === 'chunked') {
      const body = decodeChunked(this.buffer);
      return body === undefined ? undefined : this.response(body);
    }
    return undefined;
  }

  private response(body: Buffer): PlainResponse {
    const { status, headers } = this.head!;
    return { status, headers, body: body.toString('utf8') };
  }
}

function parseHead(text: string): { status: number; headers: Record<string, string>; framing: Framing } {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine)
    throw new Error(`not an HTTP/1.1 response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const status = Number(statusLine[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status, headers, framing: framingOf(status, headers) };
}

function framingOf(status: number, headers: Record<string, string>): Framing {
  if (status === 204 || status === 304) return { kind: 'length', length: 0 };
  const transferEncoding = headers['transfer-encoding'];
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  const contentLength = headers['content-length'];
  if (contentLength !== undefined) {
    // Repeated identical values ("12, 12") are allowed; anything else is not a length.
    const values = [...new Set(contentLength.split(',').map((value) => value.trim()))];
    if (values.length !== 1 || !/^\d+$/.test(values[0]!))
      throw new Error(`bad content-length ${JSON.stringify(contentLength)}`);
    return { kind: 'length', length: Number(values[0]) };
  }
  return { kind: 'close' };
}

/** The body of a complete chunked message in `data`, or undefined while more is to come. */
function decodeChunked(data: Buffer): Buffer | undefined {
  const chunks: Buffer[] = [];
  let position = 0;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, position);
    if (lineEnd < 0) return undefined;
    const sizeText = data.toString('latin1', position, lineEnd).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText))
      throw new Error(`bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}`);
    const size = Number.parseInt(sizeText, 16);
    position = lineEnd + CRLF.length;
    if (size === 0) {
      // trailer fields (ignored), then the empty line that ends the message
      if (data.length < position + CRLF.length) return undefined;
      if (data[position] === 0x0d && data[position + 1] === 0x0a) return Buffer.concat(chunks);
      return data.indexOf(HEADER_END, position) < 0 ? undefined : Buffer.concat(chunks);
    }
    if (data.length < position + size + CRLF.length) return undefined;
    chunks.push(data.subarray(position, position + size));
    position += size;
    if (data[position] !== 0x0d || data[position + 1] !== 0x0a) throw new Error('chunk not followed by CRLF');
    position += CRLF.length;
  }
}
