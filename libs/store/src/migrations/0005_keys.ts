import { Kysely, Migration, sql } from 'kysely';

/**
 * API keys (docs/architecture.md#roles-and-access): one role and one team each, stored as the sha256 of the key,
 * never the key. Per-key limits override the server defaults when set. Revoking sets
 * `revoked_at`; a key row is never deleted, so its id in old audit events still means something.
 */
export const keys: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('submitter', 'author', 'auditor', 'admin')`))
      .addColumn('team', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('requests_per_minute', 'integer')
      .addColumn('concurrent_runs', 'integer')
      .addColumn('prompts_per_run', 'integer')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('revoked_by', 'text')
      .execute();
    await sql`create index api_keys_team on api_keys (team, created_at)`.execute(db);
    // A key's active runs, counted against its concurrent-runs limit at each submission.
    await sql`create index runs_active_by_creator on runs (created_by) where status in ('queued', 'running')`.execute(db);
  },
};
