/**
 * The decision function: (policy, operation) → grant | observe | deny, with the rule that decided.
 *
 * Order, per category (first match wins):
 *   network     mode grant → runtime traffic (alwaysAllowedHosts) → allowedDomains by name →
 *               cloud-provider endpoints (allowCloudProviderTraffic) → the same two via the names an IP
 *               was resolved from → the mode (observe / deny)
 *   filesystem  mode grant → internalPaths → allowedPaths → not governed (outside /tmp and app dirs) → mode
 *   process     mode grant → allowedCommands → mode
 * allowedDomains and cloud-provider endpoints grant in `observe` mode too (the contract names `deny`):
 * observe mode then reports exactly what deny would block, which is what it is for.
 *
 * Caching: the agent decides on every hooked call, so repeated inputs must cost one Map lookup. Each
 * category has a bounded Map keyed by the raw input (host, path, command). Name-based network decisions
 * never change for a policy; decisions about an IP address depend on the IpNameTable and are revalidated
 * against the address's generation (changes when it is learned again or dropped) and the expiry of the
 * names that granted it, so no cached grant outlives its DNS TTL.
 */

import { matchCloudEndpoint } from './cloud-provider.js';
import { compileDomainMatcher } from './domain-match.js';
import { isIpAddress, normalizeHostname } from './hostname.js';
import { isGovernedPath, isUnderDirectory, normalizeAbsolutePath } from './paths.js';
import { hasOwn, stringCharCodeAt, stringLastIndexOf, stringSlice, stringStartsWith } from './primordials.js';
import type {
  CloudProvider,
  Decider,
  DeciderOptions,
  Decision,
  FilesystemOperation,
  IpNameTableLike,
  Mode,
  NetworkOperation,
  PolicyGroup,
  ProcessOperation,
} from './types.js';

export const DEFAULT_MAX_CACHE_ENTRIES = 10_000;

/** Counters for tests and diagnostics. */
export interface DeciderStats {
  hits: number;
  misses: number;
  /** Times a cached IP decision was recomputed because the IP table changed or a name expired. */
  ipRevalidations: number;
  entries: number;
}

export interface CachingDecider extends Decider {
  stats(): DeciderStats;
}

type Grant = Extract<Decision, { verdict: 'grant' }>;
const grant = (rule: string): Grant => Object.freeze({ verdict: 'grant', rule }) as Grant;
const GRANT_MODE = grant('mode');
const GRANT_RUNTIME = grant('runtime');
const GRANT_INTERNAL = grant('internal');
const GRANT_ALLOWED_DOMAINS = grant('allowedDomains');
const GRANT_CLOUD = grant('cloudProvider');
const GRANT_ALLOWED_PATHS = grant('allowedPaths');
const GRANT_ALLOWED_COMMANDS = grant('allowedCommands');
const GRANT_UNGOVERNED = grant('ungoverned');

/** What we know about one raw host string; everything but the IP-table part is fixed for the policy. */
interface HostEntry {
  /** Normalised host, or null when the raw string is no valid host. */
  host: string | null;
  isIp: boolean;
  /** Ports at which this host is runtime traffic ('any' for a host-only entry), or null. */
  runtimePorts: ReadonlySet<number> | 'any' | null;
  /** The decision when the IP table grants nothing (or for names, the decision). */
  decision: Decision;
  /** For IPs not granted statically: the table state the cached `ipDecision` was computed from. */
  ipDependent: boolean;
  ipGeneration: number;
  ipValidUntil: number;
  ipDecision: Decision;
}

/**
 * Builds the decision function for a policy group.
 * @example
 * const decider = createDecider(policy, { appDirs: ['/var/task'], provider: 'aws', ipNames: table });
 * decider.decide({ category: 'network', operation: 'connect', host: 'api.stripe.com', port: 443 });
 * // { verdict: 'grant', rule: 'allowedDomains' }
 */
