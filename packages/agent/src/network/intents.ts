/**
 * Bookkeeping that lets a connection be judged once by name and again by the address actually
 * dialled, without reporting it twice and without letting anything else ride on that judgement.
 *
 * - A connect intent records, per socket (net.Socket or dgram.Socket), the host the app asked for
 *   and the verdict it got. The binding-level hooks find the socket from its native handle through
 *   Node's `owner_symbol` property, which `initSocketHandle` (net) and dgram set on every handle.
 *   A handle without an owner is raw binding use and is always judged on its own.
 * - A judged scope marks, for the duration of one synchronous public call that was already judged,
 *   the one host name it covers, so that the lookup Node makes for it (dns.lookup → getaddrinfo)
 *   is not judged again. Anything else the call does meanwhile (an app-supplied `lookup` that also
 *   queries another name) is still judged.
 */
import type { Attribution } from '../attribution.js';
import type { Judgement } from '../enforce.js';
import {
  apply,
  getOwnPropertySymbols,
  symbolDescription,
  toLowerCase,
  weakMapGet,
  weakMapSet,
} from '../intrinsics.js';
import type { EventDetails } from '../report.js';

export interface ConnectIntent {
  host?: string;
  port?: number;
  path?: string;
  /** 'deferred': an IP literal, judged only at the address it dials. */
  verdict: Judgement['verdict'] | 'deferred';
  details?: EventDetails;
  /** A connected UDP socket: its sends go to the address judged at connect. */
  connected?: boolean;
  /** Captured at the app's call when the judgement is deferred to the binding. */
  attribution?: Attribution;
}

const intents = new WeakMap<object, ConnectIntent>();
let ownerSymbol: symbol | undefined;

/** The net/dgram socket owning a native handle, or undefined for a raw handle. */
export function ownerOf(handle: unknown): object | undefined {
  if (!handle || typeof handle !== 'object') return undefined;
  if (!ownerSymbol) {
    const symbols = getOwnPropertySymbols(handle);
    for (let i = 0; i < symbols.length; i++) {
      const symbol = symbols[i]!;
      if (symbolDescription(symbol) === 'owner_symbol') ownerSymbol = symbol;
    }
    if (!ownerSymbol) return undefined;
  }
  const owner = (handle as Record<symbol, unknown>)[ownerSymbol];
  return owner && typeof owner === 'object' ? owner : undefined;
}

/**
 * True when `handle` is the one `owner` connects through: its `_handle`, or the TCP/Pipe handle under
 * a TLSSocket's TLSWrap (whose connect is proxied to `_parent`). Any handle can name any socket as
 * its owner (raw binding use); a refused dial on such a handle is its caller's to hear about, on its
 * own request, and none of the named socket's business.
 */
export function connectsThrough(owner: object, handle: unknown): boolean {
  const own = (owner as { _handle?: unknown })._handle;
  if (own === handle) return true;
  return own !== null && typeof own === 'object' && (own as { _parent?: unknown })._parent === handle;
}

/**
 * A connect intent with every field an own property (undefined when unknown), so that no read of
 * it can reach an `Object.prototype.host` the app planted. Positional for the same reason.
 */
export function makeIntent(
  verdict: ConnectIntent['verdict'],
  host: string | undefined,
  port: number | undefined,
  path: string | undefined,
  details: EventDetails | undefined,
  connected: boolean | undefined,
  attribution: Attribution | undefined,
): ConnectIntent {
  return { verdict, host, port, path, details, connected, attribution };
}

export function rememberIntent(socket: object, intent: ConnectIntent): void {
  weakMapSet(intents, socket, intent);
}

export function intentOf(socket: object | undefined): ConnectIntent | undefined {
  return socket ? weakMapGet(intents, socket) : undefined;
}

let judgedHost: string | undefined;

/** `apply(original, self, args)` with `host` marked as already judged (no closure on the hot path). */
export function callJudged(
  host: string | undefined,
  original: (...args: unknown[]) => unknown,
  self: unknown,
  args: unknown[],
): unknown {
  const previous = judgedHost;
  judgedHost = host;
  try {
    return apply(original, self, args);
  } finally {
    judgedHost = previous;
  }
}

/** True when `host` is the one the public call in progress was judged for (names are case-blind). */
export function isJudgedHost(host: unknown): boolean {
  if (judgedHost === undefined || typeof host !== 'string') return false;
  return host === judgedHost || toLowerCase(host) === toLowerCase(judgedHost);
}
