import { Kysely, Migration, sql } from 'kysely';

/**
 * Constitution registry: who deprecated a version and why; runs restricted to some principles
 * (`principles`, a selector by ids or tags); preview runs, kept out of run lists.
 */
export const constitutionRegistry: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('constitutions').addColumn('deprecated_by', 'text').execute();
    await db.schema.alterTable('constitutions').addColumn('deprecation_reason', 'text').execute();
    await db.schema.alterTable('runs').addColumn('principles', 'jsonb').execute();
    await db.schema
      .alterTable('runs')
      .addColumn('preview', 'boolean', (c) => c.notNull().defaultTo(false))
      .execute();
    // Run lists page through non-preview runs only.
    await sql`create index runs_listed on runs (created_at desc, id desc) where not preview`.execute(db);
  },
};