export function createDecider(policy: PolicyGroup, options: DeciderOptions): CachingDecider {
  const appDirs = absoluteDirs(options.appDirs, 'appDirs');
  const internalPaths = absoluteDirs(options.internalPaths ?? [], 'internalPaths');
  const maxEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(
      `createDecider: maxCacheEntries must be a positive integer, got ${String(maxEntries)}`,
    );
  }
  const table: IpNameTableLike | undefined = options.ipNames;
  const now = options.now ?? (table ? () => table.now() : Date.now);
  const cloud: CloudProvider | null = policy.allowCloudProviderTraffic ? options.provider : null;
  const matchAllowed = compileDomainMatcher(policy.allowedDomains);
  const runtime = parseRuntimeHosts(options.alwaysAllowedHosts ?? []);
  const commands = compileCommands(policy.allowedCommands);
  const modes = { network: policy.network, filesystem: policy.filesystem, process: policy.process };
  for (const [category, mode] of Object.entries(modes)) {
    if (mode !== 'grant' && mode !== 'observe' && mode !== 'deny') {
      throw new TypeError(
        `createDecider: policy.${category} is ${JSON.stringify(mode)}; pass a policy from parsePolicyGroup`,
      );
    }
  }

  const hostCache = new Map<string, HostEntry>();
  const pathCache = new Map<string, Decision>();
  const commandCache = new Map<string, Decision>();
  const stats = { hits: 0, misses: 0, ipRevalidations: 0 };

  function remember<V>(cache: Map<string, V>, key: string, value: V): V {
    if (cache.size >= maxEntries) {
      // Start over rather than evict one by one: deleting a Map's oldest entries leaves holes its
      // iterator must skip (O(n) per eviction in V8), while clear() is O(1) amortised and the hot
      // keys come straight back after one miss each.
      cache.clear();
    }
    cache.set(key, value);
    return value;
  }

  function modeDecision(category: 'network' | 'filesystem' | 'process', reason: string): Decision {
    const mode = modes[category] as Exclude<Mode, 'grant'>;
    // Frozen like the grants: decisions are shared through the cache, so no caller may change one.
    return Object.freeze({ verdict: mode, rule: 'mode', reason: `${category} mode is "${mode}": ${reason}` });
  }

  /** Grant for a normalised *name* by allowedDomains or the provider's endpoints, else null. */
  function grantForName(name: string): Grant | null {
    if (matchAllowed(name, false) !== null) return GRANT_ALLOWED_DOMAINS;
    if (cloud !== null && matchCloudEndpoint(cloud, name) !== null) return GRANT_CLOUD;
    return null;
  }

  function buildHostEntry(raw: string): HostEntry {
    const host = normalizeHostname(raw);
    const isIp = host !== null && isIpAddress(host);
    const runtimePorts = host === null ? null : (runtime.hosts.get(host) ?? null);
    let decision: Decision;
    let ipDependent = false;
    if (host === null) {
      decision = modeDecision('network', `${JSON.stringify(raw.slice(0, 256))} is not a valid host name`);
    } else if (isIp) {
      if (matchAllowed(host, true) !== null) {
        decision = GRANT_ALLOWED_DOMAINS;
      } else {
        decision = modeDecision('network', `${host} was not resolved from an allowed name`);
        ipDependent = table !== undefined;
      }
    } else {
      decision = grantForName(host) ?? modeDecision('network', `${host} matches no allowed domain`);
    }
    return {
      host,
      isIp,
      runtimePorts,
      decision,
      ipDependent,
      ipGeneration: -1,
      ipValidUntil: 0,
      ipDecision: decision,
    };
  }

  /** The decision for an IP through the names it was resolved from, revalidated against the table. */
  function decideByIpTable(entry: HostEntry): Decision {
    const ip = entry.host!;
    const tableNow = table!;
    if (
      entry.ipGeneration === tableNow.generationOf(ip) &&
      (entry.ipValidUntil === Infinity || now() < entry.ipValidUntil)
    ) {
      return entry.ipDecision;
    }
    stats.ipRevalidations++;
    let decision = entry.decision;
    let validUntil = Infinity;
    let grantExpiry = -Infinity;
    // an index loop and no Math.max: the app may have replaced the array iterator or Math (primordials.ts)
    const live = tableNow.entriesFor(ip);
    for (let index = 0; index < live.length; index++) {
      const { name, expiresAt } = live[index] as { name: string; expiresAt: number };
      const granted = grantForName(name);
      if (granted === null) continue;
      // The IP stays granted as long as any granting name is live; prefer the allowedDomains rule.
      if (decision.verdict !== 'grant' || granted === GRANT_ALLOWED_DOMAINS) decision = granted;
      if (expiresAt > grantExpiry) grantExpiry = expiresAt;
    }
    if (decision.verdict === 'grant') validUntil = grantExpiry;
    entry.ipGeneration = tableNow.generationOf(ip);
    entry.ipValidUntil = validUntil;
    entry.ipDecision = decision;
    return decision;
  }

  function lookupHost(raw: string): HostEntry {
    let entry = hostCache.get(raw);
    if (entry === undefined) {
      stats.misses++;
      entry = remember(hostCache, raw, buildHostEntry(raw));
    } else {
      stats.hits++;
    }
    return entry;
  }

  function decideHost(raw: string, port: number | undefined, isDns: boolean): Decision {
    const entry = lookupHost(raw);
    const ports = entry.runtimePorts;
    if (ports !== null && (ports === 'any' || isDns || (port !== undefined && ports.has(port))))
      return GRANT_RUNTIME;
    return entry.ipDependent ? decideByIpTable(entry) : entry.decision;
  }

  function decideNetwork(op: NetworkOperation): Decision {
    if (op.operation === 'dns') return decideHost(op.host, undefined, true);
    if (op.protocol === 'pipe') {
      const path = (hasOwn(op, 'path') ? op.path : undefined) ?? (hasOwn(op, 'host') ? op.host : '') ?? '';
      if (runtime.pipes.has(path)) return GRANT_RUNTIME;
      return modeDecision('network', `socket ${JSON.stringify(path.slice(0, 256))} is not runtime traffic`);
    }
    // Own properties only: inside the function the app may set `Object.prototype.host = 'allowed.com'`
    // so that an operation without a host field would inherit one (primordials.ts).
    const host = hasOwn(op, 'host') ? op.host : undefined;
    const ip = hasOwn(op, 'ip') ? op.ip : undefined;
    const port = hasOwn(op, 'port') ? op.port : undefined;
    if (host === undefined && ip === undefined)
      return modeDecision('network', 'the operation names no destination');
    if (host === undefined || ip === undefined || host === ip) return decideHost((host ?? ip)!, port, false);
    // Both the name asked for and the address used are known: either one being allowed allows it
    // (an address resolved from an allowed name is allowed wherever the connection came from).
    const byHost = decideHost(host, port, false);
    if (byHost.verdict === 'grant') return byHost;
    const byIp = decideHost(ip, port, false);
    return byIp.verdict === 'grant' ? byIp : byHost;
  }

  function decideFilesystem(op: FilesystemOperation): Decision {
    const cached = pathCache.get(op.path);
    if (cached !== undefined) {
      stats.hits++;
      return cached;
    }
    stats.misses++;
    return remember(pathCache, op.path, computeFilesystem(op.path));
  }

  function computeFilesystem(rawPath: string): Decision {
    if (typeof rawPath !== 'string' || stringCharCodeAt(rawPath, 0) !== 0x2f) {
      // Callers pass toAbsolutePath() output; anything else is judged as governed (fail closed).
      return modeDecision(
        'filesystem',
        `${JSON.stringify(String(rawPath).slice(0, 256))} is not an absolute path`,
      );
    }
    const path = normalizeAbsolutePath(rawPath);
    // index loops: a `for...of` would ask the (replaceable) array iterator which directories to check
    for (let index = 0; index < internalPaths.length; index++)
      if (isUnderDirectory(path, internalPaths[index] as string)) return GRANT_INTERNAL;
    const allowedPaths = policy.allowedPaths;
    for (let index = 0; index < allowedPaths.length; index++)
      if (isUnderDirectory(path, allowedPaths[index] as string)) return GRANT_ALLOWED_PATHS;
    if (!isGovernedPath(path, appDirs)) return GRANT_UNGOVERNED;
    return modeDecision('filesystem', `${path} is under ${governingDir(path, appDirs)}, not in allowedPaths`);
  }

  function decideProcess(op: ProcessOperation): Decision {
    const cached = commandCache.get(op.command);
    if (cached !== undefined) {
      stats.hits++;
      return cached;
    }
    stats.misses++;
    return remember(commandCache, op.command, computeProcess(op.command));
  }

  function computeProcess(rawCommand: string): Decision {
    const command = typeof rawCommand === 'string' ? rawCommand : String(rawCommand);
    const normalized = stringStartsWith(command, '/') ? normalizeAbsolutePath(command) : command;
    if (commands.exact.has(normalized)) return GRANT_ALLOWED_COMMANDS;
    const base = stringSlice(normalized, stringLastIndexOf(normalized, '/') + 1);
    if (base.length > 0 && commands.basenames.has(base)) return GRANT_ALLOWED_COMMANDS;
    return modeDecision('process', `${JSON.stringify(command.slice(0, 256))} is not in allowedCommands`);
  }

  return {
    policy,
    decide(op) {
      switch (op.category) {
        case 'network':
          return modes.network === 'grant' ? GRANT_MODE : decideNetwork(op);
        case 'filesystem':
          return modes.filesystem === 'grant' ? GRANT_MODE : decideFilesystem(op);
        case 'process':
          return modes.process === 'grant' ? GRANT_MODE : decideProcess(op);
        default:
          throw new TypeError(
            `decide: unknown operation category ${JSON.stringify((op as { category?: unknown }).category)}`,
          );
      }
    },
    stats() {
      return { ...stats, entries: hostCache.size + pathCache.size + commandCache.size };
    },
  };
}

