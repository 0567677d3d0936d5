/**
 * The storage interface: everything the routes need, in domain terms. One implementation
 * (`KyselyStorage`) serves SQLite and PostgreSQL; the dialect only changes the migrations and a
 * few hot-path statements. Every method that touches tenant data takes the account id first:
 * there is no way to read or change rows without naming whose they are.
 */
import type { AgentEvent, PolicyGroup } from '@appdefender/policy';

export type Dialect = 'sqlite' | 'postgres';
export type AccountKind = 'user' | 'temporary';
export type LicenseKeyKind = 'live' | 'temporary';

export interface Plan {
  name: string;
  retentionDays: number;
  allowCloudProviderTraffic: boolean;
  description: string;
}

export interface Account {
  id: string;
  email: string | null;
  plan: string;
  kind: AccountKind;
  createdAt: number;
}

export interface AccountWithPassword extends Account {
  passwordHash: string | null;
}

export interface LicenseKeyRecord {
  accountId: string;
  kind: LicenseKeyKind;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** What an account may see of one of its credentials: never the secret, nor its hash. */
export interface CredentialInfo {
  id: string;
  /** A license key's label or an api token's name; null when none was given. */
  label: string | null;
  /** The secret's last 4 characters; null for credentials made before they were recorded. */
  last4: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A new credential, as stored: its hash and the last 4 characters shown in lists. */
export interface NewCredential {
  hash: string;
  last4: string;
}

export interface StoredPolicyGroup {
  group: PolicyGroup;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface FunctionReport {
  provider: string;
  region: string;
  accountId: string;
  functionName: string;
  functionVersion: string;
  runtime: string;
  architecture: string;
  memoryMb: number | null;
  policyGroup: string;
  agentVersion: string;
  coldStart: boolean;
}

export interface FunctionRecord extends Omit<FunctionReport, 'coldStart'> {
  id: string;
  firstSeen: number;
  lastSeen: number;
  coldStarts: number;
  /** Events the function's extension had to drop (spool overflow, unreadable, refused), in total. */
  droppedEvents: number;
}

/** What identifies a function: the unique key of the functions table, as a function report names it. */
export type FunctionKey = Pick<FunctionReport, 'provider' | 'region' | 'accountId' | 'functionName'>;

export interface EventFilter {
  category?: string;
  action?: string;
  function?: string;
  policyGroup?: string;
  /** Inclusive, ms since epoch (event time). */
  sinceMs?: number;
  /** Exclusive, ms since epoch (event time). */
  untilMs?: number;
  /** Case-insensitive text contained in target, operation or function. */
  q?: string;
}

/** Position in the newest-first order: (event time, storage sequence). */
export interface EventCursor {
  timeMs: number;
  seq: number;
}

export interface StoredEvent {
  seq: number;
  event: AgentEvent;
}

/** Emitted once per inserted batch (locally, or over PostgreSQL NOTIFY from any instance). */
export interface BatchNotice {
  accountId: string;
  batchId: string;
  fromSeq: number;
  toSeq: number;
}

export interface EventStatsRow {
  category: string;
  action: string;
  function: string | null;
  bucket: number;
  count: number;
}

/** What `createUserAccount` stores. */
export interface NewUserAccount {
  email: string;
  passwordHash: string;
  plan: string;
  licenseKeyHash: string;
  apiTokenHash: string;
  /** Last 4 characters of the license key and api token, for the key lists. */
  licenseKeyLast4?: string;
  apiTokenLast4?: string;
  now: number;
}

/** What `createTemporaryAccount` stores. */
export interface NewTemporaryAccount {
  licenseKeyHash: string;
  expiresAt: number;
  now: number;
}

/** What `createLicenseKey` stores. */
export interface NewLicenseKey {
  accountId: string;
  key: NewCredential;
  label: string | null;
  now: number;
}

/** What `createApiToken` stores. */
export interface NewApiToken {
  accountId: string;
  tokenHash: string;
  name: string;
  last4?: string;
  now: number;
}

/** What `createSession` stores. */
export interface NewSession {
  accountId: string;
  sessionHash: string;
  expiresAt: number;
  now: number;
}

export interface Storage {
  readonly dialect: Dialect;

  getPlan(name: string): Promise<Plan | undefined>;
  listPlans(): Promise<Plan[]>;

  /** Creates an account with its first license key and api token, atomically. Email taken → UniqueViolationError. */
  createUserAccount(input: NewUserAccount): Promise<Account>;
  /** An anonymous tenant owning one temporary license key. */
  createTemporaryAccount(input: NewTemporaryAccount): Promise<Account>;
  getAccount(accountId: string): Promise<Account | undefined>;
  findAccountByEmail(email: string): Promise<AccountWithPassword | undefined>;
  setAccountPlan(accountId: string, plan: string): Promise<void>;

