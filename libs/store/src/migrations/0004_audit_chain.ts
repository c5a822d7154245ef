import { randomUUID } from 'node:crypto';
import { Kysely, Migration, sql } from 'kysely';
import { SEAL_EVENT, buildSeal, chainOf, linkEvents } from '@amend/audit';

const BATCH = 2_000;
const FINISHED = ['completed', 'failed', 'cancelled'];

/**
 * Hash chains over the audit trail (docs/architecture.md#chains-and-seals): every event gets its chain
 * (`sample:<id>`, `run:<id>` or `global`), its position `seq`, `prev_hash` and `hash`; events
 * written before this migration are chained in row order and finished runs sealed. Then the table
 * becomes append-only (a trigger refuses UPDATE, DELETE and TRUNCATE, for every role, owner
 * included unless they disable it), and the role `amend_app` gets what the application needs and
 * nothing more: no UPDATE, DELETE or TRUNCATE on audit rows, no DDL.
 */
export const auditChain: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('audit_events').addColumn('chain', 'text').execute();
    await db.schema.alterTable('audit_events').addColumn('seq', 'integer').execute();
    // Hashes cover the time as JavaScript reads it back (milliseconds), so store exactly that.
    await sql`update audit_events set at = date_trunc('milliseconds', at)`.execute(db);
    await backfill(db);
    await sealFinishedRuns(db);

    for (const column of ['chain', 'seq', 'prev_hash', 'hash']) {
      await db.schema
        .alterTable('audit_events')
        .alterColumn(column, (c) => c.setNotNull())
        .execute();
    }
    // One event per position: two writers racing on a chain cannot fork it, one of them fails.
    await sql`create unique index audit_chain_seq on audit_events (chain, seq)`.execute(db);
    // Verification and export read a run chain by chain in stored order.
    await sql`create index audit_run_chain on audit_events (run_id, chain, id)`.execute(db);
    await sql`create index audit_type on audit_events (type, id)`.execute(db);

    await sql`
      create function audit_events_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit events are append-only: % on audit_events is refused', tg_op
          using errcode = 'insufficient_privilege',
                hint = 'the audit trail is verified by its hash chains; nothing may change it';
      end $$`.execute(db);
    await sql`create trigger audit_events_no_update_delete before update or delete on audit_events
      for each row execute function audit_events_append_only()`.execute(db);
    await sql`create trigger audit_events_no_truncate before truncate on audit_events
      for each statement execute function audit_events_append_only()`.execute(db);

    await createAppRole(db);
  },
};

/** Chains the events already there, in row order, a batch at a time. */
async function backfill(db: Kysely<any>): Promise<void> {
  const heads = new Map<string, { seq: number; hash: string }>();
  let after = '0';
  for (;;) {
    const rows = (
      await sql<any>`select id, event_id, run_id, sample_id, type, actor, at, payload from audit_events
        where id > ${after} order by id limit ${BATCH}`.execute(db)
    ).rows;
    if (rows.length === 0) return;
    const updates: { id: string; chain: string; seq: number; prev_hash: string; hash: string }[] = [];
    for (const r of rows) {
      const chain = chainOf(r);
      const [linked] = linkEvents(heads.get(chain) ?? null, [
        {
          event_id: r.event_id,
          chain,
          run_id: r.run_id,
          sample_id: r.sample_id,
          type: r.type,
          actor: r.actor,
          at: new Date(r.at).toISOString(),
          payload: r.payload,
        },
      ]);
      heads.set(chain, { seq: linked.seq, hash: linked.hash });
      updates.push({ id: String(r.id), chain, seq: linked.seq, prev_hash: linked.prev_hash, hash: linked.hash });
    }
    await sql`
      update audit_events a set chain = u.chain, seq = u.seq, prev_hash = u.prev_hash, hash = u.hash
      from unnest(${updates.map((u) => u.id)}::bigint[], ${updates.map((u) => u.chain)}::text[], ${updates.map((u) => u.seq)}::int[],
                  ${updates.map((u) => u.prev_hash)}::text[], ${updates.map((u) => u.hash)}::text[]) as u(id, chain, seq, prev_hash, hash)
      where a.id = u.id`.execute(db);
    after = String(rows[rows.length - 1].id);
  }
}

/** Runs that finished before chains existed get their seal now, so every finished run verifies the same way. */
async function sealFinishedRuns(db: Kysely<any>): Promise<void> {
  const runs = (await sql<{ id: string }>`select id from runs where status in (${sql.join(FINISHED)})`.execute(db)).rows;
  for (const { id } of runs) {
    const heads = (
      await sql<{ chain: string; seq: number; hash: string }>`
        select distinct on (chain) chain, seq, hash from audit_events where run_id = ${id} order by chain, id desc`.execute(db)
    ).rows;
    const runChain = `run:${id}`;
    const runHead = heads.find((h) => h.chain === runChain);
    const [seal] = linkEvents(runHead ? { seq: runHead.seq, hash: runHead.hash } : null, [
      {
        event_id: randomUUID(),
        chain: runChain,
        run_id: id,
        sample_id: null,
        type: SEAL_EVENT,
        actor: 'amend:migration-0004',
        at: new Date().toISOString(),
        payload: buildSeal(heads.map((h) => ({ chain: h.chain, count: h.seq + 1, head: h.hash }))),
      },
    ]);
    await sql`insert into audit_events (event_id, chain, seq, run_id, sample_id, type, actor, at, payload, prev_hash, hash)
      values (${seal.event_id}, ${seal.chain}, ${seal.seq}, ${id}, null, ${seal.type}, ${seal.actor}, ${new Date(seal.at)},
              ${JSON.stringify(seal.payload)}::jsonb, ${seal.prev_hash}, ${seal.hash})`.execute(db);
  }
}

/**
 * `amend_app`: a role without login that an operator's login role joins
 * (`create role amend_service login password '...' in role amend_app`). Roles are shared by every
 * database of the server, so creating it twice (another schema, a concurrent test) is fine; a
 * migrating user without CREATEROLE leaves it to the operator and grants only if it exists.
 */
async function createAppRole(db: Kysely<any>): Promise<void> {
  await sql`
    do $$
    declare s text := current_schema();
    begin
      begin
        create role amend_app nologin;
      exception when duplicate_object or unique_violation then null;
               when insufficient_privilege then raise notice 'cannot create role amend_app; create it as a superuser and re-grant';
      end;
      if exists (select 1 from pg_roles where rolname = 'amend_app') then
        execute format('grant usage on schema %I to amend_app', s);
        execute format('grant select, insert, update, delete on all tables in schema %I to amend_app', s);
        execute format('grant usage, select on all sequences in schema %I to amend_app', s);
        execute format('alter default privileges in schema %I grant select, insert, update, delete on tables to amend_app', s);
        execute format('alter default privileges in schema %I grant usage, select on sequences to amend_app', s);
        -- The audit trail only grows; the migration bookkeeping is the owner's.
        execute format('revoke update, delete, truncate on %I.audit_events from amend_app', s);
        execute format('revoke insert, update, delete, truncate on %I.kysely_migration, %I.kysely_migration_lock from amend_app', s, s);
      end if;
    end $$`.execute(db);
}
