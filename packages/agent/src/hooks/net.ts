/**
 * TCP and Unix-socket connections (contract §1 `network`, operation `connect`).
 *
 * Two layers, because each sees what the other cannot:
 * - `net.Socket.prototype.connect`, which every road goes through (net.connect, tls.connect, http,
 *   https, http2, fetch/WebSocket of Node's bundled undici, userland undici, ws, axios...), sees the
 *   host name and port before DNS, and the URL/method an http(s) Agent passes along with them. A denied name fails there, asynchronously, with an 'error' event
 *   on the socket, which is how a connection failure reaches every one of those APIs.
 * - The tcp_wrap binding's `TCP.prototype.connect/connect6` sees the address actually dialled,
 *   whatever lookup produced it (an app-supplied `lookup`, DNS rebinding, numeric aliases), and raw
 *   binding use. Under deny, the address must belong to an allowed name (IpNameTable) or be allowed
 *   itself. Under observe it reports only what was not already reported by name: an address the
 *   observed name resolves to (address-learning.ts, observedAnswers) is not reported again.
 * - The pipe_wrap binding's `Pipe.prototype.connect` covers raw Unix-socket connects.
 * IP literals (in any spelling Node accepts) are judged by their address right away, except while
 * the agent's own first resolution of the allowed names is still out: then they are judged at the
 * binding, which can wait for it.
 */
import { normalizeHostname } from '@appdefender/policy';
import { isAgentWork } from '../agent-work.js';
import { attributeCall } from '../attribution.js';
import { getBinding, patchMethod } from '../bindings.js';
import { builtin } from '../builtins.js';
import { type AgentContext, getContext as getContextForDryRun } from '../context.js';
import { judge } from '../enforce.js';
import {
  apply,
  getOwnPropertySymbols,
  isArray,
  mapClear,
  mapGet,
  mapSet,
  mapSize,
  matches,
  numberIsInteger,
  stringTrim,
} from '../intrinsics.js';
import { allowedNamesPending, dialsAnswerOf, whenAllowedNamesSettled } from '../network/address-learning.js';
import { UV_EACCES } from '../network/errno.js';
import {
  type ConnectIntent,
  callJudged,
  connectsThrough,
  intentOf,
  makeIntent,
  ownerOf,
  rememberIntent,
} from '../network/intents.js';
import { networkOp } from '../network/operations.js';
import type { EventDetails } from '../report.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Destroyable = { destroy(error?: Error): unknown };

export const hook: HookDescriptor = { name: 'net', category: 'network', install };

// loaded at install, not at agent load (see builtins.ts)
let net: typeof import('node:net');
// captured at install: the app could replace net.isIP later
let isIP: (input: string) => number;
// the mark Node puts on its normalized `[options, cb]` arrays (net.js normalizedArgsSymbol)
let normalizedArgsSymbol: symbol | undefined;

function markOfNormalizedArgs(netModule: object): symbol | undefined {
  const normalizeArgs = (netModule as { _normalizeArgs?: unknown })._normalizeArgs;
  if (typeof normalizeArgs !== 'function') return undefined;
  try {
    const symbols = getOwnPropertySymbols(apply(normalizeArgs, undefined, [[]]) as object);
    return symbols.length === 1 ? symbols[0] : undefined;
  } catch {
    return undefined;
  }
}

function install(_context: AgentContext): void {
  net = builtin<typeof import('node:net')>('node:net');
  isIP = net.isIP;
  normalizedArgsSymbol = markOfNormalizedArgs(net);
  const tcp = getBinding('tcp_wrap') as { TCP?: { prototype: object } } | undefined;
  patchMethod(tcp?.TCP?.prototype, 'connect', wrapTcpConnect);
  patchMethod(tcp?.TCP?.prototype, 'connect6', wrapTcpConnect);
  const pipe = getBinding('pipe_wrap') as { Pipe?: { prototype: object } } | undefined;
  patchMethod(pipe?.Pipe?.prototype, 'connect', wrapPipeConnect);
  patchMethod(net.Socket.prototype, 'connect', wrapSocketConnect);
}

