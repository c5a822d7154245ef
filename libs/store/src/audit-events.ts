import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { AuditVerifier, GLOBAL_CHAIN, SEAL_EVENT, asStoredJson, buildSeal, chainOf, linkEvents, type ChainedEvent, type VerifyReport } from '@amend/audit';
import { isRunFinished, isSampleFinished, type AuditEventType, type RunSeal } from '@amend/contracts';
import type { Database } from './schema';
import { verifyDataset, type DatasetReport } from './dataset-verifier';
import { verifyRows, type RowsReport } from './row-verifier';

/** One audit event as the application hands it to the store; the store chains and hashes it. */
export interface AuditEventInput {
  run_id: string | null;
  sample_id: string | null;
  type: AuditEventType;
  actor: string;
  payload: unknown;
}

/** An event as stored: content, position in its chain, link and hash. */
export interface StoredAuditEvent extends ChainedEvent {
  id: string;
  messages?: { role: string; content: string }[];
  prev_hash: string;
  hash: string;
}

type Db = Kysely<Database> | Transaction<Database>;

/** A push of the run's HF folder to the Hub (apps/api/src/hub): it seals the run again, but changes nothing the seal vouches for. */
const HUB_PUSH_EVENT = 'dataset.pushed' satisfies AuditEventType;

/** Rows per round trip while streaming a run's events. */
const PAGE = 1_000;

/**
 * Appends events to their chains inside the caller's transaction (or a new one), so an event
 * commits with the state change it records. Each chain is locked before its head is read:
 * a sample chain by the sample row (the worker already holds it; the row also keeps the chain's
 * head, updated here, for the checkpoint's one-statement path), a run chain by the run row,
 * the global chain by a transaction-scoped advisory lock. A unique (chain, seq) index backs the
 * locks up: a fork fails instead of committing.
 *
 * An event that lands on a run already sealed (a sample that was mid-call when its run was
 * cancelled) re-seals the run, so the last seal always covers every event.
 */
export async function insertAuditEvents(db: Db, events: AuditEventInput[]): Promise<StoredAuditEvent[]> {
  if (events.length === 0) return [];
  if (!db.isTransaction) return db.transaction().execute((tx) => insertAuditEvents(tx, events));
  const tx = db as Transaction<Database>;
  const byChain = new Map<string, AuditEventInput[]>();
  for (const e of events) {
    const chain = chainOf(e);
    byChain.set(chain, [...(byChain.get(chain) ?? []), e]);
  }
  const rows: StoredAuditEvent[] = [];
  const reseal = new Set<string>();
  for (const [chain, group] of byChain) {
    const sealedRun = await lockChain(tx, chain, group[0]);
    if (sealedRun && group.some((e) => e.type !== SEAL_EVENT)) reseal.add(sealedRun);
    const head = await tx.selectFrom('audit_events').select(['seq', 'hash']).where('chain', '=', chain).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const at = new Date().toISOString();
    const linked = linkEvents(
      head ?? null,
      group.map((e) => ({
        event_id: randomUUID(),
        chain,
        run_id: e.run_id ?? null,
        sample_id: e.sample_id ?? null,
        type: e.type,
        actor: e.actor,
        at,
        payload: asStoredJson(e.payload),
      })),
    );
    const inserted = await tx
      .insertInto('audit_events')
      .values(
        linked.map((e) => ({
          event_id: e.event_id,
          chain: e.chain,
          seq: e.seq,
          run_id: e.run_id,
          sample_id: e.sample_id,
          type: e.type,
          actor: e.actor,
          at: new Date(e.at),
          payload: JSON.stringify(e.payload),
          prev_hash: e.prev_hash,
          hash: e.hash,
        })),
      )
      .returning('id')
      .execute();
    linked.forEach((e, i) => rows.push({ ...e, id: String(inserted[i].id) }));
    const sampleId = group[0].sample_id;
    if (sampleId && chain === `sample:${sampleId}`) {
      // The sample row keeps its chain's head for the one-statement checkpoint (migration 0008).
      const last = linked[linked.length - 1];
      await tx.updateTable('samples').set({ audit_seq: last.seq, audit_hash: last.hash }).where('id', '=', sampleId).execute();
    }
  }
  for (const runId of reseal) await sealRun(tx, runId, 'amend:reseal');
  return rows;
}

/**
 * Takes the lock that makes this transaction the chain's only writer. Answers the run id when
 * the chain belongs to a run that has already finished (and so already has a seal).
 */
