import { Kysely, Migration, sql } from 'kysely';

/**
 * Erasure that keeps the trail whole (docs/audit.md "Erasure"), and the rows the read paths serve
 * made as hard to change as the trail that vouches for them:
 * - `amend_erase_samples(ids)`: the one way to blank content. It runs as the schema owner
 *   (SECURITY DEFINER), refuses a sample whose chain holds no `erasure` event (the caller writes
 *   it first, in the same transaction), blanks the sample's prompt, conversation and metadata, its
 *   stage texts, its pair's record texts (with the prompt metadata a pair carries) and its reviews'
 *   texts, and deletes the message blobs and model-call response bodies that no sample still
 *   unerased names (a few-shot prefix, stored as an array, is constitution text and always kept).
 *   Hashes, ids and figures stay.
 * - The append-only trigger of migration 0011 lets an update through only inside that function
 *   (the `amend.erasing` setting it sets, under the owner's identity) and only when nothing but the
 *   erasable columns changes. `content_blobs` gets the same trigger (deletes only, inside the
 *   function), and `samples` one on the columns a read path serves (the worker updates only its
 *   progress columns, which the trigger does not watch).
 * - A GIN index on `stage_records.message_refs` and one on the events' `response_sha256`, so "does
 *   another sample name this blob" is an index probe, not a scan of every stage or event recorded.
 * (Written during one change as 0016-0019 and folded into this one before any of them shipped.)
 */
export const erasure: Migration = {
  async up(db: Kysely<any>) {
    await sql`create index stage_records_message_refs on stage_records using gin (message_refs)`.execute(db);
    // Model-call events name their response body by hash: "does a live sample's event name this body" is an index probe.
    await sql`create index audit_response_sha256 on audit_events ((payload->>'response_sha256')) where payload ? 'response_sha256'`.execute(db);

    // True only inside amend_erase_samples: the setting is the function's, and current_user there is the table's owner.
    await sql`
      create function amend_erasing(rel oid) returns boolean language sql stable as $$
        select coalesce(current_setting('amend.erasing', true), '') = 'on'
          and current_user = (select r.rolname from pg_class c join pg_roles r on r.oid = c.relowner where c.oid = rel)
      $$`.execute(db);

    await sql`
      create or replace function amend_append_only() returns trigger language plpgsql as $$
      declare erasable text[] := case tg_table_name
          when 'stage_records' then array['text', 'messages']
          when 'pairs' then array['record']
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

    await sql`create trigger content_blobs_no_update_delete before update or delete on content_blobs for each row execute function amend_append_only()`.execute(
      db,
    );
    await sql`create trigger content_blobs_no_truncate before truncate on content_blobs for each statement execute function amend_append_only()`.execute(db);
    // Only when a served column is a target: the worker's progress updates never fire it.
    await sql`create trigger samples_served_columns before update of id, run_id, idx, external_id, prompt, messages, metadata on samples
      for each row when (old.id is distinct from new.id or old.run_id is distinct from new.run_id or old.idx is distinct from new.idx
        or old.external_id is distinct from new.external_id or old.prompt is distinct from new.prompt
        or old.messages is distinct from new.messages or old.metadata is distinct from new.metadata)
      execute function amend_append_only()`.execute(db);
    await sql`create trigger samples_no_delete before delete on samples for each row execute function amend_append_only()`.execute(db);
    await sql`create trigger samples_no_truncate before truncate on samples for each statement execute function amend_append_only()`.execute(db);

    // search_path from the migration's session: the function runs in this schema whoever calls it.
    await sql`
      create function amend_erase_samples(ids uuid[]) returns integer language plpgsql security definer set search_path from current as $$
      declare
        unrecorded uuid;
        removed integer;
        also integer;
      begin
        select s into unrecorded from unnest(ids) s
          where not exists (select 1 from audit_events e where e.chain = 'sample:' || s::text and e.type = 'erasure') limit 1;
        if unrecorded is not null then
          raise exception 'sample % has no erasure event: write it to the trail first, in the same transaction', unrecorded
            using errcode = 'insufficient_privilege';
        end if;
        perform set_config('amend.erasing', 'on', true);
        update samples set prompt = '', messages = null, metadata = null where id = any(ids);
        update stage_records set text = '', messages = null where sample_id = any(ids);
        update pairs set record = jsonb_build_object(
            'id', record->'id', 'run_id', record->'run_id', 'sample_id', record->'sample_id', 'erased', true,
            'prompt', '', 'draft', '', 'chosen', '', 'rejected', '', 'rounds', '[]'::jsonb, 'reason', '',
            'category', coalesce(record->'category', '[]'::jsonb), 'metadata', (record->'metadata') - 'prompt_metadata')
          where sample_id = any(ids);
        update pair_reviews set chosen = '', rejected = '', reason = '', note = null where sample_id = any(ids);
        delete from content_blobs b
          where b.sha256 in (select distinct r from stage_records s cross join unnest(s.message_refs) r where s.sample_id = any(ids))
            and jsonb_typeof(b.content) <> 'array'
            and not exists (
              select 1 from stage_records o where o.message_refs @> array[b.sha256] and o.sample_id <> all(ids)
                and not exists (select 1 from audit_events e where e.chain = 'sample:' || o.sample_id::text and e.type = 'erasure'));
        get diagnostics removed = row_count;
        -- Model-call response bodies (events name them by response_sha256): kept while a live sample's event names one.
        delete from content_blobs b
          where b.sha256 in (select e.payload->>'response_sha256' from audit_events e
                             where e.chain = any(select 'sample:' || s::text from unnest(ids) s) and e.payload ? 'response_sha256')
            and not exists (
              select 1 from audit_events o where (o.payload->>'response_sha256') = b.sha256 and o.payload ? 'response_sha256'
                and o.sample_id <> all(ids)
                and not exists (select 1 from audit_events x where x.chain = 'sample:' || o.sample_id::text and x.type = 'erasure'));
        get diagnostics also = row_count;
        removed := removed + also;
        perform set_config('amend.erasing', 'off', true);
        return removed;
      end $$`.execute(db);
    await sql`revoke all on function amend_erase_samples(uuid[]) from public`.execute(db);
    await sql`
      do $$
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          execute format('grant execute on function %I.amend_erase_samples(uuid[]) to amend_app', current_schema());
        end if;
      end $$`.execute(db);
  },
};
