import { Kysely, Migration, sql } from 'kysely';

/**
 * `amend_erase_samples` (migration 0016) kept a blob that a sample erased earlier still named
 * (an erased stage record keeps its message_refs), so a prompt asked by two samples outlived the
 * erasure of both. A blob is now kept only while a sample that is not erased names it.
 */
export const erasureSharedBlobs: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create or replace function amend_erase_samples(ids uuid[]) returns integer language plpgsql security definer set search_path from current as $$
      declare
        unrecorded uuid;
        removed integer;
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
            'category', coalesce(record->'category', '[]'::jsonb), 'metadata', record->'metadata')
          where sample_id = any(ids);
        update pair_reviews set chosen = '', rejected = '', reason = '', note = null where sample_id = any(ids);
        delete from content_blobs b
          where b.sha256 in (select distinct r from stage_records s cross join unnest(s.message_refs) r where s.sample_id = any(ids))
            and jsonb_typeof(b.content) <> 'array'
            and not exists (
              select 1 from stage_records o where o.message_refs @> array[b.sha256] and o.sample_id <> all(ids)
                and not exists (select 1 from audit_events e where e.chain = 'sample:' || o.sample_id::text and e.type = 'erasure'));
        get diagnostics removed = row_count;
        perform set_config('amend.erasing', 'off', true);
        return removed;
      end $$`.execute(db);
  },
};