async function lockChain(tx: Transaction<Database>, chain: string, e: AuditEventInput): Promise<string | undefined> {
  if (chain === GLOBAL_CHAIN) {
    // Advisory locks are per database; tests run one schema per file in one database.
    await sql`select pg_advisory_xact_lock(hashtextextended('amend.audit.global.' || current_schema(), 0))`.execute(tx);
    return undefined;
  }
  if (chain.startsWith('suggestion:')) {
    // A suggestion job's chain: its set row is the lock, as a run's row is the run chain's.
    await tx.selectFrom('suggestion_sets').select('id').where('id', '=', chain.slice('suggestion:'.length)).forUpdate().execute();
    return undefined;
  }
  if (e.sample_id) {
    const sample = await tx.selectFrom('samples').select(['status', 'run_id']).where('id', '=', e.sample_id).forUpdate().executeTakeFirst();
    if (!sample || !isSampleFinished(sample.status)) return undefined;
    const run = await tx.selectFrom('runs').select('status').where('id', '=', sample.run_id).executeTakeFirst();
    return run && isRunFinished(run.status) ? sample.run_id : undefined;
  }
  const run = await tx
    .selectFrom('runs')
    .select('status')
    .where('id', '=', e.run_id as string)
    .forUpdate()
    .executeTakeFirst();
  return run && isRunFinished(run.status) ? (e.run_id as string) : undefined;
}

/**
 * Seals a run: a `run.sealed` event on its run chain holding the RFC 6962 Merkle root over the
 * head (count, last hash) of every chain of the run. Called in the transaction that finishes
 * the run, with the run row locked.
 */
export async function sealRun(tx: Transaction<Database>, runId: string, actor: string): Promise<StoredAuditEvent> {
  await tx.selectFrom('runs').select('id').where('id', '=', runId).forUpdate().execute();
  const heads = await sql<{ chain: string; seq: number; hash: string }>`
    select distinct on (chain) chain, seq, hash from audit_events where run_id = ${runId} order by chain, id desc`.execute(tx);
  const payload = buildSeal(heads.rows.map((h) => ({ chain: h.chain, count: h.seq + 1, head: h.hash })));
  const [seal] = await insertAuditEvents(tx, [{ run_id: runId, sample_id: null, type: SEAL_EVENT, actor, payload }]);
  return seal;
}

export interface AuditQuery {
  run?: string;
  sample?: string;
  type?: string;
  since?: Date;
  until?: Date;
  /** Row id after which to continue. */
  after?: string;
  limit: number;
}

/**
 * A model call's messages, expanded from the blobs its payload names (`request.messages_sha256`),
 * read with the event so an auditor gets the exact messages sent in the same request and the
 * verifier can re-hash them; null for other events.
 */
const eventMessages = sql<unknown>`case when jsonb_typeof(payload->'request'->'messages_sha256') = 'array'
  then amend_messages(array(select jsonb_array_elements_text(payload->'request'->'messages_sha256'))) end`;

/** A model call's response body, read from the blob its payload names (`response_sha256`); null for other events. */
const eventResponse = sql<unknown>`case when payload ? 'response_sha256' then (select b.content from content_blobs b where b.sha256 = payload->>'response_sha256') end`;

