import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getOnce, ResponseReader } from './policy-request.js';

const servers: Array<http.Server | net.Server> = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    if (server instanceof http.Server) server.closeAllConnections();
    server.close();
  }
});

async function listen<T extends http.Server | net.Server>(server: T): Promise<URL> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/agent/policy?group=g%20h`,
  );
}

/** A server that writes `response` verbatim (in `parts`, a few ms apart) after reading the request head. */
async function raw(parts: string[], seen: string[] = []): Promise<URL> {
  return listen(
    net.createServer((socket) => {
      let head = '';
      socket.on('data', async (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        seen.push(head);
        for (const part of parts) {
          socket.write(part);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        socket.end();
      });
    }),
  );
}

describe('getOnce', () => {
  it('GETs with the given headers and reads a Content-Length body (node:http server)', async () => {
    const requests: http.IncomingMessage[] = [];
    const url = await listen(
      http.createServer((req, res) => {
        requests.push(req);
        res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"', 'content-length': '14' });
        res.end('{"name":"ete"}');
      }),
    );
    const response = await getOnce(url, { authorization: 'Bearer k', 'if-none-match': '"v0"' }, 2000);
    expect(response).toEqual({
      status: 200,
      headers: expect.objectContaining({ etag: '"v1"', 'content-type': 'application/json' }),
      body: '{"name":"ete"}',
    });
    expect(requests[0]!.url).toBe('/api/v1/agent/policy?group=g%20h');
    expect(requests[0]!.headers).toMatchObject({
      host: url.host,
      authorization: 'Bearer k',
      'if-none-match': '"v0"',
      connection: 'close',
    });
  });

  it('reads a chunked body as node:http sends it by default, and UTF-8 split across chunks', async () => {
    const url = await listen(
      http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const text = Buffer.from('{"name":"€uro"}');
        res.write(text.subarray(0, 10)); // splits the three bytes of €
        setTimeout(() => res.end(text.subarray(10)), 5);
      }),
    );
    const response = await getOnce(url, {}, 2000);
    expect(response.headers['transfer-encoding']).toBe('chunked');
    expect(response.body).toBe('{"name":"€uro"}');
  });

  it('reads chunk extensions and trailers, a body delimited by the end of the connection, and skips 1xx', async () => {
    const chunked = await raw([
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      '4;ext=1\r\nabcd\r\n',
      '3\r\nefg\r\n0\r\nX-Trailer: 1\r\n\r\n',
    ]);
    expect(await getOnce(chunked, {}, 2000)).toMatchObject({ status: 200, body: 'abcdefg' });

    const untilClose = await raw(['HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall ', 'of it']);
    expect(await getOnce(untilClose, {}, 2000)).toMatchObject({ status: 200, body: 'all of it' });
  });

  it('answers 304 without a body even when Content-Length describes the cached one', async () => {
    const url = await raw(['HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 120\r\n\r\n']);
    expect(await getOnce(url, { 'if-none-match': '"v1"' }, 2000)).toEqual({
      status: 304,
      headers: { etag: '"v1"', 'content-length': '120' },
      body: '',
    });
  });

  it('returns error statuses with their body', async () => {
    const url = await listen(
      http.createServer((_req, res) =>
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":1}'),
      ),
    );
    expect(await getOnce(url, {}, 2000)).toMatchObject({ status: 401, body: '{"error":1}' });
  });

  it('fails with HTTP_FAILED on a truncated or malformed response, and when nothing listens', async () => {
    const truncated = await raw(['HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort']);
    await expect(getOnce(truncated, {}, 2000)).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: expect.stringContaining('before the response was complete'),
    });
    const notHttp = await raw(['SSH-2.0-OpenSSH_9.6\r\n\r\n']);
    await expect(getOnce(notHttp, {}, 2000)).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: expect.stringContaining('not an HTTP/1.1 response'),
    });
    const badChunk = await raw(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']);
    await expect(getOnce(badChunk, {}, 2000)).rejects.toMatchObject({ code: 'HTTP_FAILED' });

    const closed = await listen(net.createServer());
    servers.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(getOnce(closed, {}, 2000)).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('fails with HTTP_TIMEOUT when the response does not complete in time', async () => {
    // the head and part of the body, then nothing: the connection stays open
    const held = await listen(
      net.createServer((socket) =>
        socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')),
      ),
    );
    const started = Date.now();
    await expect(getOnce(held, {}, 150)).rejects.toMatchObject({
      code: 'HTTP_TIMEOUT',
      message: 'GET /api/v1/agent/policy timed out after 150 ms',
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses header values that would end the header or the request', async () => {
    const seen: string[] = [];
    const url = await raw(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], seen);
    await expect(getOnce(url, { authorization: 'Bearer k\r\nX-Injected: 1' }, 2000)).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: expect.stringContaining('invalid header'),
    });
    expect(seen).toEqual([]);
  });
});

describe('ResponseReader', () => {
  it('completes a Content-Length response only once every byte is in, whatever the split', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "a"\r\nVary: x\r\nVary: y\r\n\r\nhello';
    for (let split = 1; split < text.length; split++) {
      const reader = new ResponseReader();
      expect(reader.push(Buffer.from(text.slice(0, split)))).toBeUndefined();
      expect(reader.push(Buffer.from(text.slice(split)))).toEqual({
        status: 200,
        headers: { 'content-length': '5', etag: '"a"', vary: 'x, y' },
        body: 'hello',
      });
    }
  });

  it('refuses conflicting Content-Length values and an end before a framed body is complete', () => {
    expect(() =>
      new ResponseReader().push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n')),
    ).toThrow(/bad content-length/);
    const reader = new ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'));
    expect(() => reader.end()).toThrow(/before the response was complete/);
  });
});
