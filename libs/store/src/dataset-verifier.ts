import { sql, type Kysely } from 'kysely';
import { canonicalJson } from '@amend/audit';
import type { PairRecord } from '@amend/contracts';
import { pairQuality } from '@amend/pipeline';
import type { Database } from './schema';
import { pairRecordSha256, reviewSha256 } from './dataset-hash';
import { erasuresOf } from './row-verifier';

/** Why a dataset row does not match the trail. */
export type DatasetFailureReason = 'content_changed' | 'missing_event' | 'missing_row' | 'duplicate_event';

export interface DatasetFailure {
  kind: 'pair' | 'review';
  reason: DatasetFailureReason;
  /** The row named: a pair id or a review id (null for an event with no row). */
  id: string | null;
  sample_id: string | null;
  /** The event the row was compared with (or that has no row). */
  event_id: string | null;
  message: string;
}

export interface DatasetReport {
  ok: boolean;
  pairs: number;
  reviews: number;
  /** Pairs and reviews of erased samples whose texts the erasure blanked: not failures. */
  erased?: number;
  failures: DatasetFailure[];
  failures_total: number;
}

const MAX_FAILURES = 100;
const PAGE = 1_000;

/**
 * The chains prove the events were not altered; this proves the dataset was not either: every
 * pairs row of a run against the `pair.emitted` event that emitted it (its `pair_sha256`, or the
 * whole `pair` in events written before hashes), and every review row against its `pair.reviewed`
 * event (its `review_sha256`, or the fields older events carry). A row edited behind the
 * service's back, a row without its event, an event without its row, and an event twice are
 * each named. What is stored beside a pair and read instead of it (the `flags` column the export
 * filters on, the `quality` figures the report adds up) must be what its record says. Pages through
 * the run, so memory does not grow with its size.
 */