interface ConnectTarget {
  host?: string;
  port?: number;
  path?: string;
  details?: EventDetails;
}

/**
 * Reads host/port or path from any of `socket.connect`'s call forms, the way Node's
 * `normalizeArgs` tells them apart; undefined (or no host and no path) lets Node validate and throw.
 * Every field of the result is an own property (see network/operations.ts).
 *
 * Node reads the options again after us, so a getter, a Proxy or an accessor Node triggers on
 * another option can make it dial something else than what was judged here. That is not a way
 * past the agent: the tcp_wrap and pipe_wrap hooks judge what is actually dialled (an address is
 * granted only when it was resolved from an allowed name, and an observed name's connection only
 * at the addresses its lookup answered, at its own port), so the real target is refused under deny
 * and reported under observe (test/redteam-round3.test.ts). Handing Node a frozen copy of the
 * options instead made every connect about 5% dearer (22K instructions of 490K, callgrind).
 */
function connectTarget(args: unknown[]): ConnectTarget | undefined {
  const count = args.length;
  if (count === 0) return undefined;
  const first = args[0];
  let options: Record<string, unknown>;
  if (isArray(first) && (normalizedArgsSymbol === undefined || first[normalizedArgsSymbol as never])) {
    // Node's normalized form ([options, cb], marked): anything else that is an object, arrays
    // included, is itself the options (if a Node release stops exporting the mark, every array is
    // taken for the normalized form: the tcp_wrap hook still judges what is dialled)
    options = first[0] as Record<string, unknown>;
    if (options === null || typeof options !== 'object') return undefined;
  } else if (first !== null && typeof first === 'object') {
    options = first as Record<string, unknown>;
  } else if (typeof first === 'string' && !(+first >= 0)) {
    // Node's isPipeName: a string that is not a number (`'0x50'` is port 80, not a path)
    return { host: undefined, port: undefined, path: first, details: undefined };
  } else {
    const port = toPort(first);
    if (port === undefined) return undefined;
    const host =
      count > 1 && typeof args[1] === 'string' && args[1] !== '' ? (args[1] as string) : 'localhost';
    return { host, port, path: undefined, details: undefined };
  }
  const rawPath = options.path;
  const rawPort = options.port;
  const rawHost = options.host;
  if (rawPath !== undefined && rawPath !== null && rawPath !== '') {
    // Node connects a pipe when `path` is truthy (and fails on a non-string one)
    const path = typeof rawPath === 'string' ? rawPath : undefined;
    return { host: undefined, port: undefined, path, details: undefined };
  }
  const port = toPort(rawPort);
  // not a port Node accepts: Node validates the value, and throws
  if (port === undefined) return { host: undefined, port, path: undefined, details: undefined };
  const host = typeof rawHost === 'string' && rawHost !== '' ? rawHost : 'localhost';
  return { host, port, path: undefined, details: requestDetails(options) };
}

function toPort(value: unknown): number | undefined {
  if (typeof value !== 'number' && !(typeof value === 'string' && stringTrim(value) !== '')) return undefined;
  const port = +(value as number);
  return numberIsInteger(port) && port >= 0 && port <= 65535 ? port : undefined;
}

/**
 * URL and method of the HTTP request a connection is made for. http/https Agents pass the request's
 * options on to `net.connect` (`href` for requests made from a URL, `method`, and their `_agentKey`),
 * so we read them here instead of loading and patching http, https and http2 at start-up.
 */
function requestDetails(options: Record<string, unknown>): EventDetails | undefined {
  // no object until there is something to say: a plain net.connect has none of these
  const href = options.href;
  const url = typeof href === 'string' ? redactUrl(href) : undefined;
  const rawMethod = options.method;
  const method =
    typeof rawMethod === 'string'
      ? rawMethod.toUpperCase()
      : options._agentKey !== undefined
        ? 'GET'
        : undefined;
  const alpn = options.ALPNProtocols;
  const protocol = Array.isArray(alpn) && alpn.includes('h2') ? 'h2' : undefined;
  if (url === undefined && method === undefined && protocol === undefined) return undefined;
  const details: EventDetails = {};
  if (url !== undefined) details.url = url;
  if (method !== undefined) details.method = method;
  if (protocol !== undefined) details.protocol = protocol;
  return details;
}

