import { Kysely, Migration, sql } from 'kysely';

/**
 * Principle suggestions (docs/policy-authors.md#principle-suggestions). `suggestion_sets` holds
 * one job: its constitution version, the labelled pairs it learns from (their sha256 is in its
 * `suggestion.created` event), its settings, estimate, progress and, once ranked, its result
 * (whose sha256 is in `suggestion.ranked`). `suggestion_calls` holds each model call as a stage
 * record holds a sample's: the names of the messages sent (content blobs), the answer, usage and
 * cost, one row per (set, seq), append-only. Both are compared with the set's audit chain
 * (`suggestion:<id>`) by verify.
 */
export const suggestions: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create table suggestion_sets (
        id uuid primary key,
        team text not null,
        constitution_name text not null,
        constitution_version text not null,
        constitution_sha256 text not null,
        status text not null check (status in ('queued', 'running', 'completed', 'failed', 'budget_exhausted')),
        stage text not null default 'propose' check (stage in ('propose', 'test', 'done')),
        source jsonb not null,
        pairs jsonb not null,
        pair_count integer not null,
        settings jsonb not null,
        estimate jsonb not null,
        budget jsonb,
        prices jsonb,
        calls integer not null default 0,
        calls_planned integer not null,
        prompt_tokens bigint not null default 0,
        completion_tokens bigint not null default 0,
        cost_usd double precision not null default 0,
        proposals integer,
        candidates integer,
        result jsonb,
        simulated boolean not null default false,
        error text,
        created_by text not null,
        created_at timestamptz not null default now(),
        finished_at timestamptz
      )`.execute(db);
    await sql`create index suggestion_sets_team_created on suggestion_sets (team, created_at desc, id desc)`.execute(db);
    await sql`create index suggestion_sets_unfinished on suggestion_sets (created_at) where status in ('queued', 'running')`.execute(db);

    await sql`
      create table suggestion_calls (
        suggestion_id uuid not null references suggestion_sets (id),
        seq integer not null,
        stage text not null check (stage in ('propose', 'test')),
        pair_index integer not null,
        candidate_index integer,
        message_refs text[] not null,
        text text not null,
        model text not null,
        usage jsonb not null,
        cost_usd double precision not null default 0,
        finish_reason text,
        created_at timestamptz not null default now(),
        primary key (suggestion_id, seq)
      )`.execute(db);
    // A call is a record of what was paid for and said: like stage_records, never changed.
    await sql`create trigger suggestion_calls_no_update_delete before update or delete on suggestion_calls
      for each row execute function amend_append_only()`.execute(db);
    await sql`create trigger suggestion_calls_no_truncate before truncate on suggestion_calls
      for each statement execute function amend_append_only()`.execute(db);
    await sql`
      do $$
      declare s text := current_schema();
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          execute format('grant select, insert on %I.suggestion_calls to amend_app', s);
          execute format('revoke update, delete, truncate on %I.suggestion_calls from amend_app', s);
          execute format('grant select, insert, update on %I.suggestion_sets to amend_app', s);
          execute format('revoke delete, truncate on %I.suggestion_sets from amend_app', s);
        end if;
      end $$`.execute(db);
  },
};
