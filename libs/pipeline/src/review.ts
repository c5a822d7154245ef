import type { ExportReview, PairRecord, PairReview } from '@amend/contracts';

/**
 * What a review makes of an exported pair, shared by the export (apps/api) and the offline check
 * of a dataset file against an audit bundle (libs/audit), so both build the same line.
 */

/** The pair as a reviewer left it: the texts of its latest review. */
export function applyReview(pair: PairRecord, review: PairReview | null | undefined): PairRecord {
  if (!review || (review.chosen === pair.chosen && review.rejected === pair.rejected)) return pair;
  const { score_chosen, score_rejected, ...metadata } = pair.metadata ?? ({} as PairRecord['metadata']);
  const swapped = review.chosen === pair.rejected && review.rejected === pair.chosen;
  // The judge's scores follow the texts: swapped with them, dropped for texts a reviewer wrote.
  const scores = swapped && score_chosen !== undefined ? { score_chosen: score_rejected, score_rejected: score_chosen } : {};
  return { ...pair, chosen: review.chosen, rejected: review.rejected, metadata: { ...metadata, ...scores } };
}

/** The review fields an exported line carries. */
export function exportReview(review: PairReview): ExportReview {
  return {
    status: review.status,
    decision: review.decision,
    reviewer: review.reviewer,
    reviewer_key_id: review.reviewer_key_id ?? null,
    reason: review.reason,
    ...(review.note ? { note: review.note } : {}),
    reviewed_at: review.created_at,
    review_id: review.id,
  };
}
