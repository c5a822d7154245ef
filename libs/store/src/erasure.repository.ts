import { sql, type Kysely } from 'kysely';
import { ERASURE_EVENT } from '@amend/audit';
import { UNFINISHED_SAMPLE_STATUSES } from '@amend/contracts';
import type { Database } from './schema';
import { insertAuditEvents } from './audit-events';
import { StoreError } from './errors';

/** Samples erased per transaction when a whole run is erased: bounds one commit and its lock set. */
const RUN_CHUNK = 500;

export interface SamplesErased {
  /** Samples erased now, with their `erasure` event. */
  erased: { sample_id: string; event_id: string }[];
  /** Samples already erased before (left as they were). */
  already_erased: number;
  /** Message blobs deleted: those no sample outside the erased ones names. */
  blobs_deleted: number;
  at: string;
}

/**
 * Erasure (docs/audit.md "Erasure"): the `erasure` event goes into each sample's chain first, then
 * `amend_erase_samples` (migration 0016, the schema owner's function and the only path the
 * database lets blank content) removes the content, in the same transaction. A run already
 * sealed is sealed again by the events (audit-events.ts), so chains and seals still verify.
 */
export class ErasureRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Erases these samples (all of one run); refuses, before any change, a sample that has not finished. */
  async eraseSamples(sampleIds: string[], actor: string, reason: string): Promise<SamplesErased> {
    return this.db.transaction().execute(async (tx) => {
      const rows = await tx.selectFrom('samples').select(['id', 'run_id', 'status']).where('id', 'in', sampleIds).orderBy('id').forUpdate().execute();
      const unfinished = rows.find((r) => (UNFINISHED_SAMPLE_STATUSES as readonly string[]).includes(r.status));
      if (unfinished) {
        throw new StoreError(
          'conflict',
          `sample ${unfinished.id} is ${unfinished.status}: cancel its run (POST /v1/runs/${unfinished.run_id}/cancel) or wait for it to finish, then erase`,
        );
      }
      const done = new Set(
        (
          await sql<{ sample_id: string }>`select distinct sample_id from audit_events
            where chain = any(${rows.map((r) => `sample:${r.id}`)}::text[]) and type = ${ERASURE_EVENT}`.execute(tx)
        ).rows.map((r) => r.sample_id),
      );
      const todo = rows.filter((r) => !done.has(r.id));
      const at = new Date().toISOString();
      if (todo.length === 0) return { erased: [], already_erased: done.size, blobs_deleted: 0, at };
      const events = await insertAuditEvents(
        tx,
        todo.map((r) => ({ run_id: r.run_id, sample_id: r.id, type: ERASURE_EVENT, actor, payload: { reason, removed: ERASED_CONTENT } })),
      );
      const removed = await sql<{ n: number }>`select amend_erase_samples(${todo.map((r) => r.id)}::uuid[]) as n`.execute(tx);
      return {
        erased: events.filter((e) => e.type === ERASURE_EVENT).map((e) => ({ sample_id: e.sample_id!, event_id: e.event_id })),
        already_erased: done.size,
        blobs_deleted: Number(removed.rows[0].n),
        at: events[0]?.at ?? at,
      };
    });
  }

  /** Every sample of a finished run, a chunk per transaction. */
  async eraseRun(runId: string, actor: string, reason: string): Promise<SamplesErased> {
    const total: SamplesErased = { erased: [], already_erased: 0, blobs_deleted: 0, at: new Date().toISOString() };
    let after = -1;
    for (;;) {
      const page = await this.db
        .selectFrom('samples')
        .select(['id', 'idx'])
        .where('run_id', '=', runId)
        .where('idx', '>', after)
        .orderBy('idx')
        .limit(RUN_CHUNK)
        .execute();
      if (page.length === 0) break;
      const r = await this.eraseSamples(
        page.map((s) => s.id),
        actor,
        reason,
      );
      total.erased.push(...r.erased);
      total.already_erased += r.already_erased;
      total.blobs_deleted += r.blobs_deleted;
      after = page[page.length - 1].idx;
      if (page.length < RUN_CHUNK) break;
    }
    return total;
  }

  /** The erasure of a sample, if any: who, when, why. */
  async of(sampleId: string): Promise<{ event_id: string; by: string; at: string; reason: string | null } | undefined> {
    const row = await sql<{ event_id: string; actor: string; at: Date; reason: string | null }>`
      select event_id, actor, at, payload->>'reason' as reason from audit_events
      where chain = ${`sample:${sampleId}`} and type = ${ERASURE_EVENT} order by seq limit 1`.execute(this.db);
    const e = row.rows[0];
    return e && { event_id: e.event_id, by: e.actor, at: new Date(e.at).toISOString(), reason: e.reason };
  }
}

/** What an erasure removes, as its event says. */
export const ERASED_CONTENT = [
  'samples.prompt',
  'samples.messages',
  'samples.metadata',
  'stage_records.text',
  'pairs.record texts',
  'pair_reviews texts',
  'message blobs no other sample names',
];
