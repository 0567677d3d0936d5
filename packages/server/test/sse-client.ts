/** A minimal Server-Sent Events client over node:http, for tests over a real socket. */
import http from 'node:http';

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  messages: SseMessage[];
  /** Resolves when `count` messages have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  ended: Promise<void>;
  close(): void;
}

export function connectSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      const messages: SseMessage[] = [];
      const waiters: Array<() => void> = [];
      let buffer = '';
      let endResolve: () => void = () => {};
      const ended = new Promise<void>((r) => {
        endResolve = r;
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let split = buffer.indexOf('\n\n');
        while (split !== -1) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const message: SseMessage = { data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') message.id = value;
            else if (field === 'event') message.event = value;
            else if (field === 'data') {
              message.data += (hasData ? '\n' : '') + value;
              hasData = true;
            }
          }
          if (hasData) messages.push(message);
          split = buffer.indexOf('\n\n');
        }
        for (const waiter of waiters.splice(0)) waiter();
      });
      response.on('end', () => endResolve());
      response.on('close', () => endResolve());
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        messages,
        ended,
        waitFor(count, timeoutMs = 5000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(
              () => rej(new Error(`timed out waiting for ${count} SSE messages (got ${messages.length})`)),
              timeoutMs,
            );
            const check = () => {
              if (messages.length >= count) {
                clearTimeout(timer);
                res(messages.slice(0, count));
              } else waiters.push(check);
            };
            check();
          });
        },
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}
