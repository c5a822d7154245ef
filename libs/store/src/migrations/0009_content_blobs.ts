import { Kysely, Migration, sql } from 'kysely';

/**
 * A conversation stored once (docs/architecture.md#content-addressing): `content_blobs` holds each
 * message, and each constitution version's few-shot prefix as one array, under the sha256 of its
 * canonical JSON (@amend/audit content.ts). A stage record keeps the list of names
 * (`message_refs`) instead of the messages, which stay readable through `amend_messages(refs)`;
 * rows written before keep their `messages`. Blobs only grow: the application role may not
 * change or delete them, as for audit events.
 *
 * With it: JSON columns compressed with lz4 (cheaper than the default pglz on the write path;
 * Postgres 14 and later), and the unique index on audit_events.event_id dropped: no query looks
 * an event up by it, and chains are already unique by (chain, seq).
 */
export const contentBlobs: Migration = {
  async up(db: Kysely<any>) {
    await sql`create table content_blobs (sha256 text primary key, content jsonb not null)`.execute(db);
    await db.schema
      .alterTable('stage_records')
      .addColumn('message_refs', sql`text[]`)
      .execute();
    await db.schema
      .alterTable('stage_records')
      .alterColumn('messages', (c) => c.dropNotNull())
      .execute();
    await sql`
      create function amend_messages(refs text[]) returns jsonb language sql stable as $$
        select coalesce(jsonb_agg(m.x order by u.n, m.k), '[]'::jsonb)
        from unnest(refs) with ordinality as u(sha, n)
        join content_blobs b on b.sha256 = u.sha
        cross join lateral jsonb_array_elements(
          case when jsonb_typeof(b.content) = 'array' then b.content else jsonb_build_array(b.content) end
        ) with ordinality as m(x, k)
      $$`.execute(db);
    await sql`alter table audit_events drop constraint if exists audit_events_event_id_key`.execute(db);

    const lz4 = await sql<{
      ok: boolean;
    }>`select exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) as ok`.execute(db);
    if (lz4.rows[0]?.ok) {
      for (const [table, column] of [
        ['content_blobs', 'content'],
        ['stage_records', 'messages'],
        ['pairs', 'record'],
        ['audit_events', 'payload'],
        ['constitutions', 'content'],
      ]) {
        await sql`alter table ${sql.id(table)} alter column ${sql.id(column)} set compression lz4`.execute(db);
      }
    }
    await sql`
      do $$
      begin
        if exists (select 1 from pg_roles where rolname = 'amend_app') then
          execute format('revoke update, delete, truncate on %I.content_blobs from amend_app', current_schema());
        end if;
      end $$`.execute(db);
  },
};