  findLicenseKey(keyHash: string): Promise<LicenseKeyRecord | undefined>;
  /** Records a license key's use; the caller throttles it (it is on the agents' path). */
  markLicenseKeyUsed(keyHash: string, now: number): Promise<void>;
  /** Another live license key for a user account. */
  createLicenseKey(input: NewLicenseKey): Promise<CredentialInfo>;
  /** The account's live license keys, oldest first. */
  listLicenseKeys(accountId: string): Promise<CredentialInfo[]>;
  /** Deletes the key (its hash with it): false when the account has no key with this id. */
  revokeLicenseKey(accountId: string, id: string): Promise<boolean>;
  createApiToken(input: NewApiToken): Promise<CredentialInfo>;
  /** The account's api tokens, oldest first. */
  listApiTokens(accountId: string): Promise<CredentialInfo[]>;
  /** Deletes the token: false when the account has no token with this id. */
  revokeApiToken(accountId: string, id: string): Promise<boolean>;
  /** The token's account id, and marks it used. */
  useApiToken(tokenHash: string, now: number): Promise<string | undefined>;
  createSession(input: NewSession): Promise<void>;
  /** The session's account id when it exists and has not expired. */
  findSession(sessionHash: string, now: number): Promise<string | undefined>;
  deleteSession(sessionHash: string): Promise<void>;

  listPolicyGroups(accountId: string): Promise<StoredPolicyGroup[]>;
  getPolicyGroup(accountId: string, name: string): Promise<StoredPolicyGroup | undefined>;
  /** Name taken → UniqueViolationError. */
  createPolicyGroup(accountId: string, group: PolicyGroup, now: number): Promise<StoredPolicyGroup>;
  /** Bumps the version; undefined when there is no such group. */
  updatePolicyGroup(
    accountId: string,
    group: PolicyGroup,
    now: number,
  ): Promise<StoredPolicyGroup | undefined>;
  deletePolicyGroup(accountId: string, name: string): Promise<boolean>;

  /** Insert or update by (provider, region, cloud account, function name). */
  upsertFunction(accountId: string, report: FunctionReport, now: number): Promise<FunctionRecord>;
  listFunctions(accountId: string): Promise<FunctionRecord[]>;
  /**
   * Adds to the function's dropped-events count; a function not reported yet is created with
   * empty details (its report fills them in, as an update).
   */
  addDroppedEvents(accountId: string, fn: FunctionKey, count: number, now: number): Promise<void>;
  /** Event counts per function name and action since `sinceMs`. */
  countEventsByFunction(
    accountId: string,
    sinceMs: number,
  ): Promise<Array<{ function: string | null; action: string; count: number }>>;

  /**
   * Stores the events that are new (by event id, per account) and announces the batch.
   * Returns the ids that were inserted; the others were already stored.
   */
  insertEvents(accountId: string, events: AgentEvent[], now: number): Promise<Set<string>>;
  queryEvents(
    accountId: string,
    filter: EventFilter,
    page: { limit: number; before?: EventCursor },
  ): Promise<Array<StoredEvent & { timeMs: number }>>;
  eventStats(
    accountId: string,
    filter: EventFilter & { sinceMs: number; untilMs: number },
    bucketMs: number,
  ): Promise<EventStatsRow[]>;
  /** One event of the account by its id. */
  getEvent(accountId: string, eventId: string): Promise<AgentEvent | undefined>;
  findEventSeq(accountId: string, eventId: string): Promise<number | undefined>;
  /** Events with seq > afterSeq in storage order, oldest first. */
  readEventsAfter(
    accountId: string,
    afterSeq: number,
    filter: EventFilter,
    limit: number,
  ): Promise<StoredEvent[]>;
  /** The events of one announced batch. */
  readBatch(notice: BatchNotice): Promise<StoredEvent[]>;
  /** Listens to every batch inserted by any instance sharing this database. */
  onBatchInserted(listener: (notice: BatchNotice) => void): () => void;

  /**
   * Deletes up to `limit` anonymous tenants whose temporary key expired before `expiredBeforeMs`,
   * with their events and functions; returns how many tenants went.
   */
  purgeExpiredTemporaryAccounts(expiredBeforeMs: number, limit: number): Promise<number>;
  /** Deletes up to `batchSize` events past their plan's retention; returns how many went. */
  purgeExpiredEvents(now: number, batchSize: number): Promise<number>;

  close(): Promise<void>;
}
