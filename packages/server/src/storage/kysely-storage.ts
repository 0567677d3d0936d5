/**
 * The storage implementation shared by SQLite and PostgreSQL. Queries go through Kysely; the
 * two things that differ per dialect are passed in: the bulk event writer (the ingest hot path)
 * and the batch notifier (in-process for SQLite, LISTEN/NOTIFY for PostgreSQL).
 */
import { randomUUID } from 'node:crypto';
import type { AgentEvent, PolicyGroup } from '@appdefender/policy';
import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely';
import { UniqueViolationError } from '../errors.js';
import type { Database, EventRow } from './schema.js';
import type {
  Account,
  AccountWithPassword,
  BatchNotice,
  CredentialInfo,
  Dialect,
  EventCursor,
  EventFilter,
  EventStatsRow,
  FunctionKey,
  FunctionRecord,
  FunctionReport,
  LicenseKeyKind,
  LicenseKeyRecord,
  NewApiToken,
  NewLicenseKey,
  NewSession,
  NewTemporaryAccount,
  NewUserAccount,
  Plan,
  Storage,
  StoredEvent,
  StoredPolicyGroup,
} from './types.js';

/** Writes one batch of new events; returns the (event id, seq) of the rows actually inserted. */
export interface EventWriter {
  insert(
    accountId: string,
    batchId: string,
    rows: EventRow[],
    receivedMs: number,
  ): Promise<Array<{ id: string; seq: number }>>;
}

/** Announces inserted batches to every instance (including this one) and delivers them. */
export interface BatchNotifier {
  announce(notice: BatchNotice): Promise<void>;
  subscribe(listener: (notice: BatchNotice) => void): () => void;
  close(): Promise<void>;
}

export interface KyselyStorageOptions {
  db: Kysely<Database>;
  dialect: Dialect;
  eventWriter: EventWriter;
  notifier: BatchNotifier;
  /** Runs before the connections close, e.g. stops the SQLite writer thread. */
  beforeClose?: () => Promise<void> | void;
  /** Recognises the dialect's unique-constraint error. */
  isUniqueViolation: (error: unknown) => boolean;
}

type AccountRow = Database['accounts'];
type FunctionRow = Selectable<Database['functions']>;

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    plan: row.plan,
    kind: row.kind === 'temporary' ? 'temporary' : 'user',
    createdAt: Number(row.created_at),
  };
}

function toFunction(row: FunctionRow): FunctionRecord {
  return {
    id: row.id,
    provider: row.provider,
    region: row.region,
    accountId: row.cloud_account_id,
    functionName: row.function_name,
    functionVersion: row.function_version,
    runtime: row.runtime,
    architecture: row.architecture,
    memoryMb: row.memory_mb === null ? null : Number(row.memory_mb),
    policyGroup: row.policy_group,
    agentVersion: row.agent_version,
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    coldStarts: Number(row.cold_starts),
    droppedEvents: Number(row.dropped_events),
  };
}

