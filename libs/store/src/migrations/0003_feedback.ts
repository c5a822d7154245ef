import { Kysely, Migration, sql } from 'kysely';

/**
 * AI feedback (RL-CAI) and pair quality: the run's feedback options (candidates, ensemble, cot,
 * verify, min_margin; null for a plain critique-revise run), the label of each comparison stage,
 * and the flags of each pair, as a column so that exports can leave flagged pairs out in SQL.
 */
export const feedback: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('runs').addColumn('feedback', 'jsonb').execute();
    await db.schema.alterTable('stage_records').addColumn('judgement', 'jsonb').execute();
    await db.schema
      .alterTable('pairs')
      .addColumn('flags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
      .execute();
  },
};
