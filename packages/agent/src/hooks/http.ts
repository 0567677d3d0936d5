/**
 * HTTP, HTTPS and HTTP/2 clients: enrichment only. Their connections are judged where they are
 * made (hooks/net.ts); here we note the URL and method of the request being created, so the event
 * of the connect it triggers says which request it was. `http.request` creates its socket
 * synchronously (agent.addRequest → createConnection → net.connect), so a plain variable scoped to
 * the call is enough. A request that reuses a keep-alive socket makes no connect and no event.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { isAgentWork } from '../agent-work.js';
import { patchMethod } from '../bindings.js';
import type { AgentContext } from '../context.js';
import { withRequestDetails } from '../network/intents.js';
import type { EventDetails } from '../report.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export const hook: HookDescriptor = { name: 'http', category: 'network', install };

function install(_context: AgentContext): void {
  for (const [module, protocol] of [
    [http, 'http:'],
    [https, 'https:'],
  ] as const) {
    patchMethod(module, 'request', (original) => enrich(original, (args) => requestDetails(args, protocol)));
    patchMethod(module, 'get', (original) =>
      enrich(original, (args) => requestDetails(args, protocol, 'GET')),
    );
  }
  patchMethod(http2, 'connect', (original) => enrich(original, http2Details));
}

function enrich(
  original: AnyFunction,
  detailsOf: (args: unknown[]) => EventDetails | undefined,
): AnyFunction {
  return function withDetails(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return Reflect.apply(original, this, args);
    let details: EventDetails | undefined;
    try {
      details = detailsOf(args);
    } catch {
      details = undefined; // enrichment is best effort; the request itself is untouched
    }
    if (!details) return Reflect.apply(original, this, args);
    return withRequestDetails(details, () => Reflect.apply(original, this, args));
  };
}

/** URL and method from `request(url[, options][, cb])` or `request(options[, cb])`. */
export function requestDetails(
  args: unknown[],
  protocol: string,
  forcedMethod?: string,
): EventDetails | undefined {
  const [first, second] = args;
  let url: URL | undefined;
  let options: Record<string, unknown> = {};
  if (typeof first === 'string') url = new URL(first);
  else if (first instanceof URL) url = first;
  else if (first && typeof first === 'object') options = first as Record<string, unknown>;
  if (url && second && typeof second === 'object') options = second as Record<string, unknown>;
  const method = forcedMethod ?? (typeof options.method === 'string' ? options.method.toUpperCase() : 'GET');
  if (url) return { url: redact(url.href), method };
  const host = String(options.hostname ?? options.host ?? 'localhost');
  const defaultPort = protocol === 'https:' ? 443 : 80;
  const port = options.port === undefined || options.port === null ? defaultPort : Number(options.port);
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const path = typeof options.path === 'string' ? options.path : '/';
  const scheme = typeof options.protocol === 'string' ? options.protocol : protocol;
  if (options.socketPath) return { url: `${scheme}//unix:${String(options.socketPath)}:${path}`, method };
  return { url: redact(`${scheme}//${bracketed}${port === defaultPort ? '' : `:${port}`}${path}`), method };
}

function http2Details(args: unknown[]): EventDetails | undefined {
  const [authority] = args;
  if (typeof authority === 'string') return { url: redact(authority), protocol: 'h2' };
  if (authority instanceof URL) return { url: redact(authority.href), protocol: 'h2' };
  return undefined;
}

/** Drops credentials from a URL before it goes into an event (events end up in logs). */
function redact(href: string): string {
  try {
    const url = new URL(href);
    if (url.username || url.password) {
      url.username = '';
      url.password = '';
    }
    return url.href;
  } catch {
    return href;
  }
}
