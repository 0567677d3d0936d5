import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { expect, it } from 'vitest';
import { openStorage } from '../src/index.js';
import type { KyselyStorage } from '../src/storage/kysely-storage.js';
import { applyMigrations } from '../src/storage/migrate.js';
import { postgresMigrations, sqliteMigrations } from '../src/storage/migrations.js';
import type { Database } from '../src/storage/schema.js';
import { describeBackends, makeEvent, postgres } from './helpers.js';

describeBackends('storage', (backend) => {
  it('applies versioned migrations once; reopening the same database applies nothing again', async () => {
    const again = (await backend.openStorage()) as KyselyStorage;
    const rows = await sql<{
      version: number;
    }>`SELECT version FROM schema_migrations ORDER BY version`.execute(again.db);
    expect(rows.rows.map((r) => Number(r.version))).toEqual([1, 2, 3, 4]);
    expect(
      (await again.listPlans()).map((p) => [p.name, p.retentionDays, p.allowCloudProviderTraffic]),
    ).toEqual([
      ['free', 7, false],
      ['paid', 90, true],
      ['temporary', 7, false],
    ]);
  });

  it('inserts events idempotently, announces each batch once, and reads a batch back by its notice', async () => {
    const storage = backend.storage;
    const account = await storage.createTemporaryAccount({
      licenseKeyHash: `h-${Math.random()}`,
      expiresAt: Date.now() + 60_000,
      now: Date.now(),
    });
    const notices: Array<{ batchId: string; fromSeq: number; toSeq: number }> = [];
    const stop = storage.onBatchInserted((notice) => {
      if (notice.accountId === account.id) notices.push(notice);
    });
    const events = [makeEvent(), makeEvent(), makeEvent()];
    expect([...(await storage.insertEvents(account.id, events, Date.now()))].sort()).toEqual(
      events.map((e) => e.id).sort(),
    );
    expect((await storage.insertEvents(account.id, events, Date.now())).size).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop();
    expect(notices).toHaveLength(1);
    const batch = await storage.readBatch({ accountId: account.id, ...notices[0]! });
    expect(batch.map((e) => e.event.id)).toEqual(events.map((e) => e.id));
    // Another account's notice for the same range reads nothing.
    expect(await storage.readBatch({ ...notices[0]!, accountId: 'someone-else' })).toEqual([]);
  });

  it('gives keys and tokens made before migration 3 an id and a label, so they can be listed and revoked; functions made before migration 4 count no dropped events', async () => {
    // A database as version 2 left it, with one account, its license key and its api token.
    let location: { dataDir?: string; databaseUrl?: string; schema?: string };
    let db: Kysely<Database>;
    let cleanup: () => Promise<void>;
    if (backend.kind === 'sqlite') {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'appdefender-migrate-'));
      location = { dataDir };
      db = new Kysely<Database>({
        dialect: new SqliteDialect({ database: new BetterSqlite3(path.join(dataDir, 'appdefender.sqlite')) }),
      });
      await applyMigrations(db, 'sqlite', sqliteMigrations.slice(0, 2));
      cleanup = () => rm(dataDir, { recursive: true, force: true });
    } else {
      const url = (postgres as { url: string }).url;
      const schema = `m_${process.pid}_${randomBytes(6).toString('hex')}`;
      location = { databaseUrl: url, schema };
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      db = new Kysely<Database>({
        dialect: new PostgresDialect({
          pool: new pg.Pool({ connectionString: url, options: `-c search_path=${schema}`, max: 1 }),
        }),
      });
      await applyMigrations(db, 'postgres', postgresMigrations.slice(0, 2));
      cleanup = async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      };
    }
    try {
      await sql`INSERT INTO accounts (id, email, password_hash, plan, kind, created_at)
        VALUES ('acc-1', 'old@example.com', NULL, 'free', 'user', 1)`.execute(db);
      await sql`INSERT INTO license_keys (key_hash, account_id, kind, created_at, expires_at)
        VALUES ('key-hash-1', 'acc-1', 'live', 2, NULL)`.execute(db);
      await sql`INSERT INTO api_tokens (token_hash, account_id, name, created_at, last_used_at)
        VALUES ('token-hash-1', 'acc-1', 'default', 3, NULL)`.execute(db);
      await sql`INSERT INTO functions (id, account_id, provider, region, cloud_account_id, function_name,
        function_version, runtime, architecture, memory_mb, policy_group, agent_version, first_seen,
        last_seen, cold_starts)
        VALUES ('fn-1', 'acc-1', 'aws', 'eu-west-1', '1', 'old-fn', '1', 'nodejs20.x', 'arm64', 128,
        'g', '0.1.0', 5, 6, 2)`.execute(db);
      await db.destroy();

      const storage = await openStorage(location);
      try {
        const [key] = await storage.listLicenseKeys('acc-1');
        expect(key).toEqual({
          id: expect.any(String),
          label: 'default',
          last4: null,
          createdAt: 2,
          lastUsedAt: null,
        });
        const [token] = await storage.listApiTokens('acc-1');
        expect(token).toMatchObject({ id: expect.any(String), label: 'default', last4: null, createdAt: 3 });
        expect(await storage.findLicenseKey('key-hash-1')).toMatchObject({
          accountId: 'acc-1',
          lastUsedAt: null,
        });
        expect(await storage.revokeLicenseKey('acc-1', key!.id)).toBe(true);
        expect(await storage.findLicenseKey('key-hash-1')).toBeUndefined();
        expect(await storage.revokeApiToken('acc-1', token!.id)).toBe(true);
        expect(await storage.useApiToken('token-hash-1', 4)).toBeUndefined();
        // migration 4: functions stored before it count no dropped events, and can count them now
        expect(await storage.listFunctions('acc-1')).toEqual([
          expect.objectContaining({ functionName: 'old-fn', coldStarts: 2, droppedEvents: 0 }),
        ]);
        const key1 = { provider: 'aws', region: 'eu-west-1', accountId: '1', functionName: 'old-fn' };
        await storage.addDroppedEvents('acc-1', key1, 5, 7);
        expect(await storage.listFunctions('acc-1')).toEqual([
          expect.objectContaining({ id: 'fn-1', runtime: 'nodejs20.x', droppedEvents: 5, lastSeen: 7 }),
        ]);
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});