function absoluteDirs(dirs: readonly string[], option: string): string[] {
  if (!Array.isArray(dirs)) throw new TypeError(`createDecider: ${option} must be a list of absolute paths`);
  return dirs.map((dir) => {
    if (typeof dir !== 'string' || !dir.startsWith('/')) {
      throw new TypeError(`createDecider: ${option} entry ${JSON.stringify(dir)} is not an absolute path`);
    }
    return normalizeAbsolutePath(dir);
  });
}

function governingDir(path: string, appDirs: readonly string[]): string {
  if (isUnderDirectory(path, '/tmp')) return '/tmp';
  return appDirs.find((dir) => isUnderDirectory(path, dir)) ?? 'an application directory';
}

/**
 * alwaysAllowedHosts entries: `host:port` (that port only), `[v6]:port`, `host` or a bare IPv6 address
 * (any port), or an absolute socket path for pipes. Hosts are normalised like every other host.
 */
function parseRuntimeHosts(entries: readonly string[]): {
  hosts: Map<string, Set<number> | 'any'>;
  pipes: Set<string>;
} {
  const hosts = new Map<string, Set<number> | 'any'>();
  const pipes = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'string' || entry.length === 0) {
      throw new TypeError(`createDecider: alwaysAllowedHosts entry ${JSON.stringify(entry)} is not a host`);
    }
    if (entry.startsWith('/')) {
      pipes.add(entry);
      continue;
    }
    const match = /^(\[[^\]]+\]|[^:]+):([0-9]{1,5})$/.exec(entry);
    const host = normalizeHostname(match ? match[1]! : entry);
    const port = match ? Number(match[2]) : undefined;
    if (host === null || (port !== undefined && port > 65_535)) {
      throw new TypeError(
        `createDecider: alwaysAllowedHosts entry ${JSON.stringify(entry)} is not host[:port]`,
      );
    }
    const existing = hosts.get(host);
    if (port === undefined || existing === 'any') {
      hosts.set(host, 'any');
    } else {
      const ports = existing ?? new Set<number>();
      ports.add(port);
      hosts.set(host, ports);
    }
  }
  return { hosts, pipes };
}

function compileCommands(entries: readonly string[]): { exact: Set<string>; basenames: Set<string> } {
  const exact = new Set<string>();
  const basenames = new Set<string>();
  for (const entry of entries) {
    if (entry.includes('/')) exact.add(normalizeAbsolutePath(entry));
    else basenames.add(entry);
  }
  return { exact, basenames };
}
