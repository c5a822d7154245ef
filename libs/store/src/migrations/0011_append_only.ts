import { Kysely, Migration, sql } from 'kysely';

/** Tables whose rows, once written, never change: a correction is a new row (docs/architecture.md#append-only-tables). */
export const APPEND_ONLY_TABLES = [
  'pairs',
  'pair_reviews',
  'stage_records',
  'constitutions',
  'constitution_owners',
  'constitution_deprecations',
  'run_reports',
] as const;

/**
 * What the service wrote stays as written, and the database says so:
 * - `constitution_owners`: each constitution name belongs to one team (the first to publish it;
 *   names registered from files belong to the operator's team, `admin`); only its authors publish
 *   or deprecate versions of it.
 * - `constitution_deprecations`: a deprecation is a row of its own; `constitutions` rows no
 *   longer change (their old deprecated_* columns are copied here and left as they were).
 * - `pair_reviews` name the key that reviewed (`reviewer_key_id`) and keep free text in `note`.
 * - `run_reports`: the quality report of a finished run, computed once.
 * - pairs, reviews, stage records, constitutions and the tables above refuse UPDATE, DELETE and
 *   TRUNCATE (a trigger, for every role), and `amend_app` loses UPDATE and DELETE on them and on
 *   `api_keys` except the two columns revoking a key sets.
 */
export const appendOnly: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create table constitution_owners (
        name text primary key,
        team text not null,
        claimed_by text not null,
        claimed_at timestamptz not null default now()
      )`.execute(db);
    // Published before owners existed: the publishing key's team, files (and unknown keys) the operator's.
    await sql`
      insert into constitution_owners (name, team, claimed_by)
      select distinct on (c.name) c.name, coalesce(k.team, 'admin'), c.published_by
      from constitutions c left join api_keys k on c.published_by = 'key:' || k.id::text
      order by c.name, c.published_at, c.version`.execute(db);

    await sql`
      create table constitution_deprecations (
        seq bigserial primary key,
        name text not null,
        version text not null,
        deprecated_at timestamptz not null default now(),
        deprecated_by text not null,
        reason text,
        unique (name, version),
        foreign key (name, version) references constitutions (name, version)
      )`.execute(db);
    await sql`
      insert into constitution_deprecations (name, version, deprecated_at, deprecated_by, reason)
      select name, version, deprecated_at, coalesce(deprecated_by, 'unknown'), deprecation_reason
      from constitutions where deprecated_at is not null`.execute(db);

    await sql`alter table pair_reviews add column reviewer_key_id uuid, add column note text`.execute(db);

    await sql`
      create table run_reports (
        run_id uuid not null references runs (id),
        -- The report's shape: a new version of the report code computes and adds its own row.
        version text not null,
        report jsonb not null,
        created_at timestamptz not null default now(),
        primary key (run_id, version)
      )`.execute(db);

    await sql`
      create function amend_append_only() returns trigger language plpgsql as $$
      begin
        raise exception '% rows are append-only: % on % is refused', tg_table_name, tg_op, tg_table_name
          using errcode = 'insufficient_privilege',
                hint = 'a change is a new row (a review, a deprecation); verification compares these rows with the audit trail';
      end $$`.execute(db);
    for (const table of APPEND_ONLY_TABLES) {
      await sql`create trigger ${sql.id(`${table}_no_update_delete`)} before update or delete on ${sql.table(table)}
        for each row execute function amend_append_only()`.execute(db);
      await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
        for each statement execute function amend_append_only()`.execute(db);
    }

    await sql`
      do $$
      declare s text := current_schema();
      declare t text;
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          foreach t in array array['pairs', 'pair_reviews', 'stage_records', 'constitutions', 'constitution_owners', 'constitution_deprecations', 'run_reports'] loop
            execute format('grant select, insert on %I.%I to amend_app', s, t);
            execute format('revoke update, delete, truncate on %I.%I from amend_app', s, t);
          end loop;
          execute format('grant usage, select on all sequences in schema %I to amend_app', s);
          -- Revoking a key sets these two; nothing else of a key (its role, team, hash) changes.
          execute format('revoke update, delete, truncate on %I.api_keys from amend_app', s);
          execute format('grant update (revoked_at, revoked_by) on %I.api_keys to amend_app', s);
        end if;
      end $$`.execute(db);
  },
};
