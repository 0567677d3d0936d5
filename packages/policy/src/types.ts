/**
 * Public types of the policy engine. Everything here is plain data so it can cross process and
 * wire boundaries (policy files, hand-off files, HTTP bodies) unchanged.
 */

/** What happens to an operation of a category: allowed silently, allowed with an event, or blocked with an event. */
export type Mode = 'grant' | 'observe' | 'deny';

/** The three categories a policy group governs. */
export type Category = 'network' | 'filesystem' | 'process';

/** A policy group (contract §1), after validation and normalisation. */
export interface PolicyGroup {
  name: string;
  description: string;
  network: Mode;
  filesystem: Mode;
  process: Mode;
  terminateOnDeny: boolean;
  allowCloudProviderTraffic: boolean;
  /** Normalised entries: lowercase, ASCII (IDN), no trailing dot, deduplicated. */
  allowedDomains: string[];
  /** Normalised absolute path prefixes, no trailing slash (except `/`). */
  allowedPaths: string[];
  /** Absolute executable paths (exact match) or bare names (basename match). */
  allowedCommands: string[];
}

/** One problem found by a validator: the field (e.g. `allowedDomains[2]`), why, and optionally a fix. */
export interface ValidationIssue {
  field: string;
  message: string;
  suggestion?: string;
}

export type ValidationResult =
  | { ok: true; policy: PolicyGroup; warnings: ValidationIssue[] }
  | { ok: false; errors: ValidationIssue[]; warnings: ValidationIssue[] };

/** The cloud providers we detect and whose service endpoints `allowCloudProviderTraffic` grants. */
export type CloudProvider = 'aws' | 'gcp' | 'azure';

/**
 * An operation a hook caught, described as data. Hooks build these; `Decider.decide` judges them.
 * Network: `host` is what the application asked for (name or IP literal), `ip` the address actually
 * used when known. `protocol: 'pipe'` is a Unix domain socket / named pipe, named by `path`.
 */
export type Operation =
  | {
      category: 'network';
      operation: 'connect' | 'send';
      host?: string;
      ip?: string;
      port?: number;
      protocol?: 'tcp' | 'udp' | 'pipe';
      /** Socket path for `protocol: 'pipe'`. */
      path?: string;
    }
  | { category: 'network'; operation: 'dns'; host: string; rrtype?: string }
  | { category: 'filesystem'; operation: 'read' | 'write'; path: string }
  | { category: 'process'; operation: 'spawn' | 'load'; command: string; args?: readonly string[] };

export type NetworkOperation = Extract<Operation, { category: 'network' }>;
export type FilesystemOperation = Extract<Operation, { category: 'filesystem' }>;
export type ProcessOperation = Extract<Operation, { category: 'process' }>;

/** Which rule produced a decision (also written to events as `rule`). */
export type DecisionRule =
  | 'mode'
  | 'runtime'
  | 'internal'
  | 'allowedDomains'
  | 'cloudProvider'
  | 'allowedPaths'
  | 'allowedCommands'
  | 'ungoverned';

export type Decision =
  | { verdict: 'grant'; rule: string }
  | { verdict: 'observe' | 'deny'; rule: string; reason: string };

export type NonGrantDecision = Exclude<Decision, { verdict: 'grant' }>;

export interface DeciderOptions {
  /** Application directories governed by `filesystem` besides `/tmp` (LAMBDA_TASK_ROOT, else the start cwd). */
  appDirs: readonly string[];
  /** The provider the function runs on (see `detectCloudProvider`), for `allowCloudProviderTraffic`. */
  provider: CloudProvider | null;
  /** Learned IP → name mappings; a connection to an IP is judged by the names it was resolved from. */
  ipNames?: IpNameTableLike;
  /** Runtime traffic that is never governed: `host:port` (port-exact) or `host` (any port), e.g. AWS_LAMBDA_RUNTIME_API. */
  alwaysAllowedHosts?: readonly string[];
  /** Absolute directories that are never governed (the agent's own runtime dir). */
  internalPaths?: readonly string[];
  /** Bound on each decision cache (default 10 000 entries). */
  maxCacheEntries?: number;
  /** Clock for IP-derived cache expiry; defaults to the IpNameTable's clock, else Date.now. */
  now?: () => number;
}

/** The part of `IpNameTable` a decider needs (so tests and the agent can share one table). */
export interface IpNameTableLike {
  namesFor(ip: string): string[];
  /** Per-address change counter: differs after the address is learned again or evicted. 0 when unknown. */
  generationOf(ip: string): number;
  /** Live names of `ip` with their expiry times (ms on the table's clock). */
  entriesFor(ip: string): ReadonlyArray<{ name: string; expiresAt: number }>;
  now(): number;
}

export interface Decider {
  decide(op: Operation): Decision;
  readonly policy: PolicyGroup;
}

/** One event (contract §2 plus the fields of docs/architecture.md). */
export interface AgentEvent {
  id: string;
  time: string;
  category: Category;
  action: 'observe' | 'deny';
  operation: string;
  target: string;
  terminated: boolean;
  policyGroup: string;
  count?: number;
  rule?: string;
  reason?: string;
  function?: string;
  functionVersion?: string;
  requestId?: string;
  runtime?: string;
  provider?: string;
  region?: string;
  agentVersion?: string;
  module?: { name: string; version?: string };
  stack?: string[];
  details?: Record<string, unknown>;
}

export type CreateEventInput = {
  op: Operation;
  decision: NonGrantDecision;
  policyGroup: string;
  terminated?: boolean;
  now?: Date;
} & Partial<AgentEvent>;

export type EventValidationResult =
  | { ok: true; event: AgentEvent }
  | { ok: false; errors: ValidationIssue[] };