function toCredentialInfo(row: {
  id: string;
  label: string | null;
  last4: string | null;
  created_at: number;
  last_used_at: number | null;
}): CredentialInfo {
  return {
    id: row.id,
    label: row.label,
    last4: row.last4,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

function toStoredPolicyGroup(row: Database['policy_groups']): StoredPolicyGroup {
  return {
    group: JSON.parse(row.body) as PolicyGroup,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** LIKE pattern for "contains", with the wildcard characters of the text escaped. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function toEventRow(event: AgentEvent): EventRow {
  return {
    id: event.id,
    timeMs: Date.parse(event.time),
    category: event.category,
    action: event.action,
    operation: event.operation,
    target: event.target,
    policyGroup: event.policyGroup,
    functionName: event.function ?? null,
    terminated: event.terminated ? 1 : 0,
    body: JSON.stringify(event),
  };
}

export class KyselyStorage implements Storage {
  readonly dialect: Dialect;
  readonly #db: Kysely<Database>;
  readonly #writer: EventWriter;
  readonly #notifier: BatchNotifier;
  readonly #beforeClose: (() => Promise<void> | void) | undefined;
  readonly #isUniqueViolation: (error: unknown) => boolean;
  #closed = false;

  constructor(options: KyselyStorageOptions) {
    this.dialect = options.dialect;
    this.#db = options.db;
    this.#writer = options.eventWriter;
    this.#notifier = options.notifier;
    this.#beforeClose = options.beforeClose;
    this.#isUniqueViolation = options.isUniqueViolation;
  }

  /** The query builder, for tests and benchmarks that seed data in bulk. */
  get db(): Kysely<Database> {
    return this.#db;
  }

  async getPlan(name: string): Promise<Plan | undefined> {
    const row = await this.#db.selectFrom('plans').selectAll().where('name', '=', name).executeTakeFirst();
    return row && this.#toPlan(row);
  }

  async listPlans(): Promise<Plan[]> {
    const rows = await this.#db.selectFrom('plans').selectAll().orderBy('name').execute();
    return rows.map((row) => this.#toPlan(row));
  }

  #toPlan(row: Database['plans']): Plan {
    return {
      name: row.name,
      retentionDays: Number(row.retention_days),
      allowCloudProviderTraffic: Number(row.allow_cloud_provider_traffic) === 1,
      description: row.description,
    };
  }

  async createUserAccount(input: NewUserAccount): Promise<Account> {
    const row: AccountRow = {
      id: randomUUID(),
      email: input.email,
      password_hash: input.passwordHash,
      plan: input.plan,
      kind: 'user',
      created_at: input.now,
    };
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto('accounts').values(row).execute();
        await trx
          .insertInto('license_keys')
          .values({
            key_hash: input.licenseKeyHash,
            account_id: row.id,
            kind: 'live',
            created_at: input.now,
            expires_at: null,
            id: randomUUID(),
            label: 'default',
            last4: input.licenseKeyLast4 ?? null,
            last_used_at: null,
          })
          .execute();
        await trx
          .insertInto('api_tokens')
          .values({
            token_hash: input.apiTokenHash,
            account_id: row.id,
            name: 'default',
            created_at: input.now,
            last_used_at: null,
            id: randomUUID(),
            last4: input.apiTokenLast4 ?? null,
          })
          .execute();
      });
    } catch (error) {
      if (this.#isUniqueViolation(error))
        throw new UniqueViolationError('email already registered', { cause: error });
      throw error;
    }
    return toAccount(row);
  }

  async createTemporaryAccount(input: NewTemporaryAccount): Promise<Account> {
    const row: AccountRow = {
      id: randomUUID(),
      email: null,
      password_hash: null,
      plan: 'temporary',
      kind: 'temporary',
      created_at: input.now,
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('accounts').values(row).execute();
      await trx
        .insertInto('license_keys')
        .values({
          key_hash: input.licenseKeyHash,
          account_id: row.id,
          kind: 'temporary',
          created_at: input.now,
          expires_at: input.expiresAt,
          id: randomUUID(),
          label: null,
          last4: null,
          last_used_at: null,
        })
        .execute();
    });
    return toAccount(row);
  }

  async getAccount(accountId: string): Promise<Account | undefined> {
    const row = await this.#db
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', accountId)
      .executeTakeFirst();
    return row && toAccount(row);
  }

  async findAccountByEmail(email: string): Promise<AccountWithPassword | undefined> {
    const row = await this.#db
      .selectFrom('accounts')
      .selectAll()
      .where('email', '=', email)
      .executeTakeFirst();
    return row && { ...toAccount(row), passwordHash: row.password_hash };
  }

  async setAccountPlan(accountId: string, plan: string): Promise<void> {
    await this.#db.updateTable('accounts').set({ plan }).where('id', '=', accountId).execute();
  }

  async findLicenseKey(keyHash: string): Promise<LicenseKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('license_keys')
      .select(['account_id', 'kind', 'expires_at', 'last_used_at'])
      .where('key_hash', '=', keyHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      accountId: row.account_id,
      kind: row.kind as LicenseKeyKind,
      expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    };
  }

  async markLicenseKeyUsed(keyHash: string, now: number): Promise<void> {
    await this.#db
      .updateTable('license_keys')
      .set({ last_used_at: now })
      .where('key_hash', '=', keyHash)
      .execute();
  }

  async createLicenseKey(input: NewLicenseKey): Promise<CredentialInfo> {
    const row = {
      key_hash: input.key.hash,
      account_id: input.accountId,
      kind: 'live',
      created_at: input.now,
      expires_at: null,
      id: randomUUID(),
      label: input.label,
      last4: input.key.last4,
      last_used_at: null,
    };
    await this.#db.insertInto('license_keys').values(row).execute();
    return toCredentialInfo(row);
  }

  async listLicenseKeys(accountId: string): Promise<CredentialInfo[]> {
    const rows = await this.#db
      .selectFrom('license_keys')
      .select(['id', 'label', 'last4', 'created_at', 'last_used_at'])
      .where('account_id', '=', accountId)
      .where('kind', '=', 'live')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toCredentialInfo);
  }

  async revokeLicenseKey(accountId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('license_keys')
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .where('kind', '=', 'live')
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async createApiToken(input: NewApiToken): Promise<CredentialInfo> {
    const row = {
      token_hash: input.tokenHash,
      account_id: input.accountId,
      name: input.name,
      created_at: input.now,
      last_used_at: null,
      id: randomUUID(),
      last4: input.last4 ?? null,
    };
    await this.#db.insertInto('api_tokens').values(row).execute();
    return toCredentialInfo({ ...row, label: row.name });
  }

  async listApiTokens(accountId: string): Promise<CredentialInfo[]> {
    const rows = await this.#db
      .selectFrom('api_tokens')
      .select(['id', 'name as label', 'last4', 'created_at', 'last_used_at'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toCredentialInfo);
  }

  async revokeApiToken(accountId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('api_tokens')
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async useApiToken(tokenHash: string, now: number): Promise<string | undefined> {
    const row = await this.#db
      .updateTable('api_tokens')
      .set({ last_used_at: now })
      .where('token_hash', '=', tokenHash)
      .returning('account_id')
      .executeTakeFirst();
    return row?.account_id;
  }

  async createSession(input: NewSession): Promise<void> {
    // Expired sessions are swept here rather than by a separate job: logins are rare and cheap.
    await this.#db.deleteFrom('sessions').where('expires_at', '<', input.now).execute();
    await this.#db
      .insertInto('sessions')
      .values({
        session_hash: input.sessionHash,
        account_id: input.accountId,
        created_at: input.now,
        expires_at: input.expiresAt,
      })
      .execute();
  }

  async findSession(sessionHash: string, now: number): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .select('account_id')
      .where('session_hash', '=', sessionHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row?.account_id;
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('session_hash', '=', sessionHash).execute();
  }

  async listPolicyGroups(accountId: string): Promise<StoredPolicyGroup[]> {
    const rows = await this.#db
      .selectFrom('policy_groups')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('name')
      .execute();
    return rows.map(toStoredPolicyGroup);
  }

  async getPolicyGroup(accountId: string, name: string): Promise<StoredPolicyGroup | undefined> {
    const row = await this.#db
      .selectFrom('policy_groups')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toStoredPolicyGroup(row);
  }

  async createPolicyGroup(accountId: string, group: PolicyGroup, now: number): Promise<StoredPolicyGroup> {
    const row = {
      account_id: accountId,
      name: group.name,
      body: JSON.stringify(group),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#db.insertInto('policy_groups').values(row).execute();
    } catch (error) {
      if (this.#isUniqueViolation(error)) {
        throw new UniqueViolationError(`policy group ${group.name} already exists`, { cause: error });
      }
      throw error;
    }
    return toStoredPolicyGroup(row);
  }

  async updatePolicyGroup(
    accountId: string,
    group: PolicyGroup,
    now: number,
  ): Promise<StoredPolicyGroup | undefined> {
    const row = await this.#db
      .updateTable('policy_groups')
      .set((eb) => ({ body: JSON.stringify(group), version: eb('version', '+', 1), updated_at: now }))
      .where('account_id', '=', accountId)
      .where('name', '=', group.name)
      .returningAll()
      .executeTakeFirst();
    return row && toStoredPolicyGroup(row);
  }

  async deletePolicyGroup(accountId: string, name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('policy_groups')
      .where('account_id', '=', accountId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async upsertFunction(accountId: string, report: FunctionReport, now: number): Promise<FunctionRecord> {
    const coldStarts = report.coldStart ? 1 : 0;
    const row = await this.#db
      .insertInto('functions')
      .values({
        id: randomUUID(),
        account_id: accountId,
        provider: report.provider,
        region: report.region,
        cloud_account_id: report.accountId,
        function_name: report.functionName,
        function_version: report.functionVersion,
        runtime: report.runtime,
        architecture: report.architecture,
        memory_mb: report.memoryMb,
        policy_group: report.policyGroup,
        agent_version: report.agentVersion,
        first_seen: now,
        last_seen: now,
        cold_starts: coldStarts,
      })
      .onConflict((oc) =>
        oc
          .columns(['account_id', 'provider', 'region', 'cloud_account_id', 'function_name'])
          .doUpdateSet((eb) => ({
            function_version: eb.ref('excluded.function_version'),
            runtime: eb.ref('excluded.runtime'),
            architecture: eb.ref('excluded.architecture'),
            memory_mb: eb.ref('excluded.memory_mb'),
            policy_group: eb.ref('excluded.policy_group'),
            agent_version: eb.ref('excluded.agent_version'),
            last_seen: eb.ref('excluded.last_seen'),
            cold_starts: eb('functions.cold_starts', '+', coldStarts),
          })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFunction(row);
  }

  async addDroppedEvents(accountId: string, fn: FunctionKey, count: number, now: number): Promise<void> {
    await this.#db
      .insertInto('functions')
      .values({
        id: randomUUID(),
        account_id: accountId,
        provider: fn.provider,
        region: fn.region,
        cloud_account_id: fn.accountId,
        function_name: fn.functionName,
        function_version: '',
        runtime: '',
        architecture: '',
        memory_mb: null,
        policy_group: '',
        agent_version: '',
        first_seen: now,
        last_seen: now,
        cold_starts: 0,
        dropped_events: count,
      })
      .onConflict((oc) =>
        oc
          .columns(['account_id', 'provider', 'region', 'cloud_account_id', 'function_name'])
          .doUpdateSet((eb) => ({
            dropped_events: eb('functions.dropped_events', '+', count),
            last_seen: eb.ref('excluded.last_seen'),
          })),
      )
      .execute();
  }

  async listFunctions(accountId: string): Promise<FunctionRecord[]> {
    const rows = await this.#db
      .selectFrom('functions')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('last_seen', 'desc')
      .execute();
    return rows.map(toFunction);
  }

  async countEventsByFunction(
    accountId: string,
    sinceMs: number,
  ): Promise<Array<{ function: string | null; action: string; count: number }>> {
    const rows = await this.#db
      .selectFrom('events')
      .select(['function_name', 'action', (eb) => eb.fn.countAll().as('count')])
      .where('account_id', '=', accountId)
      .where('time_ms', '>=', sinceMs)
      .groupBy(['function_name', 'action'])
      .execute();
    return rows.map((row) => ({ function: row.function_name, action: row.action, count: Number(row.count) }));
  }

  async insertEvents(accountId: string, events: AgentEvent[], now: number): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const batchId = randomUUID();
    const inserted = await this.#writer.insert(accountId, batchId, events.map(toEventRow), now);
    if (inserted.length > 0) {
      let fromSeq = Number.POSITIVE_INFINITY;
      let toSeq = 0;
      for (const { seq } of inserted) {
        if (seq < fromSeq) fromSeq = seq;
        if (seq > toSeq) toSeq = seq;
      }
      await this.#notifier.announce({ accountId, batchId, fromSeq, toSeq });
    }
    return new Set(inserted.map((row) => row.id));
  }

  #filterConditions(
    eb: ExpressionBuilder<Database, 'events'>,
    accountId: string,
    filter: EventFilter,
    order: 'time' | 'seq' = 'time',
  ): Expression<SqlBool>[] {
    const conditions: Expression<SqlBool>[] = [
      order === 'time'
        ? eb('account_id', '=', accountId)
        : // Reading in seq order must walk the primary key; written as an expression, the account
          // test cannot tempt the planner (SQLite without statistics) into the account index and a sort.
          eb(sql<string>`account_id || ''`, '=', accountId),
    ];
    if (filter.category !== undefined) conditions.push(eb('category', '=', filter.category));
    if (filter.action !== undefined) conditions.push(eb('action', '=', filter.action));
    if (filter.function !== undefined) conditions.push(eb('function_name', '=', filter.function));
    if (filter.policyGroup !== undefined) conditions.push(eb('policy_group', '=', filter.policyGroup));
    if (filter.sinceMs !== undefined) conditions.push(eb('time_ms', '>=', filter.sinceMs));
    if (filter.untilMs !== undefined) conditions.push(eb('time_ms', '<', filter.untilMs));
    if (filter.q !== undefined && filter.q !== '') {
      const pattern = containsPattern(filter.q);
      // SQLite's LIKE is case-insensitive for ASCII already; PostgreSQL needs ILIKE.
      const like = this.dialect === 'postgres' ? sql`ILIKE` : sql`LIKE`;
      conditions.push(
        eb.or([
          sql<SqlBool>`target ${like} ${pattern} ESCAPE '\\'`,
          sql<SqlBool>`operation ${like} ${pattern} ESCAPE '\\'`,
          sql<SqlBool>`function_name ${like} ${pattern} ESCAPE '\\'`,
        ]),
      );
    }
    return conditions;
  }

  async queryEvents(
    accountId: string,
    filter: EventFilter,
    page: { limit: number; before?: EventCursor },
  ): Promise<Array<StoredEvent & { timeMs: number }>> {
    const before = page.before;
    const rows = await this.#db
      .selectFrom('events')
      .select(['seq', 'time_ms', 'body'])
      .where((eb) => {
        const conditions = this.#filterConditions(eb, accountId, filter);
        if (before) conditions.push(sql<SqlBool>`(time_ms, seq) < (${before.timeMs}, ${before.seq})`);
        return eb.and(conditions);
      })
      .orderBy('time_ms', 'desc')
      .orderBy('seq', 'desc')
      .limit(page.limit)
      .execute();
    return rows.map((row) => ({
      seq: Number(row.seq),
      timeMs: Number(row.time_ms),
      event: JSON.parse(row.body) as AgentEvent,
    }));
  }

  async eventStats(
    accountId: string,
    filter: EventFilter & { sinceMs: number; untilMs: number },
    bucketMs: number,
  ): Promise<EventStatsRow[]> {
    // Integer division in both dialects (integer / integer). Inlined as literals (both are
    // numbers we computed) so the GROUP BY expression is textually the SELECT one in PostgreSQL.
    const bucket = sql<number>`(time_ms - ${sql.lit(Math.trunc(filter.sinceMs))}) / ${sql.lit(Math.trunc(bucketMs))}`;
    const rows = await this.#db
      .selectFrom('events')
      .select([
        'category',
        'action',
        'function_name',
        bucket.as('bucket'),
        (eb) => eb.fn.countAll().as('count'),
      ])
      .where((eb) => eb.and(this.#filterConditions(eb, accountId, filter)))
      .groupBy(['category', 'action', 'function_name', bucket])
      .execute();
    return rows.map((row) => ({
      category: row.category,
      action: row.action,
      function: row.function_name,
      bucket: Number(row.bucket),
      count: Number(row.count),
    }));
  }

  async getEvent(accountId: string, eventId: string): Promise<AgentEvent | undefined> {
    const row = await this.#db
      .selectFrom('events')
      .select('body')
      .where('account_id', '=', accountId)
      .where('id', '=', eventId)
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.body) as AgentEvent);
  }

  async findEventSeq(accountId: string, eventId: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('events')
      .select('seq')
      .where('account_id', '=', accountId)
      .where('id', '=', eventId)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.seq);
  }

  async readEventsAfter(
    accountId: string,
    afterSeq: number,
    filter: EventFilter,
    limit: number,
  ): Promise<StoredEvent[]> {
    const rows = await this.#db
      .selectFrom('events')
      .select(['seq', 'body'])
      .where((eb) =>
        eb.and([...this.#filterConditions(eb, accountId, filter, 'seq'), eb('seq', '>', afterSeq)]),
      )
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ seq: Number(row.seq), event: JSON.parse(row.body) as AgentEvent }));
  }

  async readBatch(notice: BatchNotice): Promise<StoredEvent[]> {
    const rows = await this.#db
      .selectFrom('events')
      .select(['seq', 'body'])
      .where('seq', '>=', notice.fromSeq)
      .where('seq', '<=', notice.toSeq)
      // Expressions, not columns: the seq range on the primary key is the access path.
      .where(sql<string>`account_id || ''`, '=', notice.accountId)
      .where(sql<string>`batch_id || ''`, '=', notice.batchId)
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((row) => ({ seq: Number(row.seq), event: JSON.parse(row.body) as AgentEvent }));
  }

  onBatchInserted(listener: (notice: BatchNotice) => void): () => void {
    return this.#notifier.subscribe(listener);
  }

  async purgeExpiredEvents(now: number, batchSize: number): Promise<number> {
    const plans = await this.listPlans();
    let deleted = 0;
    for (const plan of plans) {
      if (deleted >= batchSize) break;
      const cutoffMs = now - plan.retentionDays * 86_400_000;
      // Walks (account_id, time_ms) index ranges per account of the plan; LIMIT bounds the lock time.
      const doomed = this.#db
        .selectFrom('accounts')
        .innerJoin('events', 'events.account_id', 'accounts.id')
        .select('events.seq')
        .where('accounts.plan', '=', plan.name)
        .where('events.time_ms', '<', cutoffMs)
        .limit(batchSize - deleted);
      const result = await this.#db.deleteFrom('events').where('seq', 'in', doomed).executeTakeFirst();
      deleted += Number(result.numDeletedRows);
    }
    return deleted;
  }

  async purgeExpiredTemporaryAccounts(expiredBeforeMs: number, limit: number): Promise<number> {
    const rows = await this.#db
      .selectFrom('license_keys')
      .select('account_id')
      .where('kind', '=', 'temporary')
      .where('expires_at', '<', expiredBeforeMs)
      .limit(limit)
      .execute();
    const accountIds = rows.map((row) => row.account_id);
    if (accountIds.length === 0) return 0;
    await this.#db.transaction().execute(async (trx) => {
      // Events have no foreign key (it would slow ingest), so they go explicitly.
      await trx.deleteFrom('events').where('account_id', 'in', accountIds).execute();
      await trx
        .deleteFrom('accounts')
        .where('id', 'in', accountIds)
        .where('kind', '=', 'temporary')
        .execute();
    });
    return accountIds.length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#notifier.close();
    await this.#beforeClose?.();
    await this.#db.destroy();
  }
}