function toStored(r: any): StoredAuditEvent {
  return {
    ...(r.messages != null && { messages: r.messages }),
    ...(r.response != null && { response: r.response }),
    id: String(r.id),
    event_id: r.event_id,
    chain: r.chain,
    seq: r.seq,
    run_id: r.run_id,
    sample_id: r.sample_id,
    type: r.type,
    actor: r.actor,
    at: r.at instanceof Date ? r.at.toISOString() : String(r.at),
    payload: r.payload,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  record(events: AuditEventInput[]): Promise<StoredAuditEvent[]> {
    return insertAuditEvents(this.db, events);
  }

  /** Events in the order they were written, filtered; `next` is the cursor of the following page. */
  async search(q: AuditQuery): Promise<{ events: StoredAuditEvent[]; next: string | null }> {
    let query = this.db
      .selectFrom('audit_events')
      .selectAll()
      .select([eventMessages.as('messages'), eventResponse.as('response')])
      .orderBy('id')
      .limit(q.limit + 1);
    if (q.run) query = query.where('run_id', '=', q.run);
    if (q.sample) query = query.where('sample_id', '=', q.sample);
    if (q.type) query = query.where('type', '=', q.type);
    if (q.since) query = query.where('at', '>=', q.since);
    if (q.until) query = query.where('at', '<', q.until);
    if (q.after) query = query.where('id', '>', q.after);
    const rows = await query.execute();
    const page = rows.slice(0, q.limit).map(toStored);
    return { events: page, next: rows.length > q.limit ? page[page.length - 1].id : null };
  }

  /**
   * The seal over the run's work and reviews: the first `run.sealed` after the run's last event
   * that is neither a seal nor a Hub push. A push's own event seals the run again without changing
   * what was pushed, so pushing the same run twice names the same seal (and changes nothing);
   * every seal stays in the trail and its bundle. Null while the run goes on. Two short index
   * scans (audit_run, audit_run_chain).
   */
  async dataSeal(runId: string): Promise<RunSeal | null> {
    const { rows } = await sql<{ event_id: string; hash: string; at: Date; root: string }>`
      select event_id, hash, at, payload->>'root' as root from audit_events
       where run_id = ${runId} and chain = ${`run:${runId}`} and type = ${SEAL_EVENT}
         and id > coalesce((select id from audit_events where run_id = ${runId} and type not in (${SEAL_EVENT}, ${HUB_PUSH_EVENT})
                             order by id desc limit 1), 0)
       order by id limit 1`.execute(this.db);
    const row = rows[0];
    return row ? { event_id: row.event_id, hash: row.hash, root: row.root, at: new Date(row.at).toISOString() } : null;
  }

  /** Every event of one sample (its chain), in the order written. */
  listForSample(sampleId: string): Promise<StoredAuditEvent[]> {
    return this.chain(`sample:${sampleId}`);
  }

  /** One chain in stored order: the whole critique log of a sample, or the global chain. */
  async chain(chain: string): Promise<StoredAuditEvent[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .select([eventMessages.as('messages'), eventResponse.as('response')])
      .where('chain', '=', chain)
      .orderBy('id')
      .execute();
    return rows.map(toStored);
  }

  /**
   * Every event of a run, chain by chain, each chain in stored order: what the verifier and the
   * export read. Pages by keyset, so a run of any size streams in bounded memory.
   */
  async *streamRun(runId: string, pageSize = PAGE, opts: { content?: boolean } = {}): AsyncGenerator<StoredAuditEvent> {
    let after: { chain: string; id: string } | null = null;
    const content = opts.content ?? true;
    for (;;) {
      let q = this.db
        .selectFrom('audit_events')
        .selectAll()
        .select([
          content ? eventMessages.as('messages') : sql<unknown>`null`.as('messages'),
          content ? eventResponse.as('response') : sql<unknown>`null`.as('response'),
        ])
        .where('run_id', '=', runId)
        .orderBy('chain')
        .orderBy('id')
        .limit(pageSize);
      if (after) q = q.where(sql<boolean>`(chain, id) > (${after.chain}, ${after.id}::bigint)`);
      const rows = await q.execute();
      for (const r of rows) yield toStored(r);
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1];
      after = { chain: last.chain, id: String(last.id) };
    }
  }

  /**
   * Recomputes every chain of a run and its seals; a finished run must be sealed. With
   * `chainsOnly` the blobs the events name are neither read nor re-hashed here: verifyRows does
   * that once per blob (a run's few-shot prefix is named by every call).
   */
  async verifyRun(runId: string, opts: { finished: boolean; chainsOnly?: boolean }): Promise<VerifyReport> {
    const verifier = new AuditVerifier({ runId, expectSealed: opts.finished, chainsOnly: opts.chainsOnly });
    for await (const e of this.streamRun(runId, PAGE, { content: !opts.chainsOnly })) verifier.add(e);
    return verifier.finish();
  }

  /** Compares every pair and review row of a run with the events that emitted them (dataset-verifier.ts). */
  verifyDataset(runId: string): Promise<DatasetReport> {
    return verifyDataset(this.db, runId);
  }

  /** Holds every row a read path serves for the run to the events that committed to it (row-verifier.ts). */
  verifyRows(runId: string): Promise<RowsReport> {
    return verifyRows(this.db, runId);
  }

  /** Content blobs by name, as stored (the audit bundle carries a run's sample commitments); absent names are left out. */
  async contentBlobs(names: string[]): Promise<{ sha256: string; content: unknown }[]> {
    if (names.length === 0) return [];
    return this.db.selectFrom('content_blobs').select(['sha256', 'content']).where('sha256', 'in', names).execute();
  }

  /** Recomputes one chain that no seal covers: a sample's while its run goes on, or the global chain. */
  async verifyChain(chain: string): Promise<VerifyReport> {
    const verifier = new AuditVerifier();
    for (const e of await this.chain(chain)) verifier.add(e);
    return verifier.finish();
  }
}
