import type { ReviewDecision } from '@amend/contracts';
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
        throw new ApiError('invalid_review', 'after this edit chosen and rejected are the same text; a preference pair needs two different responses');
      }
      return { ...next, status: 'accepted' };
    }
  }
}

export { applyReview, exportReview } from '@amend/pipeline';
