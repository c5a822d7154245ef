import { Kysely, Migration, sql } from 'kysely';

/**
 * Human review of pairs: one row per review, never updated, so a pair's history is its rows in
 * `seq` order and its current state is the last one. Each row keeps the texts the pair has after
 * it, so a swap or an edit is exported without recomputing the chain of reviews.
 */
export const reviews: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('pair_reviews')
      .addColumn('seq', 'bigserial', (c) => c.primaryKey())
      .addColumn('id', 'uuid', (c) => c.notNull().unique())
      .addColumn('pair_id', 'uuid', (c) => c.notNull().references('pairs.id'))
      .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('sample_id', 'uuid', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('accept', 'reject', 'swap', 'edit')`))
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('accepted', 'rejected')`))
      .addColumn('reviewer', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('chosen', 'text', (c) => c.notNull())
      .addColumn('rejected', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    // The latest review of a pair, and the reviews of a run's pairs.
    await sql`create index pair_reviews_latest on pair_reviews (pair_id, seq desc)`.execute(db);
    await sql`create index pair_reviews_run on pair_reviews (run_id)`.execute(db);
  },
};