export async function verifyDataset(db: Kysely<Database>, runId: string): Promise<DatasetReport> {
  const failures: DatasetFailure[] = [];
  let total = 0;
  let erased = 0;
  const erasures = await erasuresOf(db, runId);
  const fail = (f: DatasetFailure) => {
    total++;
    if (failures.length < MAX_FAILURES) failures.push(f);
  };

  let pairs = 0;
  let after = -1;
  for (;;) {
    const rows = (
      await sql<{
        id: string;
        sample_id: string;
        idx: number;
        record: PairRecord;
        flags: string[];
        quality: unknown;
        events: { event_id: string; payload: any }[] | null;
      }>`
        select p.id, p.sample_id, p.idx, p.record, p.flags, p.quality,
          (select json_agg(json_build_object('event_id', e.event_id, 'payload', e.payload) order by e.id)
             from audit_events e where e.chain = 'sample:' || p.sample_id::text and e.type = 'pair.emitted') as events
        from pairs p where p.run_id = ${runId} and p.idx > ${after} order by p.idx limit ${PAGE}`.execute(db)
    ).rows;
    for (const row of rows) {
      pairs++;
      const events = row.events ?? [];
      if (events.length === 0) {
        fail({
          kind: 'pair',
          reason: 'missing_event',
          id: row.id,
          sample_id: row.sample_id,
          event_id: null,
          message: `pair ${row.id} has no pair.emitted event`,
        });
        continue;
      }
      if (events.length > 1) {
        fail({
          kind: 'pair',
          reason: 'duplicate_event',
          id: row.id,
          sample_id: row.sample_id,
          event_id: events[1].event_id,
          message: `pair ${row.id} was emitted ${events.length} times`,
        });
      }
      const payload = events[0].payload ?? {};
      const stored = pairRecordSha256(row.record);
      const emitted = typeof payload.pair_sha256 === 'string' ? payload.pair_sha256 : payload.pair !== undefined ? pairRecordSha256(payload.pair) : null;
      if (emitted !== stored && erasures.has(row.sample_id) && (row.record as { erased?: unknown }).erased === true) {
        erased++;
        continue;
      }
      if (emitted !== stored) {
        fail({
          kind: 'pair',
          reason: 'content_changed',
          id: row.id,
          sample_id: row.sample_id,
          event_id: events[0].event_id,
          message:
            emitted === null
              ? `the pair.emitted event of pair ${row.id} names no pair`
              : `pair ${row.id} is not the pair its pair.emitted event recorded (sha256 ${stored}, emitted ${emitted})`,
        });
      }
      // A record that is not what was emitted is named above; otherwise what is stored beside it must follow from it.
      const derived = emitted === stored ? derivedColumnsDiffer(row) : null;
      if (derived)
        fail({
          kind: 'pair',
          reason: 'content_changed',
          id: row.id,
          sample_id: row.sample_id,
          event_id: events[0].event_id,
          message: `pair ${row.id}: ${derived}`,
        });
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1].idx;
  }
  const orphanPairs = (
    await sql<{ event_id: string; sample_id: string }>`
      select e.event_id, e.sample_id from audit_events e
      where e.run_id = ${runId} and e.type = 'pair.emitted' and not exists (select 1 from pairs p where p.sample_id = e.sample_id)
      order by e.id limit ${MAX_FAILURES}`.execute(db)
  ).rows;
  for (const e of orphanPairs) {
    fail({
      kind: 'pair',
      reason: 'missing_row',
      id: null,
      sample_id: e.sample_id,
      event_id: e.event_id,
      message: `the pair that event ${e.event_id} emitted is not in pairs (deleted?)`,
    });
  }

  let reviews = 0;
  let afterSeq = '0';
  for (;;) {
    const rows = (
      await sql<any>`
        select r.*, (select json_agg(json_build_object('event_id', e.event_id, 'payload', e.payload) order by e.id)
             from audit_events e where e.chain = 'sample:' || r.sample_id::text and e.type = 'pair.reviewed' and e.payload->>'review_id' = r.id::text) as events
        from pair_reviews r where r.run_id = ${runId} and r.seq > ${afterSeq}::bigint order by r.seq limit ${PAGE}`.execute(db)
    ).rows;
    for (const row of rows) {
      reviews++;
      const events: { event_id: string; payload: any }[] = row.events ?? [];
      const base = { kind: 'review' as const, id: row.id as string, sample_id: row.sample_id as string };
      if (events.length === 0) {
        fail({ ...base, reason: 'missing_event', event_id: null, message: `review ${row.id} has no pair.reviewed event` });
        continue;
      }
      if (events.length > 1)
        fail({ ...base, reason: 'duplicate_event', event_id: events[1].event_id, message: `review ${row.id} was audited ${events.length} times` });
      const p = events[0].payload ?? {};
      const changed = typeof p.review_sha256 === 'string' ? p.review_sha256 !== reviewSha256(row) : olderReviewDiffers(row, p);
      if (changed && erasures.has(row.sample_id) && row.chosen === '' && row.rejected === '') {
        erased++;
        continue;
      }
      if (changed) {
        fail({
          ...base,
          reason: 'content_changed',
          event_id: events[0].event_id,
          message: `review ${row.id} is not the review its pair.reviewed event recorded`,
        });
      }
    }
    if (rows.length < PAGE) break;
    afterSeq = String(rows[rows.length - 1].seq);
  }
  const orphanReviews = (
    await sql<{ event_id: string; sample_id: string; review_id: string }>`
      select e.event_id, e.sample_id, e.payload->>'review_id' as review_id from audit_events e
      where e.run_id = ${runId} and e.type = 'pair.reviewed'
        and not exists (select 1 from pair_reviews r where r.id::text = e.payload->>'review_id')
      order by e.id limit ${MAX_FAILURES}`.execute(db)
  ).rows;
  for (const e of orphanReviews) {
    fail({
      kind: 'review',
      reason: 'missing_row',
      id: e.review_id,
      sample_id: e.sample_id,
      event_id: e.event_id,
      message: `review ${e.review_id} that event ${e.event_id} recorded is not in pair_reviews (deleted?)`,
    });
  }
  return { ok: total === 0, pairs, reviews, ...(erased > 0 && { erased }), failures, failures_total: total };
}

/** Events written before review_sha256: the fields they carry, and an edit's new texts. */
function olderReviewDiffers(row: any, p: any): boolean {
  for (const f of ['pair_id', 'decision', 'status', 'reviewer', 'reason'] as const) {
    if (p[f] !== undefined && String(p[f]) !== String(row[f])) return true;
  }
  if (p.edited?.chosen && p.edited.chosen.to !== row.chosen) return true;
  if (p.edited?.rejected && p.edited.rejected.to !== row.rejected) return true;
  return false;
}

/** What of a pair's flags column and stored report figures differs from its record, or null. */
function derivedColumnsDiffer(row: { record: PairRecord; flags: string[]; quality: unknown }): string | null {
  const flags = row.record?.metadata?.flags ?? [];
  if (canonicalJson(row.flags ?? []) !== canonicalJson(flags))
    return `its flags column (${(row.flags ?? []).join(', ') || 'none'}) is not its record's (${flags.join(', ') || 'none'})`;
  // Pairs stored before migration 0015 have no figures: the report computes theirs from the record.
  if (row.quality === null || row.quality === undefined) return null;
  let expected: string;
  try {
    expected = canonicalJson(pairQuality(row.record));
  } catch {
    return 'its record is not a pair the report can read';
  }
  return canonicalJson(row.quality) === expected ? null : "the quality figures stored with it (read by the report) are not its record's";
}
