import { z } from 'zod';
import { PairRecordSchema } from './pairs';
import { REVIEW_DECISIONS } from './review-fields';

/**
 * REST payloads of review by several reviewers (docs/ml-teams.md#review-by-several-reviewers):
 * the review queue, the review policy and the agreement figures.
 */

/** `GET /v1/runs/{id}/review-queue/next`: the pair to review and the caller's lease on one of its slots. */
export const QueuedPairSchema = z.object({
  pair: PairRecordSchema,
  lease: z.object({
    /** Until then the slot is the caller's; after it, another reviewer may take it (AMEND_REVIEW_LEASE_MS). */
    expires_at: z.string(),
    lease_ms: z.number().int(),
  }),
  /** Different keys that reviewed the pair so far, and how many it needs. */
  reviews: z.number().int(),
  per_pair: z.number().int(),
});
export type QueuedPair = z.infer<typeof QueuedPairSchema>;

/** `PUT /v1/runs/{id}/review-policy`: the policy now in force and the one before (null: none was set). */
export const ReviewPolicyAnswerSchema = z.object({
  run_id: z.string().uuid(),
  per_pair: z.number().int(),
  previous_per_pair: z.number().int().nullable(),
});

/** `GET /v1/runs/{id}/review-queue`: how far a run's reviews are, and each reviewer's share. */
export const ReviewProgressSchema = z.object({
  run_id: z.string().uuid(),
  per_pair: z.number().int(),
  /** False when the run never set a policy (each pair then needs one review). */
  policy_set: z.boolean(),
  pairs: z.number().int(),
  complete: z.number().int(),
  partial: z.number().int(),
  unreviewed: z.number().int(),
  reviews_done: z.number().int(),
  reviews_needed: z.number().int(),
  leased: z.number().int(),
  reviewers: z.array(
    z.object({
      reviewer: z.string(),
      reviewer_key_id: z.string().nullable(),
      reviewed: z.number().int(),
      leased: z.number().int(),
    }),
  ),
});
export type ReviewProgress = z.infer<typeof ReviewProgressSchema>;

const decision = z.enum(REVIEW_DECISIONS);
const share = z.number().min(0).max(1);

/** One reviewer's decision on a pair, as the agreement figures count it (its latest review of the pair). */
export const ReviewerDecisionSchema = z.object({
  reviewer: z.string(),
  reviewer_key_id: z.string().nullable(),
  decision,
  reason: z.string(),
  review_id: z.string().uuid(),
});

export const PairAgreementSchema = z.object({
  pair_id: z.string().uuid(),
  sample_index: z.number().int(),
  reviews: z.number().int(),
  /** The majority decision; null on a tie for the most. */
  decision: decision.nullable(),
  /** The share of the pair's reviews that are its most frequent decision (1: all agree). */
  agreement: share,
  tie: z.boolean(),
  counts: z.partialRecord(decision, z.number().int()),
});

/** `GET /v1/runs/{id}/agreement` (docs/ml-teams.md#agreement). Figures are null where they are undefined (too few reviews, one category only). */
export const AgreementSchema = z.object({
  run_id: z.string().uuid(),
  per_pair: z.number().int(),
  categories: z.array(decision),
  /** Pairs with at least one review, and with two or more (the pairable ones every figure is computed over). */
  reviewed_pairs: z.number().int(),
  pairable_pairs: z.number().int(),
  reviews: z.number().int(),
  /** Krippendorff's alpha, nominal, over the decisions of every pairable pair. */
  krippendorff_alpha: z.number().nullable(),
  /** The share of pairs of reviewers, within a pair, that made the same decision. */
  raw_agreement: share.nullable(),
  /** Cohen's kappa of each two reviewers over the pairs both reviewed. */
  cohen_kappa: z.array(
    z.object({
      a: z.string(),
      a_key_id: z.string().nullable(),
      b: z.string(),
      b_key_id: z.string().nullable(),
      pairs: z.number().int(),
      agreement: share.nullable(),
      kappa: z.number().nullable(),
    }),
  ),
  reviewers: z.array(
    z.object({
      reviewer: z.string(),
      reviewer_key_id: z.string().nullable(),
      reviews: z.number().int(),
      /**
       * Judged runs only (ai-feedback, or verify): how often the reviewer preferred the response the
       * judge preferred. accept and edit prefer chosen, swap prefers rejected; a reject, and a pair the
       * judge had no preference on (p_chosen 0.5), are not compared. Null on a run without a judge.
       */
      judge: z.object({ compared: z.number().int(), agreed: z.number().int(), agreement: share.nullable() }).nullable(),
    }),
  ),
  /** Whether the run has an AI judge to compare with. */
  judged: z.boolean(),
  pairs: z.array(PairAgreementSchema),
  /** Pairs whose reviewers did not all decide alike: each decision and its reason, side by side. */
  disagreements: z.array(
    z.object({
      pair_id: z.string().uuid(),
      sample_index: z.number().int(),
      decision: decision.nullable(),
      tie: z.boolean(),
      reviews: z.array(ReviewerDecisionSchema),
    }),
  ),
});
export type Agreement = z.infer<typeof AgreementSchema>;
