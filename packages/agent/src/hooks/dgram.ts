/**
 * UDP (contract §1 `network`, operations `send` and `connect`).
 * - `dgram.Socket.prototype.send` / `connect`: the destination as the app named it; a denial
 *   fails like the API (send: the callback's error, else an 'error' event; connect: 'error' event).
 * - The udp_wrap binding's `send`/`send6`/`connect`/`connect6`: the address actually used, after
 *   whatever lookup (an app-supplied `lookup` option, rebinding) and raw binding use. A denial here
 *   returns EACCES, which dgram reports through its usual callback / 'error' path. Hooked at start;
 *   the module's methods only when something loads `node:dgram` (see builtin-loads.ts).
 */
import { normalizeHostname, type Operation } from '@appdefender/policy';
import { isAgentWork } from '../agent-work.js';
import { getBinding, patchMethod } from '../bindings.js';
import { whenBuiltinLoaded } from '../builtin-loads.js';
import { builtin } from '../builtins.js';
import { type AgentContext, getContext } from '../context.js';
import { judge } from '../enforce.js';
import { apply, numberIsInteger } from '../intrinsics.js';
import { allowedNamesPending, dialsAnswerOf, whenAllowedNamesSettled } from '../network/address-learning.js';
import { UV_EACCES } from '../network/errno.js';
import { callJudged, intentOf, makeIntent, ownerOf, rememberIntent } from '../network/intents.js';
import { networkOp } from '../network/operations.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Emitter = { emit(event: string, ...args: unknown[]): unknown };

export const hook: HookDescriptor = { name: 'dgram', category: 'network', install };

// loaded at install, not at agent load (see builtins.ts)
let net: typeof import('node:net');
// captured at install: the app could replace net.isIP later
let isIP: (input: string) => number;

function install(_context: AgentContext): void {
  net = builtin<typeof import('node:net')>('node:net');
  isIP = net.isIP;
  const udp = getBinding('udp_wrap') as { UDP?: { prototype: object } } | undefined;
  const proto = udp?.UDP?.prototype;
  patchMethod(proto, 'send', (original) => wrapBindingSend(original));
  patchMethod(proto, 'send6', (original) => wrapBindingSend(original));
  patchMethod(proto, 'connect', (original) => wrapBindingConnect(original));
  patchMethod(proto, 'connect6', (original) => wrapBindingConnect(original));
  // the module when it loads, if ever: the binding above judges every datagram until then
  whenBuiltinLoaded(['dgram'], () => {
    const dgram = builtin<typeof import('node:dgram')>('node:dgram');
    patchMethod(dgram.Socket.prototype, 'send', wrapSend);
    patchMethod(dgram.Socket.prototype, 'connect', wrapConnect);
    patchMethod(dgram.Socket.prototype, 'disconnect', wrapDisconnect);
  });
}

/**
 * A disconnected socket sends wherever each send says again: its connect intent (judged for the
 * connected peer, `connected: true`) must not cover those sends. Without this, under observe, a send
 * to any address after `connect(allowed); disconnect()` was never reported (the binding trusts an
 * observed intent), and under deny it failed with a bare EACCES (test/redteam-round2.test.ts).
 */
function wrapDisconnect(original: AnyFunction): AnyFunction {
  return function disconnect(this: unknown, ...args: unknown[]) {
    const result = apply(original, this, args);
    if (this !== null && typeof this === 'object' && intentOf(this)?.connected)
      rememberIntent(
        this,
        makeIntent('deferred', undefined, undefined, undefined, undefined, false, undefined),
      );
    return result;
  };
}

function udpOperation(operation: 'send' | 'connect', host: string, port: number | undefined): Operation {
  const normalized = normalizeHostname(host);
  return normalized && isIP(normalized)
    ? networkOp(operation, 'udp', undefined, normalized, port)
    : networkOp(operation, 'udp', host, undefined, port);
}

function toPort(value: unknown): number | undefined {
  const port = typeof value === 'number' || typeof value === 'string' ? +value : NaN;
  return numberIsInteger(port) && port > 0 && port <= 65535 ? port : undefined;
}

/** The destination of an unconnected `send`, following dgram's own argument rules. */
function sendDestination(socket: unknown, args: unknown[]): { host: string; port: number } | undefined {
  if (intentOf(socket as object)?.connected) return undefined; // a connected socket was judged at connect
  let port: unknown;
  let address: unknown;
  if (args[4] || (args[3] && typeof args[3] !== 'function')) {
    port = args[3];
    address = args[4];
  } else {
    port = args[1];
    address = args[2];
  }
  const portNumber = toPort(port);
  if (portNumber === undefined) return undefined; // dgram throws its own validation error
  // dgram throws at once for an address that is not a string (a String object, an array...): let
  // it, rather than judge the default address and maybe defer the send, whose throw would then
  // escape from a later callback as an uncaught exception
  if (!validAddressArgument(address)) return undefined;
  const type = (socket as { type?: unknown }).type;
  const host =
    typeof address === 'string' && address !== '' ? address : type === 'udp6' ? '::1' : '127.0.0.1';
  return { host, port: portNumber };
}

