import { Kysely, Migration, sql } from 'kysely';

/**
 * Review by several people (docs/ml-teams.md#review-by-several-reviewers):
 * - the `reviewer` role for keys: reads its team's runs, pairs and samples and reviews them;
 * - `review_policies`: how many reviews each pair of a run needs, one row per setting (the latest
 *   is in force), append-only like the audit events that record each setting;
 * - `review_queue`: one row per pair a reviewer has been offered, the row that `FOR UPDATE SKIP
 *   LOCKED` takes so two reviewers never both weigh a pair's last open slot (pairs rows are
 *   append-only, so they cannot be locked for update);
 * - `review_leases`: a slot a key holds on a pair until it reviews it or the lease expires
 *   (AMEND_REVIEW_LEASE_MS);
 * - an index on (pair_id, reviewer_key_id) for "has this key reviewed this pair".
 */
export const reviewQueue: Migration = {
  async up(db: Kysely<any>) {
    await sql`alter table api_keys drop constraint if exists api_keys_role_check`.execute(db);
    await sql`alter table api_keys add constraint api_keys_role_check check (role in ('submitter', 'author', 'auditor', 'admin', 'reviewer'))`.execute(db);

    await sql`
      create table review_policies (
        seq bigserial primary key,
        run_id uuid not null references runs (id),
        per_pair integer not null check (per_pair between 1 and 100),
        set_by text not null,
        set_at timestamptz not null default now()
      )`.execute(db);
    await sql`create index review_policies_run on review_policies (run_id, seq desc)`.execute(db);
    await sql`create trigger review_policies_no_update_delete before update or delete on review_policies for each row execute function amend_append_only()`.execute(
      db,
    );
    await sql`create trigger review_policies_no_truncate before truncate on review_policies for each statement execute function amend_append_only()`.execute(
      db,
    );

    await sql`
      create table review_queue (
        pair_id uuid primary key references pairs (id),
        -- No foreign key to runs: its check would take a share lock on the run row, which a review
        -- holds for update (re-sealing the run), and lock order is what keeps the two apart.
        run_id uuid not null,
        idx integer not null
      )`.execute(db);
    await sql`create index review_queue_run on review_queue (run_id, idx)`.execute(db);

    await sql`
      create table review_leases (
        pair_id uuid not null references pairs (id),
        key_id uuid not null,
        run_id uuid not null,
        taken_at timestamptz not null default now(),
        expires_at timestamptz not null,
        primary key (pair_id, key_id)
      )`.execute(db);
    await sql`create index review_leases_run_key on review_leases (run_id, key_id)`.execute(db);

    await sql`create index pair_reviews_pair_key on pair_reviews (pair_id, reviewer_key_id, seq desc)`.execute(db);

    await sql`
      do $$
      declare s text := current_schema();
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          execute format('grant select, insert on %I.review_policies to amend_app', s);
          execute format('revoke update, delete, truncate on %I.review_policies from amend_app', s);
          execute format('grant select, insert, update, delete on %I.review_queue, %I.review_leases to amend_app', s, s);
          execute format('grant usage, select on all sequences in schema %I to amend_app', s);
        end if;
      end $$`.execute(db);
  },
};
