import { Kysely, Migration, sql } from 'kysely';

/**
 * Constitution drafts (docs/policy-authors.md#drafts).
 * - `constitution_pins`: content a draft had at some save, named by its sha256 (the constitution
 *   hash of libs/constitution). Append-only: a run of a draft (a preview, an evaluation's side)
 *   names the sha256, and the content behind it never changes, so its report stays reproducible
 *   when the draft moves on.
 * - `constitution_drafts`: a team's mutable drafts, one row per (team, name, draft) pointing at the
 *   pin of its current content. Each team has its own drafts, so another team's is not found.
 * - runs no longer reference `constitutions` by (name, version): a run of a draft has the version
 *   `#<draft>` and its content in `constitution_pins` (the run service resolves both kinds).
 */
export const drafts: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create table constitution_pins (
        sha256 text primary key,
        name text not null,
        content jsonb not null,
        pinned_by text not null,
        pinned_at timestamptz not null default now()
      )`.execute(db);
    await sql`create trigger constitution_pins_no_update_delete before update or delete on constitution_pins
      for each row execute function amend_append_only()`.execute(db);
    await sql`create trigger constitution_pins_no_truncate before truncate on constitution_pins
      for each statement execute function amend_append_only()`.execute(db);

    await sql`
      create table constitution_drafts (
        team text not null,
        name text not null,
        draft text not null,
        sha256 text not null references constitution_pins (sha256),
        created_by text not null,
        created_at timestamptz not null default now(),
        saved_by text not null,
        saved_at timestamptz not null default now(),
        primary key (team, name, draft)
      )`.execute(db);

    await sql`alter table runs drop constraint if exists runs_constitution_fk`.execute(db);

    await sql`
      do $$
      declare s text := current_schema();
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          execute format('grant select, insert on %I.constitution_pins to amend_app', s);
          execute format('revoke update, delete, truncate on %I.constitution_pins from amend_app', s);
          execute format('grant select, insert, update, delete on %I.constitution_drafts to amend_app', s);
        end if;
      end $$`.execute(db);
  },
};
