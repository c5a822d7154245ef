import { z } from 'zod';
import { indexCursor } from './bounds';
import { PairRecordSchema } from './pairs';
import { REVIEW_DECISIONS, REVIEW_STATUSES } from './review-fields';

/** REST payloads of human review (`/v1/pairs/{id}/review`, `/v1/runs/{id}/reviews`). */

const text = z.string().refine((s) => s.trim().length > 0, { message: 'the text is empty' });

export const ReviewRequestSchema = z
  .strictObject({
    decision: z.enum(REVIEW_DECISIONS),
    /** Why: stored with the review and in the audit trail. */
    reason: z.string().trim().min(1, 'give a reason; it is stored with the review and audited').max(4000),
    /** Free text kept with the review (who else looked, a ticket). The reviewer is always the key that sends the review. */
    note: z.string().trim().min(1).max(2000).optional(),
    /** Deprecated: taken as `note`. A body no longer names its reviewer. */
    reviewer: z.string().trim().min(1).max(200).optional(),
    /** `edit` only: the new chosen and/or rejected text. */
    chosen: text.optional(),
    rejected: text.optional(),
    /**
     * The review the reviewer was looking at (null: none yet). When given and the pair has been
     * reviewed since, the request is refused (409) instead of overwriting a review unseen.
     */
    base_review_id: z.string().uuid().nullable().optional(),
  })
  .superRefine((body, ctx) => {
    if (body.decision === 'edit' && body.chosen === undefined && body.rejected === undefined) {
      ctx.addIssue({ code: 'custom', path: ['chosen'], message: 'an edit needs the new chosen or rejected text' });
    }
    if (body.decision !== 'edit') {
      for (const field of ['chosen', 'rejected'] as const) {
        if (body[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is only taken with decision "edit"` });
      }
    }
  });
export type ReviewRequest = z.infer<typeof ReviewRequestSchema>;

/** One review, as stored: the pair's texts after it, who, why and when. */
export const PairReviewSchema = z.object({
  id: z.string().uuid(),
  pair_id: z.string().uuid(),
  run_id: z.string().uuid(),
  sample_id: z.string().uuid(),
  decision: z.enum(REVIEW_DECISIONS),
  status: z.enum(REVIEW_STATUSES),
  /** The key that reviewed: its name, or `key:<id>` for a key without one. */
  reviewer: z.string(),
  /** The id of that key (null for reviews stored before keys were named here). */
  reviewer_key_id: z.string().uuid().nullable().optional(),
  /** The key that made the request (`key:<id>`). */
  actor: z.string(),
  /** Free text from the review request (`note`). */
  note: z.string().nullable().optional(),
  reason: z.string(),
  chosen: z.string(),
  rejected: z.string(),
  created_at: z.string(),
});
export type PairReview = z.infer<typeof PairReviewSchema>;

/** A pair as the worker made it, and its latest review (null if none). */
export const ReviewedPairSchema = z.object({ pair: PairRecordSchema, review: PairReviewSchema.nullable() });
export type ReviewedPair = z.infer<typeof ReviewedPairSchema>;

export const PairReviewDetailSchema = ReviewedPairSchema.extend({
  /** Every review of the pair, oldest first. */
  history: z.array(PairReviewSchema),
});
export type PairReviewDetail = z.infer<typeof PairReviewDetailSchema>;

export const REVIEW_FILTERS = ['unreviewed', ...REVIEW_STATUSES] as const;

export const ListReviewsQuerySchema = z.strictObject({
  status: z.enum(REVIEW_FILTERS).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** The `next_cursor` of the previous page (a pair's sample index). */
  cursor: indexCursor().optional(),
});

export const ReviewCountsSchema = z.object({
  pairs: z.number().int(),
  unreviewed: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
});

export const ReviewListSchema = z.object({
  items: z.array(ReviewedPairSchema),
  next_cursor: z.number().int().nullable(),
  counts: ReviewCountsSchema,
});
export type ReviewList = z.infer<typeof ReviewListSchema>;
