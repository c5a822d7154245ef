import { z } from 'zod';

/**
 * Human review of a pair (the reviewed preference record): a reviewer accepts, rejects, swaps
 * chosen and rejected, or edits a text, and says why. Kept apart from reviews.ts so that the
 * export line schemas (pairs.ts) can carry these fields without an import cycle.
 */
export const REVIEW_DECISIONS = ['accept', 'reject', 'swap', 'edit'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

/** What a decision leaves the pair as: swap and edit keep it, with the reviewer's texts. */
export const REVIEW_STATUSES = ['accepted', 'rejected'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

/** The review fields of an exported line; absent on a pair nobody reviewed. */
export const ExportReviewSchema = z.object({
  status: z.enum(REVIEW_STATUSES),
  decision: z.enum(REVIEW_DECISIONS),
  /** The key that reviewed (its name, or `key:<id>`), and its id. */
  reviewer: z.string(),
  reviewer_key_id: z.string().uuid().nullable().optional(),
  reason: z.string(),
  /** The reviewer's free text, when given. */
  note: z.string().nullable().optional(),
  reviewed_at: z.string(),
  review_id: z.string().uuid(),
});
export type ExportReview = z.infer<typeof ExportReviewSchema>;

/** The most reviews a run may ask for per pair. */
export const MAX_REVIEWS_PER_PAIR = 100;

/**
 * A run's review policy (docs/ml-teams.md#review-by-several-reviewers): how many different keys
 * review each pair. `"review": {"per_pair": N}` on POST /v1/runs, or PUT /v1/runs/{id}/review-policy later.
 */
export const ReviewPolicySchema = z.strictObject({
  per_pair: z
    .number()
    .int('per_pair is a whole number of reviews')
    .min(1, 'per_pair is at least 1')
    .max(MAX_REVIEWS_PER_PAIR, `per_pair is at most ${MAX_REVIEWS_PER_PAIR}`),
});
export type ReviewPolicy = z.infer<typeof ReviewPolicySchema>;

/**
 * The review fields of a line of a consensus export (`consensus=majority`): the majority decision
 * of the pair's reviewers and how far they agreed (docs/ml-teams.md#consensus-export).
 */
export const ConsensusReviewSchema = z.object({
  consensus: z.literal('majority'),
  decision: z.enum(REVIEW_DECISIONS),
  status: z.enum(REVIEW_STATUSES),
  /** Different keys that reviewed the pair, and how many the run's policy asks for. */
  reviews: z.number().int(),
  per_pair: z.number().int(),
  /** The share of the reviews that are the majority decision. */
  agreement: z.number().min(0).max(1),
  counts: z.partialRecord(z.enum(REVIEW_DECISIONS), z.number().int()),
  /** Each reviewer's latest review of the pair, by id. */
  review_ids: z.array(z.string().uuid()),
});
export type ConsensusReview = z.infer<typeof ConsensusReviewSchema>;
