import { Kysely, Migration, sql } from 'kysely';

/**
 * Spend: a run's budget and the prices in force when it was created, what it has spent so far
 * (kept on the run row only for runs with a budget: the worker reads it before every call),
 * and each sample's cost.
 */
export const budget: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('runs')
      .addColumn('budget', 'jsonb')
      .addColumn('prices', 'jsonb')
      .addColumn('spent_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('spent_cost_usd', sql`numeric(20, 9)`, (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('samples')
      .addColumn('cost_usd', sql`numeric(20, 9)`, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
