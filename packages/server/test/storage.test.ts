import { sql } from 'kysely';
import { expect, it } from 'vitest';
import type { KyselyStorage } from '../src/storage/kysely-storage.js';
import { describeBackends, makeEvent } from './helpers.js';

describeBackends('storage', (backend) => {
  it('applies versioned migrations once; reopening the same database applies nothing again', async () => {
    const again = (await backend.openStorage()) as KyselyStorage;
    const rows = await sql<{
      version: number;
    }>`SELECT version FROM schema_migrations ORDER BY version`.execute(again.db);
    expect(rows.rows.map((r) => Number(r.version))).toEqual([1, 2]);
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
});
