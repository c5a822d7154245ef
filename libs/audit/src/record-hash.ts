import { createHash } from 'node:crypto';
import type { PairReview } from '@amend/contracts';
import { asStoredJson, canonicalJson } from './canonical';
import { contentSha256 } from './content';

/**
 * The hashes the trail keeps of dataset rows, here so that the database-side verifier
 * (libs/store) and the offline check of a bundle compute them the same way.
 */

/** sha256 of the RFC 8785 JSON of a pair record as stored: what `pair.emitted` carries as `pair_sha256`. */
export function pairRecordSha256(record: unknown): string {
  return contentSha256(asStoredJson(record));
}

/**
 * sha256 of the RFC 8785 JSON of a review row as stored, its time left out (Postgres keeps
 * microseconds, JavaScript milliseconds): what `pair.reviewed` carries as `review_sha256`.
 */
export function reviewSha256(
  r: Pick<PairReview, 'id' | 'pair_id' | 'decision' | 'status' | 'reviewer' | 'actor' | 'reason' | 'chosen' | 'rejected'> & {
    reviewer_key_id?: string | null;
    note?: string | null;
  },
): string {
  return createHash('sha256')
    .update(
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
      'utf8',
    )
    .digest('hex');
}
