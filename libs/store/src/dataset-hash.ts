import { createHash } from 'node:crypto';
import { asStoredJson, canonicalJson, contentSha256 } from '@amend/audit';
import type { PairReview } from '@amend/contracts';

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** sha256 of the RFC 8785 JSON of a pair record as stored: what `pair.emitted` carries as `pair_sha256`. */
export function pairRecordSha256(record: unknown): string {
  return contentSha256(asStoredJson(record));
}

/**
 * sha256 of the RFC 8785 JSON of a review row as stored, its time left out (Postgres keeps
 * microseconds, JavaScript milliseconds): what `pair.reviewed` carries as `review_sha256`.
 */
export function reviewSha256(r: Pick<PairReview, 'id' | 'pair_id' | 'decision' | 'status' | 'reviewer' | 'actor' | 'reason' | 'chosen' | 'rejected'> & { reviewer_key_id?: string | null; note?: string | null }): string {
  return sha256(
    canonicalJson({
      id: r.id,
      pair_id: r.pair_id,
      decision: r.decision,
      status: r.status,
      reviewer: r.reviewer,
      reviewer_key_id: r.reviewer_key_id ?? null,
      actor: r.actor,
      reason: r.reason,
      note: r.note ?? null,
      chosen: r.chosen,
      rejected: r.rejected,
    }),
  );
}
