import { z } from 'zod';
import { ChatMessageSchema, UsageSchema } from './chat';
import { ConstitutionRefSchema } from './runs';
import { ExcludeFlagsSchema, PAIR_FLAGS, PairFlagSchema, PairJudgementSchema } from './feedback';
import { ConsensusReviewSchema, ExportReviewSchema } from './review-fields';

export const PAIR_FORMATS = ['conversational', 'standard', 'h4'] as const;
export type PairFormat = (typeof PAIR_FORMATS)[number];

export const RoundSchema = z.object({
  round: z.number().int(),
  principle_id: z.string(),
  critique_request: z.string(),
  critique: z.string(),
  revision_request: z.string(),
  revision: z.string(),
});

/** What every exported line carries besides the training fields. */
export const PairMetadataSchema = z.object({
  mode: z.string(),
  constitution: ConstitutionRefSchema,
  principle_ids: z.array(z.string()),
  /** `judges`: a panel's model ids as their backends reported them, by alias. */
  models: z.object({ policy: z.string(), feedback: z.string().nullable(), judges: z.record(z.string(), z.string()).optional() }),
  /** The feedback model's judgement (ai-feedback, or critique-revise with verify); null otherwise. */
  judgement: PairJudgementSchema.nullable(),
  /**
   * UltraFeedback-style scores, judged pairs only: P(better) of chosen and of rejected from the letter
   * judge; with the ratings judge, their mean ratings on UltraFeedback's 1-5 scale.
   */
  score_chosen: z.number().optional(),
  score_rejected: z.number().optional(),
  /** The pair's quality flags; absent when it has none. */
  flags: z.array(PairFlagSchema).optional(),
  usage: UsageSchema.extend({ calls: z.number().int() }),
  simulated: z.boolean(),
  seed: z.number().int(),
  sample_index: z.number().int(),
  /** The prompt's `id` as handed in (REST, JSON Lines or a CLI file); null when it had none. */
  external_id: z.string().nullable(),
  /**
   * The prompt's `metadata` as handed in (provenance, split tags...), unchanged; null when it had
   * none. Absent only on pairs written before it was carried.
   */
  prompt_metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type PairMetadata = z.infer<typeof PairMetadataSchema>;

/** The pair as stored: every export format is a projection of it. */
export const PairRecordSchema = z.object({
  id: z.string().uuid(),
  run_id: z.string().uuid(),
  sample_id: z.string().uuid(),
  /** The user's (last) turn. */
  prompt: z.string(),
  /** Multi-turn prompts: the whole conversation, ending with the user turn that `prompt` is. Absent for a single-turn prompt. */
  prompt_messages: z.array(ChatMessageSchema).optional(),
  draft: z.string(),
  chosen: z.string(),
  rejected: z.string(),
  rounds: z.array(RoundSchema),
  reason: z.string(),
  category: z.array(z.string()),
  metadata: PairMetadataSchema,
  /** ai-feedback: every candidate response, in sampling order. */
  candidates: z.array(z.string()).optional(),
});
export type PairRecord = z.infer<typeof PairRecordSchema>;

const common = {
  id: z.string().uuid(),
  run_id: z.string().uuid(),
  sample_id: z.string().uuid(),
  /** The prompt's position in the run's request (what seeds are keyed by). */
  sample_index: z.number().int(),
  /** Judged pairs: P(better) of chosen and of rejected (UltraFeedback-style), and score_chosen - score_rejected (TRL's reward `margin`). */
  score_chosen: z.number().optional(),
  score_rejected: z.number().optional(),
  margin: z.number().optional(),
  reason: z.string(),
  category: z.array(z.string()),
  metadata: PairMetadataSchema,
  /**
   * The latest human review, or with `consensus=majority` the reviewers' majority decision; absent
   * when nobody reviewed the pair. Swaps and edits are applied to chosen/rejected.
   */
  review: z.union([ExportReviewSchema, ConsensusReviewSchema]).optional(),
};

/** TRL conversational preference format. */
export const ConversationalPairLineSchema = z.strictObject({
  prompt: z.array(ChatMessageSchema).min(1),
  chosen: z.array(ChatMessageSchema).length(1),
  rejected: z.array(ChatMessageSchema).length(1),
  ...common,
});
/**
 * TRL standard preference format (plain strings). TRL tokenizes prompt and chosen apart and
 * concatenates the token ids with nothing between them, so the strings are written to join:
 * the prompt is the Anthropic HH transcript "\n\nHuman: ...\n\nAssistant:" and chosen/rejected
 * start with a space (prompt + chosen is an HH-RLHF line).
 */
export const StandardPairLineSchema = z.strictObject({
  prompt: z.string(),
  chosen: z.string(),
  rejected: z.string(),
  ...common,
});
/** The fields of HuggingFaceH4/cai-conversation-harmless. */
export const H4PairLineSchema = z.strictObject({
  init_prompt: z.string(),
  init_response: z.string(),
  critic_prompt: z.string(),
  critic_response: z.string(),
  revision_prompt: z.string(),
  revision_response: z.string(),
  prompt: z.string(),
  messages: z.array(ChatMessageSchema),
  chosen: z.array(ChatMessageSchema),
  rejected: z.array(ChatMessageSchema),
  ...common,
});
/** SFT record: the prompt (conversation) and the final revision as its last assistant turn. */
export const SftLineSchema = z.strictObject({
  messages: z.array(ChatMessageSchema).min(2),
  id: z.string().uuid(),
  run_id: z.string().uuid(),
  sample_id: z.string().uuid(),
  sample_index: z.number().int(),
  metadata: PairMetadataSchema,
  review: z.union([ExportReviewSchema, ConsensusReviewSchema]).optional(),
});

const reviewedField = z.enum(['accepted'], { error: 'reviewed takes "accepted" (only pairs a reviewer accepted, swapped or edited)' }).optional();

/** The consensus of several reviewers (docs/ml-teams.md#consensus-export), shared by the pairs and SFT exports. */
const consensusFields = {
  /** `majority`: each pair as its reviewers' majority decided; ties, rejected and unreviewed pairs are left out and counted. */
  consensus: z.enum(['majority'], { error: 'consensus takes "majority"' }).optional(),
  /** With consensus: leave out pairs whose majority share of the reviews is below this (0 to 1). */
  min_agreement: z.coerce.number().min(0, 'min_agreement is a share, 0 to 1').max(1, 'min_agreement is a share, 0 to 1').optional(),
};

function consensusProblems(q: { consensus?: string; min_agreement?: number; reviewed?: string }, ctx: z.RefinementCtx) {
  if (q.min_agreement !== undefined && q.consensus === undefined) {
    ctx.addIssue({ code: 'custom', path: ['min_agreement'], message: 'min_agreement filters a consensus export: add consensus=majority' });
  }
  if (q.consensus !== undefined && q.reviewed !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['reviewed'], message: 'reviewed=accepted and consensus=majority are two ways to pick pairs; give one of them' });
  }
}

