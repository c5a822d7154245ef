import { Kysely, Migration, sql } from 'kysely';

/**
 * Constitution A/B evaluations. An evaluation is two runs over the same prompts and seed (the
 * baseline's and the candidate's, linked from the run row's `evaluation`), plus its report once
 * both are finished. The report is written once, in the transaction that records
 * `evaluation.judged`, and never changes.
 */
export const evaluations: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('evaluations')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('team', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'running', 'completed', 'failed', 'cancelled')`))
      .addColumn('baseline_run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('candidate_run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('eval_set', 'text')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('judge_model', 'text', (c) => c.notNull())
      .addColumn('rounds', 'integer', (c) => c.notNull())
      .addColumn('seed', 'integer', (c) => c.notNull())
      .addColumn('rubric', 'jsonb', (c) => c.notNull())
      .addColumn('estimate', 'jsonb', (c) => c.notNull())
      .addColumn('report', 'jsonb')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('finished_at', 'timestamptz')
      .execute();
    await sql`create index evaluations_team_created on evaluations (team, created_at desc, id desc)`.execute(db);
    // `{id, role, baseline_run_id?}` on the two runs of an evaluation; null on every other run.
    await db.schema.alterTable('runs').addColumn('evaluation', 'jsonb').execute();
  },
};
