import { Kysely, Migration, sql } from 'kysely';

/**
 * Full-text search over pairs (`GET /v1/pairs`, docs/ml-teams.md "Searching pairs"):
 * - `amend_pair_document(record)`: the words of a pair's record as a tsvector (English stemming),
 *   weighted A for the prompt (every turn of a multi-turn conversation), B for chosen and
 *   rejected, C for the critiques of every round. The texts a search reads are the record's own:
 *   pairs hold them inline (only stage records name their messages by hash, docs/architecture.md
 *   "Content addressing"), so no blob has to be expanded. Each JSON string is its own run of
 *   positions, so a phrase never spans two fields.
 * - `pairs.search`: that tsvector as a stored generated column, under a GIN index. Stored, not an
 *   expression index, so ranking a match and rechecking a lossy index page read the vector rather
 *   than parse the texts again. Postgres computes it on insert (the worker's group commit needs no
 *   change) and again when erasure blanks the record, so an erased pair's words leave the index
 *   with its texts (docs/audit.md "Erasure").
 * - The append-only trigger (migrations 0011, 0016) lets erasure change `search` with `record`: a
 *   BEFORE trigger sees a generated column as null in NEW, so without it in the erasable columns
 *   every erasure of a pair would be refused. The function is otherwise the one 0016 wrote.
 * - Filters: a GIN index (jsonb_path_ops) on `record->'metadata'` answers the principle and prompt
 *   metadata filters by containment, one on `flags` the flag filter, and (created_at, id) the
 *   newest-first order of a search without words.
 * Adding a stored column rewrites `pairs` once, at this migration.
 */
export const pairSearch: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create function amend_pair_document(record jsonb) returns tsvector language sql immutable parallel safe as $$
        select setweight(to_tsvector('english'::regconfig,
                 case when record ? 'prompt_messages' then jsonb_path_query_array(record, '$.prompt_messages[*].content')
                      else coalesce(record->'prompt', '""'::jsonb) end), 'A')
            || setweight(to_tsvector('english'::regconfig, jsonb_build_array(record->'chosen', record->'rejected')), 'B')
            || setweight(to_tsvector('english'::regconfig, jsonb_path_query_array(record, '$.rounds[*].critique')), 'C')
      $$`.execute(db);
    await sql`alter table pairs add column search tsvector generated always as (amend_pair_document(record)) stored`.execute(db);
    await sql`create index pairs_search on pairs using gin (search)`.execute(db);
    await sql`create index pairs_metadata on pairs using gin ((record->'metadata') jsonb_path_ops)`.execute(db);
    await sql`create index pairs_flags on pairs using gin (flags)`.execute(db);
    await sql`create index pairs_recent on pairs (created_at desc, id desc)`.execute(db);

    await sql`
      create or replace function amend_append_only() returns trigger language plpgsql as $$
      declare erasable text[] := case tg_table_name
          when 'stage_records' then array['text', 'messages']
          when 'pairs' then array['record', 'search']
          when 'pair_reviews' then array['chosen', 'rejected', 'reason', 'note']
          when 'samples' then array['prompt', 'messages', 'metadata']
        end;
      begin
        if tg_op = 'UPDATE' and erasable is not null and (to_jsonb(new) - erasable) = (to_jsonb(old) - erasable) and amend_erasing(tg_relid) then
          return new;
        end if;
        if tg_op = 'DELETE' and tg_table_name = 'content_blobs' and amend_erasing(tg_relid) then
          return old;
        end if;
        raise exception '% rows are append-only: % on % is refused', tg_table_name, tg_op, tg_table_name
          using errcode = 'insufficient_privilege',
                hint = 'a change is a new row (a review, a deprecation), content goes only by erasure (POST /v1/samples/{id}/erase); verification compares these rows with the audit trail';
      end $$`.execute(db);
  },
};
