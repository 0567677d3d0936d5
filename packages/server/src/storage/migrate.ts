import { type Kysely, sql } from 'kysely';
import type { Migration } from './migrations.js';
import type { Database } from './schema.js';
import type { Dialect } from './types.js';

/**
 * Applies the migrations not yet recorded, each in its own transaction. On PostgreSQL an advisory
 * lock (per schema) serialises instances that start at the same time.
 */
export async function applyMigrations(
  db: Kysely<Database>,
  dialect: Dialect,
  migrations: Migration[],
): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`.execute(db);
  for (const migration of migrations) {
    await db.transaction().execute(async (trx) => {
      if (dialect === 'postgres') {
        await sql`SELECT pg_advisory_xact_lock(hashtext('appdefender-migrations:' || current_schema()))`.execute(
          trx,
        );
      }
      const applied = await trx
        .selectFrom('schema_migrations')
        .select('version')
        .where('version', '=', migration.version)
        .executeTakeFirst();
      if (applied) return;
      for (const statement of migration.statements) await sql.raw(statement).execute(trx);
      await trx
        .insertInto('schema_migrations')
        .values({ version: migration.version, name: migration.name, applied_at: Date.now() })
        .execute();
    });
  }
}
