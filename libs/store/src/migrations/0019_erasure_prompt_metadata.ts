import { Kysely, Migration, sql } from 'kysely';

/**
 * Pairs now carry the prompt's metadata (`metadata.prompt_metadata`): `amend_erase_samples`
 * removes it from an erased pair's record too, with the prompt's other content.
 */
export const erasurePromptMetadata: Migration = {
  async up(db: Kysely<any>) {
    await sql`
      create or replace function amend_erase_samples(ids uuid[]) returns integer language plpgsql security definer set search_path from current as $$
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
  },
};
