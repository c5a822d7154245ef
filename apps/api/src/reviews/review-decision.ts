import type { ExportReview, PairRecord, PairReview, ReviewDecision } from '@amend/contracts';
import type { PairTexts, ReviewOutcome } from '@amend/store';
import { ApiError } from '../errors/api-error';

/**
 * What a reviewer's decision makes of a pair, from the texts it has now (which already carry
 * earlier swaps and edits): accept and reject keep them, swap exchanges chosen and rejected (the
 * worker's preference was backwards), edit replaces what the reviewer rewrote. Swap and edit keep
 * the pair in the dataset, so they count as accepted.
 */
export function decideReview(decision: ReviewDecision, current: PairTexts, edit: { chosen?: string; rejected?: string } = {}): ReviewOutcome {
  switch (decision) {
    case 'accept':
      return { ...current, status: 'accepted' };
    case 'reject':
      return { ...current, status: 'rejected' };
    case 'swap':
      return { chosen: current.rejected, rejected: current.chosen, status: 'accepted' };
    case 'edit': {
      const next = { chosen: edit.chosen ?? current.chosen, rejected: edit.rejected ?? current.rejected };
      if (next.chosen === next.rejected) {
        throw new ApiError(422, 'invalid_review', 'after this edit chosen and rejected are the same text; a preference pair needs two different responses');
      }
      return { ...next, status: 'accepted' };
    }
  }
}

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
