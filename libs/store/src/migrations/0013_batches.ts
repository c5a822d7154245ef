import { Kysely, Migration, sql } from 'kysely';

/**
 * Runs through the OpenAI Batch API. `runs.batch` marks such a run (its samples are never queued
 * as jobs); the lease columns let one coordinator process at a time drive a run's waves. Each
 * provider batch is a `batches` row, written BEFORE the batch is created at the provider
 * (status `submitting`) and tagged with the row id in the batch's metadata, so a coordinator that
 * dies mid-submission finds the batch again instead of submitting the stage twice.
 * `batch_line_failures` counts failed lines per (sample, seq) for the retry limit.
 */
export const batches: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('runs')
      .addColumn('batch', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('batch_lease_owner', 'text')
      .addColumn('batch_lease_until', 'timestamptz')
      .execute();
    await db.schema
      .createTable('batches')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('wave', 'integer', (c) => c.notNull())
      .addColumn('part', 'integer', (c) => c.notNull())
      .addColumn('alias', 'text', (c) => c.notNull())
      // submitting, then the provider's status (validating ... cancelled), then applied (results saved) or abandoned (never created)
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('provider_batch_id', 'text')
      .addColumn('input_file_id', 'text')
      .addColumn('output_file_id', 'text')
      .addColumn('error_file_id', 'text')
      .addColumn('provider_status', 'text')
      .addColumn('custom_ids', sql`text[]`, (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addColumn('request_total', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('request_completed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('request_failed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('applied_at', 'timestamptz')
      .addUniqueConstraint('batches_run_wave_part', ['run_id', 'wave', 'part'])
      .execute();
    await sql`create index batches_unapplied on batches (run_id) where status not in ('applied', 'abandoned')`.execute(db);
    await db.schema
      .createTable('batch_line_failures')
      .addColumn('sample_id', 'uuid', (c) => c.notNull().references('samples.id'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('last_error', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('batch_line_failures_pk', ['sample_id', 'seq'])
      .execute();
  },
};
