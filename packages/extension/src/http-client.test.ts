import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from './http-client.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: http.RequestListener): Promise<URL> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

describe('httpRequest', () => {
  it('retries once on a fresh socket when a kept-alive socket turns out dead (a thaw after a freeze)', async () => {
    // The server hangs up on the second request of any connection, as one that timed out the idle
    // socket while the client was frozen would.
    const perSocket = new Map<Socket, number>();
    let answered = 0;
    const url = await serve((req, res) => {
      const count = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, count);
      if (count > 1) {
        req.socket.destroy();
        return;
      }
      answered++;
      res.writeHead(200, { connection: 'keep-alive' }).end(`answer ${answered}`);
    });
    expect((await httpRequest({ method: 'GET', url, timeoutMs: 2000 })).body).toBe('answer 1');
    const second = await httpRequest({ method: 'POST', url, body: 'x', timeoutMs: 2000 });
    expect(second.body).toBe('answer 2');
    expect(perSocket.size).toBe(2);
  });

  it('fails with HTTP_TIMEOUT when the server does not answer in time', async () => {
    const url = await serve(() => {
      // never answers
    });
    await expect(httpRequest({ method: 'GET', url, timeoutMs: 100 })).rejects.toMatchObject({
      code: 'HTTP_TIMEOUT',
    });
  });

  it('fails with HTTP_FAILED when nothing listens', async () => {
    const url = await serve((_req, res) => res.end());
    servers[0]!.close();
    servers[0]!.closeAllConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(
      httpRequest({ method: 'GET', url, timeoutMs: 1000 }, { keepAlive: false }),
    ).rejects.toMatchObject({ code: 'HTTP_FAILED' });
  });
});
