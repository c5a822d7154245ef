import type { ConsensusReview, PairRecord, PairReview, ReviewDecision } from '@amend/contracts';
import { applyReview, unitMajority } from '@amend/pipeline';
import type { ReviewerDecisionRow } from '@amend/store';

/** Why a consensus export leaves a pair out (the `Amend-Excluded` header's names). */
export type ConsensusLeftOut = 'tie' | 'rejected' | 'unreviewed' | 'low_agreement';

/** What a consensus export does with one pair: keep it with its consensus (and, for an edit, the edit to apply), or leave it out. */
export type ConsensusPlan = { keep: true; review: ConsensusReview; editReviewId?: string } | { keep: false; why: ConsensusLeftOut };

/**
 * The majority decision of a pair's reviewers, for a consensus export (docs/ml-teams.md#consensus-export):
 * each key's latest decision counts once; a tie for the most, a majority reject, no review at all
 * or a majority share under `minAgreement` leave the pair out. An edit majority takes the texts of
 * the latest edit among them.
 */
export function consensusOf(decisions: readonly ReviewerDecisionRow[], perPair: number, minAgreement: number | undefined): ConsensusPlan {
  if (decisions.length === 0) return { keep: false, why: 'unreviewed' };
  const m = unitMajority(decisions.map((d) => d.decision));
  if (m.tie || m.decision === null) return { keep: false, why: 'tie' };
  const decision = m.decision as ReviewDecision;
  if (decision === 'reject') return { keep: false, why: 'rejected' };
  if (minAgreement !== undefined && m.agreement < minAgreement) return { keep: false, why: 'low_agreement' };
  const review: ConsensusReview = {
    consensus: 'majority',
    decision,
    status: 'accepted',
    reviews: m.reviews,
    per_pair: perPair,
    agreement: m.agreement,
    counts: m.counts as ConsensusReview['counts'],
    review_ids: decisions.map((d) => d.review_id),
  };
  if (decision !== 'edit') return { keep: true, review };
  const latestEdit = decisions.filter((d) => d.decision === 'edit').reduce((a, b) => (BigInt(b.seq) > BigInt(a.seq) ? b : a));
  return { keep: true, review, editReviewId: latestEdit.review_id };
}

/** The pair as the consensus leaves it: swapped for a swap, the edit's texts for an edit, as it is for an accept. */
export function applyConsensus(pair: PairRecord, plan: Extract<ConsensusPlan, { keep: true }>, edit: PairReview | undefined): PairRecord {
  switch (plan.review.decision) {
    case 'swap':
      return applyReview(pair, { chosen: pair.rejected, rejected: pair.chosen } as PairReview);
    case 'edit':
      return edit ? applyReview(pair, edit) : pair;
    default:
      return pair;
  }
}