export const PairsQuerySchema = z
  .strictObject({
    format: z.enum(PAIR_FORMATS).default('conversational'),
    /** `accepted`: only pairs a reviewer accepted, swapped or edited (the reviewed preference records). */
    reviewed: reviewedField,
    /**
     * Leave out pairs carrying any of these flags, e.g. `noop,rejected_by_judge,refusal_drift`.
     * Default `truncated,noop` (DEFAULT_EXCLUDE.pairs); `exclude=` (empty) keeps every pair.
     */
    exclude: ExcludeFlagsSchema.optional(),
    ...consensusFields,
  })
  .superRefine(consensusProblems);

/** `GET /v1/runs/{id}/sft`: the same filters as the pairs export; `exclude` defaults to `truncated` (DEFAULT_EXCLUDE.sft). */
export const SftQuerySchema = z
  .strictObject({
    reviewed: reviewedField,
    exclude: ExcludeFlagsSchema.optional(),
    ...consensusFields,
  })
  .superRefine(consensusProblems);
export type PairsQuery = z.infer<typeof PairsQuerySchema>;
export type SftQuery = z.infer<typeof SftQuerySchema>;

/**
 * Why an export leaves a pair out, as its `Amend-Excluded` header says before the stream: erased
 * (always), a flag `exclude` names, a reviewer's rejection (SFT), or no acceptance
 * (`reviewed=accepted`). Each pair left out is counted once, under the first reason here that
 * applies, so the counts add up to the pairs left out. libs/store pair-lines.ts counts them.
 */
export const EXCLUDED_REASONS = [
  'erased',
  'truncated',
  ...PAIR_FLAGS.filter((f): f is Exclude<typeof f, 'truncated'> => f !== 'truncated'),
  'rejected_by_reviewer',
  'not_accepted',
] as const;
export type ExcludedReason = (typeof EXCLUDED_REASONS)[number];
export const EXCLUDED_HEADER = 'Amend-Excluded';

/** `truncated=3,noop=2` in EXCLUDED_REASONS order, reasons with no pair left out; `none` when nothing was. */
export function formatExcluded(counts: Partial<Record<string, number>>): string {
  const known: readonly string[] = EXCLUDED_REASONS;
  const order = [...known, ...Object.keys(counts).filter((k) => !known.includes(k))];
  const parts = order.filter((why) => (counts[why] ?? 0) > 0).map((why) => `${why}=${counts[why]}`);
  return parts.length ? parts.join(',') : 'none';
}

/** The header back as counts (a reason this client does not know is kept as it is); null when the server sent none. */
export function parseExcluded(header: string | null | undefined): Record<string, number> | null {
  if (header === null || header === undefined) return null;
  const out: Record<string, number> = {};
  for (const part of header.split(',')) {
    const m = /^\s*([a-z_]+)=(\d+)\s*$/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