/** Drops credentials from a URL before it goes into an event (events end up in logs). */
function redactUrl(href: string): string {
  try {
    const url = new URL(href);
    if (!url.username && !url.password) return href;
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return href;
  }
}

/**
 * The address a host spelling stands for when it is an IP literal (`2130706433`, `0x7f.1`,
 * `[::ffff:…]`...). Names are the common case: a letter outside hex digits and `x` rules a
 * literal out at once; the rest are normalised once and remembered.
 */
const literalCache = new Map<string, string | null>();
const MAX_LITERAL_CACHE = 1024;
function literalAddress(host: string): string | undefined {
  if (matches(NOT_A_LITERAL, host)) return undefined;
  let address = mapGet(literalCache, host);
  if (address === undefined) {
    const normalized = isIP(host) ? host : normalizeHostname(host);
    address = normalized && isIP(normalized) ? normalized : null;
    if (mapSize(literalCache) >= MAX_LITERAL_CACHE) mapClear(literalCache);
    mapSet(literalCache, host, address);
  }
  return address ?? undefined;
}
const NOT_A_LITERAL = /[g-wyz]/i;
const NOT_A_STRING = '(not a string)';

function failSocket(socket: unknown, error: Error): void {
  const destroy = (socket as Partial<Destroyable>).destroy;
  if (typeof destroy === 'function') apply(destroy, socket, [error]);
}

function wrapSocketConnect(original: AnyFunction): AnyFunction {
  return function connect(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const target = connectTarget(args);
    if (!target || this === null || typeof this !== 'object') return apply(original, this, args);
    const { host, port, path, details } = target;
    // nothing to judge (Node validates the options and throws)
    if (host === undefined && path === undefined) return apply(original, this, args);
    let intent: ConnectIntent;
    if (path !== undefined) {
      const { verdict, error } = judge(
        networkOp('connect', 'pipe', undefined, undefined, undefined, path),
        details,
      );
      if (error) return failAndReturn(this, error);
      intent = makeIntent(verdict, undefined, undefined, path, undefined, undefined, undefined);
    } else if (literalAddress(host!) !== undefined) {
      const address = literalAddress(host!)!;
      if (allowedNamesPending()) {
        // judged at the address once the agent's own lookups are in (see the binding hook); the
        // app's stack is gone by then, so attribute now (rare: only in the first milliseconds)
        intent = makeIntent('deferred', host, port, undefined, details, undefined, attributeCall(connect));
      } else {
        const literalDetails = address === host ? details : { ...details, host };
        const { verdict, error } = judge(
          networkOp('connect', 'tcp', undefined, address, port),
          literalDetails,
        );
        if (error) return failAndReturn(this, error);
        intent = makeIntent(verdict, host, port, undefined, undefined, undefined, undefined);
      }
    } else {
      const { verdict, error } = judge(networkOp('connect', 'tcp', host, undefined, port), details);
      if (error) return failAndReturn(this, error);
      intent = makeIntent(verdict, host, port, undefined, details, undefined, undefined);
    }
    rememberIntent(this, intent);
    return callJudged(intent.host, original, this, args);
  };
}

/**
 * Fails a connect the app asked for: the socket looks like it is connecting (writes are buffered, as
 * while a real connect is in flight) and is destroyed with the error on a later turn of the event
 * loop, after the listeners its creator attaches asynchronously (http's onSocket runs on a later
 * tick), exactly like a refused connection.
 */
function failAndReturn(socket: object, error: Error): object {
  (socket as { connecting?: boolean }).connecting = true;
  setImmediate(failSocket, socket, error);
  return socket;
}

/**
 * Decides a dialled address; returns the error to fail with, or null. Observe-by-name is not
 * repeated when the address is one the system resolver gave for that name (or the literal itself);
 * any other address (a custom `lookup`, a raw connect on the socket's handle) is judged and reported.
 */