/**
 * An address (a literal, or dgram's default 127.0.0.1) that only the agent's first resolution of the
 * allowed names can vouch for, while that resolution is out: the send waits for it and is judged
 * then (as a TCP connect does), rather than being denied for coming early.
 */
function waitsForAllowedNames(operation: 'send' | 'connect', host: string, port: number): boolean {
  if (!allowedNamesPending()) return false;
  const normalized = normalizeHostname(host);
  if (!normalized || !isIP(normalized)) return false; // a name: its own lookup teaches the table
  const op = networkOp(operation, 'udp', undefined, normalized, port);
  const context = getContext();
  try {
    return context !== undefined && context.decider.decide(op).verdict === 'deny';
  } catch {
    return false;
  }
}

function wrapSend(original: AnyFunction): AnyFunction {
  return function send(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const destination = sendDestination(this, args);
    if (!destination) return apply(original, this, args);
    if (waitsForAllowedNames('send', destination.host, destination.port)) {
      whenAllowedNamesSettled(() => apply(send, this, args));
      return undefined;
    }
    const previous = intentOf(this as object);
    if (previous && previous.host === destination.host && previous.port === destination.port) {
      // the same flow as the last send (and dgram re-calls send itself once the socket is bound):
      // judged and reported already; the address used is still judged at the binding
      return callJudged(destination.host, original, this, args);
    }
    const { verdict, error } = judge(udpOperation('send', destination.host, destination.port));
    if (error) {
      let callback: AnyFunction | undefined;
      for (let i = args.length - 1; i >= 0 && !callback; i--) {
        if (typeof args[i] === 'function') callback = args[i] as AnyFunction;
      }
      if (callback) process.nextTick(callback, error);
      else process.nextTick(() => (this as Emitter).emit('error', error));
      return undefined;
    }
    const intent = makeIntent(
      verdict,
      destination.host,
      destination.port,
      undefined,
      undefined,
      undefined,
      undefined,
    );
    rememberIntent(this as object, intent);
    return callJudged(destination.host, original, this, args);
  };
}

/** An address argument dgram accepts: a string, or none (undefined, null, or the callback in its place). */
function validAddressArgument(address: unknown): boolean {
  return (
    address === undefined || address === null || typeof address === 'string' || typeof address === 'function'
  );
}

function wrapConnect(original: AnyFunction): AnyFunction {
  return function connect(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const port = toPort(args[0]);
    if (port === undefined || !validAddressArgument(args[1])) return apply(original, this, args);
    const type = (this as { type?: unknown }).type;
    const host =
      typeof args[1] === 'string' && args[1] !== '' ? args[1] : type === 'udp6' ? '::1' : '127.0.0.1';
    if (waitsForAllowedNames('connect', host, port)) {
      whenAllowedNamesSettled(() => apply(connect, this, args));
      return undefined;
    }
    const { verdict, error } = judge(udpOperation('connect', host, port));
    if (error) {
      process.nextTick(() => (this as Emitter).emit('error', error));
      return undefined;
    }
    rememberIntent(this as object, makeIntent(verdict, host, port, undefined, undefined, true, undefined));
    return callJudged(host, original, this, args);
  };
}

/** Judges the address a UDP handle really sends to or connects to. */
function judgeAddress(handle: unknown, operation: 'send' | 'connect', ip: unknown, port: unknown): boolean {
  const intent = intentOf(ownerOf(handle));
  // observe-by-name is not repeated for an address the name resolves to (net.ts judgeAddress)
  if (intent?.verdict === 'observe' && intent.port === port && dialsAnswerOf(intent.host, ip)) return true;
  // Node's bindings only take string addresses; anything else is judged as the invalid host it is
  const address = typeof ip === 'string' ? ip : '(not a string)';
  const op = networkOp(operation, 'udp', undefined, address, typeof port === 'number' ? port : undefined);
  const details = intent?.host && intent.host !== address ? { host: intent.host } : undefined;
  return judge(op, details).error === null;
}

function wrapBindingSend(original: AnyFunction): AnyFunction {
  return function send(this: unknown, ...args: unknown[]) {
    // (req, list, count, port, ip, hasCallback) unconnected; (req, list, count, hasCallback) connected
    if (isAgentWork() || args.length < 5) return apply(original, this, args);
    return judgeAddress(this, 'send', args[4], args[3]) ? apply(original, this, args) : UV_EACCES;
  };
}

function wrapBindingConnect(original: AnyFunction): AnyFunction {
  return function connect(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    return judgeAddress(this, 'connect', args[0], args[1]) ? apply(original, this, args) : UV_EACCES;
  };
}
