import { Kysely, Migration, sql } from 'kysely';

/** Runs, samples, stage records, pairs, audit events and the constitution registry. */
export const initial: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('constitutions')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('content', 'jsonb', (c) => c.notNull())
      .addColumn('title', 'text')
      .addColumn('changelog', 'text')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('published_by', 'text', (c) => c.notNull())
      .addColumn('published_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('deprecated_at', 'timestamptz')
      .addPrimaryKeyConstraint('constitutions_pk', ['name', 'version'])
      .execute();

    await db.schema
      .createTable('runs')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('team', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('constitution_name', 'text', (c) => c.notNull())
      .addColumn('constitution_version', 'text', (c) => c.notNull())
      .addColumn('constitution_sha256', 'text', (c) => c.notNull())
      .addColumn('rounds', 'integer', (c) => c.notNull())
      .addColumn('seed', 'integer', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('feedback_model', 'text')
      .addColumn('sampling', 'jsonb', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('simulated', 'boolean', (c) => c.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('request_sha256', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .addForeignKeyConstraint('runs_constitution_fk', ['constitution_name', 'constitution_version'], 'constitutions', ['name', 'version'])
      .execute();
    await sql`create unique index runs_idempotency on runs (team, idempotency_key) where idempotency_key is not null`.execute(db);
    await sql`create index runs_created on runs (created_at desc, id desc)`.execute(db);

    await db.schema
      .createTable('samples')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('prompt', 'text', (c) => c.notNull())
      .addColumn('metadata', 'jsonb')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('failure_reason', 'text')
      .addColumn('calls', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('prompt_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('completion_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await sql`create unique index samples_run_idx on samples (run_id, idx)`.execute(db);
    await sql`create index samples_run_status on samples (run_id, status)`.execute(db);
    // The reconciler scans only unfinished samples.
    await sql`create index samples_unfinished on samples (run_id) where status in ('pending', 'running')`.execute(db);

    await db.schema
      .createTable('stage_records')
      .addColumn('sample_id', 'uuid', (c) => c.notNull().references('samples.id'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('round', 'integer', (c) => c.notNull())
      .addColumn('principle_id', 'text')
      .addColumn('messages', 'jsonb', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
      .addColumn('completion_tokens', 'integer', (c) => c.notNull())
      .addColumn('latency_ms', 'integer', (c) => c.notNull())
      .addColumn('simulated', 'boolean', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint('stage_records_pk', ['sample_id', 'seq'])
      .execute();

    await db.schema
      .createTable('pairs')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id'))
      .addColumn('sample_id', 'uuid', (c) => c.notNull().unique().references('samples.id'))
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('record', 'jsonb', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await sql`create index pairs_run_idx on pairs (run_id, idx)`.execute(db);

    await db.schema
      .createTable('audit_events')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
      .addColumn('run_id', 'uuid')
      .addColumn('sample_id', 'uuid')
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('payload', 'jsonb', (c) => c.notNull())
      .addColumn('prev_hash', 'text')
      .addColumn('hash', 'text')
      .execute();
    await sql`create index audit_run on audit_events (run_id, id)`.execute(db);
    await sql`create index audit_sample on audit_events (sample_id, id)`.execute(db);
  },
};