function judgeAddress(intent: ConnectIntent | undefined, address: unknown, port: unknown): Error | null {
  if (intent?.verdict === 'observe' && intent.port === port && dialsAnswerOf(intent.host, address))
    return null;
  // Node's bindings only take string addresses (they abort on anything else today); anything else
  // is judged as the invalid host it is, never waved through
  const ip = typeof address === 'string' ? address : NOT_A_STRING;
  const op = networkOp('connect', 'tcp', undefined, ip, typeof port === 'number' ? port : undefined);
  let details: EventDetails | undefined = intent?.details;
  if (intent?.host && intent.host !== address) details = { ...details, host: intent.host };
  return judge(op, details, intent?.attribution).error;
}

function wrapTcpConnect(original: AnyFunction): AnyFunction {
  return function connect(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    // by index, not destructuring: destructuring asks the (replaceable) array iterator
    const request = args[0];
    const address = args[1];
    const port = args[2];
    const owner = ownerOf(this);
    const intent = intentOf(owner);
    // only an address string can be vouched for by the agent's resolution of the allowed names
    if (typeof address === 'string' && allowedNamesPending() && wouldDeny(intent, address, port)) {
      whenAllowedNamesSettled(() => dialOrFail(original, this, owner, intent, args));
      return 0;
    }
    const error = judgeAddress(intent, address, port);
    if (!error) return apply(original, this, args);
    // the socket dialling hears ERR_ACCESS_DENIED as a connection error, and Node's request is
    // dropped with its handle; anyone else (a raw handle, even one naming a socket as its owner)
    // waits on its own request and gets the binding's own failure
    if (owner && connectsThrough(owner, this)) {
      process.nextTick(failSocket, owner, error);
      return 0;
    }
    void request;
    return UV_EACCES;
  };
}

/** A dry run of the decision (no event) to know whether waiting for the allowed names could help. */
function wouldDeny(intent: ConnectIntent | undefined, address: unknown, port: unknown): boolean {
  if (intent?.verdict === 'observe' && intent.port === port && dialsAnswerOf(intent.host, address))
    return false;
  const ip = typeof address === 'string' ? address : NOT_A_STRING;
  const context = getContextForDryRun();
  if (!context) return false;
  try {
    const op = networkOp('connect', 'tcp', undefined, ip, typeof port === 'number' ? port : undefined);
    return context.decider.decide(op).verdict === 'deny';
  } catch {
    return false;
  }
}

function dialOrFail(
  original: AnyFunction,
  handle: unknown,
  owner: object | undefined,
  intent: ConnectIntent | undefined,
  args: unknown[],
): void {
  const request = args[0];
  const address = args[1];
  const port = args[2];
  const error = judgeAddress(intent, address, port);
  if (error) {
    // the caller was told the dial is under way (0): its request must complete (see wrapTcpConnect)
    if (owner && connectsThrough(owner, handle)) failSocket(owner, error);
    else completeWithError(request, handle, UV_EACCES);
    return;
  }
  const status = apply(original, handle, args);
  if (typeof status === 'number' && status < 0) completeWithError(request, handle, status);
}

/** Reports a failed dial the way libuv would have: through the request's oncomplete. */
function completeWithError(request: unknown, handle: unknown, status: number): void {
  const oncomplete = (request as { oncomplete?: AnyFunction } | null)?.oncomplete;
  if (typeof oncomplete === 'function') apply(oncomplete, request, [status, handle, request, false, false]);
}

function wrapPipeConnect(original: AnyFunction): AnyFunction {
  return function connect(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const path = args[1];
    const owner = ownerOf(this);
    const intent = intentOf(owner);
    if (intent?.path !== undefined && intent.path === path) return apply(original, this, args);
    const socketPath = typeof path === 'string' ? path : NOT_A_STRING;
    const { error } = judge(networkOp('connect', 'pipe', undefined, undefined, undefined, socketPath));
    if (!error) return apply(original, this, args);
    if (owner && connectsThrough(owner, this)) {
      process.nextTick(failSocket, owner, error);
      return 0;
    }
    return UV_EACCES;
  };
}
