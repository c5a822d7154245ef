import { z } from 'zod';

/*
 * RL-CAI (AI feedback), verified revisions, pair flags and the quality report: the contracts the
 * API, the worker and the CLI share. docs/architecture.md#pipeline-modes and docs/ml-teams.md#export-formats.
 */

/** Per-pair quality flags. A flagged pair is kept; the export can leave it out (`exclude=`). */
/**
 * `truncated`: a stage that produced text (draft, critique, revision, candidate) stopped at
 * max_tokens (finish_reason `length`); such pairs are left out of the exports by default.
 */
/** `judges_split`: the judges of a panel (`feedback_models`) did not all prefer the same response of the pair. */
export const PAIR_FLAGS = ['noop', 'rejected_by_judge', 'refusal_drift', 'low_margin', 'truncated', 'judges_split'] as const;
/**
 * What `exclude` is when an export does not say. A cut-off text must not be trained on unasked
 * (`truncated`, every export). In the preference formats a pair whose chosen equals rejected, or
 * nearly (`noop`), teaches nothing (DPO's gradient of two equal texts is zero) and only dilutes a
 * batch; as an SFT target the same revision is still a good answer, so SFT keeps it.
 */
export const DEFAULT_EXCLUDE = { pairs: ['truncated', 'noop'], sft: ['truncated'] } as const satisfies Record<'pairs' | 'sft', readonly PairFlag[]>;
export const PairFlagSchema = z.enum(PAIR_FLAGS);
export type PairFlag = (typeof PAIR_FLAGS)[number];

/**
 * Where a probability came from: the log-probabilities at the answer letter's position, the
 * answered letter alone (`hard`: 1 or 0), the ratings judge's two 1-5 ratings (`ratings`), or
 * nowhere (`unreadable`: no letter or no ratings could be read, e.g. a chain of thought cut off
 * before its final answer, or an answer that is not JSON; p = 0.5, no preference).
 */
export const LABEL_SOURCES = ['logprobs', 'hard', 'unreadable', 'ratings'] as const;
export const LabelSourceSchema = z.enum(LABEL_SOURCES);
export type LabelSource = (typeof LABEL_SOURCES)[number];

export const FEEDBACK_DEFAULTS = { candidates: 2, ensemble: 1, cot: false, verify: false, min_margin: 0 } as const;

/**
 * How the feedback model is asked: `letter` (the CAI paper's multiple choice, read from the
 * letter's log-probabilities) or `ratings` (each response rated 1-5 on the question with a short
 * rationale, as JSON: needs no log-probabilities).
 */
export const JUDGES = ['letter', 'ratings'] as const;
export const JudgeSchema = z.enum(JUDGES);
export type Judge = (typeof JUDGES)[number];
/** The ratings judge's scale, UltraFeedback's: 1 (worst) to 5 (best). */
export const RATING_SCALE = { min: 1, max: 5 } as const;
/** A panel (`feedback_models`) has 2 to this many judges: each one multiplies the comparisons. */
export const MAX_PANEL = 5;
/**
 * 2..4 candidates: every pair of them is compared in both orders, so 4 candidates already cost
 * 12 comparisons per ensemble principle. 16 ensemble principles is what the CAI paper used.
 */
export const MAX_CANDIDATES = 4;
export const MAX_ENSEMBLE = 16;

/** The run options of the feedback model, added to CreateRunSchema (all optional there). */
export const FeedbackRequestFields = {
  /** ai-feedback: responses sampled per prompt (2..4, default 2). */
  candidates: z.number().int().min(2).max(MAX_CANDIDATES).optional(),
  /** ai-feedback or verify: comparison principles averaged per label (default 1). */
  ensemble: z.number().int().min(1).max(MAX_ENSEMBLE).optional(),
  /** ai-feedback or verify: the feedback model reasons before answering; labels clamped to [0.4, 0.6]. */
  cot: z.boolean().optional(),
  /** critique-revise: the feedback model judges draft against final revision (both orders). */
  verify: z.boolean().optional(),
  /** Margin p(chosen) - p(rejected) below which a pair is flagged (low_margin / rejected_by_judge). */
  min_margin: z.number().min(0).max(1).optional(),
  /**
   * ai-feedback or verify: stop the run once more than this share of its judge's labels are
   * `hard` or `unreadable` (the report's `judge.hard_label_share`, over every comparison answered
   * so far), after `hard_label_min_comparisons` of them. Unset: never stop for it.
   */
  max_hard_label_share: z.number().min(0).max(1).optional(),
  /** Comparisons answered before max_hard_label_share applies (default 20): a few bad labels early are noise. */
  hard_label_min_comparisons: z.number().int().min(1).max(1_000_000).optional(),
  /** ai-feedback or verify: `letter` (default) or `ratings` (1-5 ratings as JSON, no log-probabilities needed). */
  judge: JudgeSchema.optional(),
};

/** Comparisons answered before `max_hard_label_share` applies, unless the run says. */
export const HARD_LABEL_MIN_COMPARISONS = 20;

/** The feedback options of a run with every default applied, as stored and as the worker plans with. */
export const FeedbackOptionsSchema = z.object({
  candidates: z.number().int(),
  ensemble: z.number().int(),
  cot: z.boolean(),
  verify: z.boolean(),
  min_margin: z.number(),
  /** Present only on runs that set it (and hard_label_min_comparisons with it, defaulted). */
  max_hard_label_share: z.number().optional(),
  hard_label_min_comparisons: z.number().int().optional(),
  /** Present only on runs that ask for the ratings judge; absent means `letter`. */
  judge: JudgeSchema.optional(),
  /** A panel of judges (`feedback_models`), in the order given; absent with one feedback model. */
  panel: z.array(z.string()).optional(),
});
export type FeedbackOptions = z.infer<typeof FeedbackOptionsSchema>;

type FeedbackRequest = { mode?: string; feedback_model?: string; feedback_models?: string[] } & {
  [K in keyof typeof FeedbackRequestFields]?: z.infer<(typeof FeedbackRequestFields)[K]>;
};

/**
 * Options that the chosen mode would silently ignore are refused instead, so that a typo in the
 * mode never yields a run that is not what was asked for.
 */
export function feedbackOptionProblems(body: FeedbackRequest): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const feedbackMode = body.mode === 'ai-feedback';
  if (!feedbackMode && body.candidates !== undefined) {
    problems.push({ path: 'candidates', message: 'candidates applies to mode "ai-feedback" only' });
  }
  if (feedbackMode && body.verify !== undefined) {
    problems.push({ path: 'verify', message: 'verify applies to mode "critique-revise"; ai-feedback pairs are judged anyway' });
  }
  const judged = feedbackMode || body.verify === true;
  for (const field of ['ensemble', 'cot', 'min_margin', 'max_hard_label_share', 'hard_label_min_comparisons', 'judge', 'feedback_models'] as const) {
    if (!judged && body[field] !== undefined) {
      problems.push({ path: field, message: `${field} applies to mode "ai-feedback" or to "critique-revise" with verify: true` });
    }
  }
  if (body.feedback_models !== undefined && body.feedback_model !== undefined) {
    problems.push({ path: 'feedback_models', message: 'give feedback_model (one judge) or feedback_models (a panel), not both' });
  }
  const seen = new Set<string>();
  body.feedback_models?.forEach((alias, i) => {
    if (seen.has(alias)) problems.push({ path: `feedback_models.${i}`, message: `"${alias}" is already on the panel; each judge is named once` });
    seen.add(alias);
  });
  if (judged && body.judge === 'ratings' && body.cot === true) {
    problems.push({ path: 'cot', message: 'cot applies to the letter judge; the ratings judge writes its rationale in its JSON' });
  }
  if (judged && body.hard_label_min_comparisons !== undefined && body.max_hard_label_share === undefined) {
    problems.push({ path: 'hard_label_min_comparisons', message: 'hard_label_min_comparisons applies with max_hard_label_share only' });
  }
  return problems;
}

/** The options a request resolves to. */
export function resolveFeedbackOptions(body: FeedbackRequest): FeedbackOptions {
  return {
    candidates: body.candidates ?? FEEDBACK_DEFAULTS.candidates,
    ensemble: body.ensemble ?? FEEDBACK_DEFAULTS.ensemble,
    cot: body.cot ?? FEEDBACK_DEFAULTS.cot,
    verify: body.verify ?? FEEDBACK_DEFAULTS.verify,
    min_margin: body.min_margin ?? FEEDBACK_DEFAULTS.min_margin,
    ...(body.max_hard_label_share !== undefined && {
      max_hard_label_share: body.max_hard_label_share,
      hard_label_min_comparisons: body.hard_label_min_comparisons ?? HARD_LABEL_MIN_COMPARISONS,
    }),
    ...(body.judge === 'ratings' && { judge: 'ratings' as const }),
    ...(body.feedback_models !== undefined && { panel: [...body.feedback_models] }),
  };
}

/**
 * Why a run stopped before its samples finished, other than a cancel: `judge_labels` when too
 * many of its judge's labels were hard or unreadable (max_hard_label_share). Shown on the run
 * and in its report; the samples it stopped are `cancelled` with the same message.
 */
export const RunStopSchema = z.object({
  code: z.enum(['judge_labels']),
  message: z.string(),
  comparisons: z.number().int(),
  hard_labels: z.number().int(),
  unreadable_labels: z.number().int(),
  hard_label_share: z.number(),
  max_hard_label_share: z.number(),
  samples_stopped: z.number().int(),
  at: z.string(),
});
export type RunStop = z.infer<typeof RunStopSchema>;

/** The judge's labels of a run so far: comparisons answered, and how many were hard or unreadable. */
export interface JudgeLabelCounts {
  comparisons: number;
  hard: number;
  unreadable: number;
}

/** The stop a run's label counts call for under its options, or null (too few comparisons yet, or within the limit). */
export function judgeLabelStop(
  options: Pick<FeedbackOptions, 'max_hard_label_share' | 'hard_label_min_comparisons'> | null | undefined,
  counts: JudgeLabelCounts,
): Omit<RunStop, 'samples_stopped' | 'at'> | null {
  const max = options?.max_hard_label_share;
  if (max === undefined) return null;
  const min = options?.hard_label_min_comparisons ?? HARD_LABEL_MIN_COMPARISONS;
  if (counts.comparisons < min) return null;
  const share = (counts.hard + counts.unreadable) / counts.comparisons;
  if (share <= max) return null;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return {
    code: 'judge_labels',
    message:
      `stopped: ${counts.hard + counts.unreadable} of the judge's ${counts.comparisons} labels were hard or unreadable ` +
      `(${counts.hard} hard, ${counts.unreadable} unreadable: ${pct(share)}), more than max_hard_label_share ${pct(max)}; ` +
      'check that the feedback model returns log-probabilities and answers with a letter (AMEND_MODELS judge_answer)',
    comparisons: counts.comparisons,
    hard_labels: counts.hard,
    unreadable_labels: counts.unreadable,
    hard_label_share: Math.round(share * 1e4) / 1e4,
    max_hard_label_share: max,
  };
}

export const TopLogprobSchema = z.object({ token: z.string(), logprob: z.number() });
export type TopLogprob = z.infer<typeof TopLogprobSchema>;

/** What one comparison call found, kept on its stage record. */
export const ComparisonJudgementSchema = z.object({
  /** What was shown as (A) and as (B): `candidate-1`..`candidate-4`, `draft` or `revision`. */
  options: z.tuple([z.string(), z.string()]),
  /** P(A) / (P(A) + P(B)), clamped to [0.4, 0.6] with chain-of-thought. */
  p_a: z.number().min(0).max(1),
  label_source: LabelSourceSchema,
  /** The letter the model answered, null when it answered neither. */
  answer: z.enum(['A', 'B']).nullable(),
  /** The answer position's most likely tokens, as the backend returned them; null without log-probabilities. */
  top_logprobs: z.array(TopLogprobSchema).nullable(),
  /**
   * How the letter was obtained: read from free text (`text`), after the assistant's reply was
   * prefilled with "The answer is: (" (`prefill`), or constrained to A/B (`guided_choice`); the
   * ratings judge's JSON through the backend's structured output (`json_schema`) or as text (`text`).
   */
  answer_mode: z.enum(['text', 'prefill', 'guided_choice', 'json_schema']).optional(),
  /** Index of the answer letter's token among the returned positions; null without log-probabilities. */
  answer_position: z.number().int().nullable().optional(),
  /** Panels: the alias of the judge that answered. Absent with one feedback model. */
  judge: z.string().optional(),
  /**
   * The ratings judge: each option's 1-5 rating on the question and its rationale, as the model
   * answered them; absent when the answer could not be read (`unreadable`). p_a is then
   * 0.5 + (a - b) / 8, so the letter judge's maths (both orders, margins, the report) reads it.
   */
  ratings: z
    .object({
      a: z.number().int().min(RATING_SCALE.min).max(RATING_SCALE.max),
      b: z.number().int().min(RATING_SCALE.min).max(RATING_SCALE.max),
      rationale_a: z.string(),
      rationale_b: z.string(),
    })
    .optional(),
  /** The ratings judge: the answer parsed only after one repair (code fence, text around the object, trailing commas). */
  repaired: z.boolean().optional(),
});
export type ComparisonJudgement = z.infer<typeof ComparisonJudgementSchema>;

/** The judgement behind a pair (ai-feedback, or a verified critique-revise pair). */
export const PairJudgementSchema = z.object({
  /** Probability that chosen is the better response: both orders and every ensemble principle averaged. */
  p_chosen: z.number().min(0).max(1),
  /** `hard` when any comparison of chosen against rejected had no log-probabilities at its letter, `unreadable` when any had no letter. */
  label_source: LabelSourceSchema,
  kind: z.enum(['ai-feedback', 'verify']),
  /** The comparison principles (the ensemble), in draw order. */
  principle_ids: z.array(z.string()),
  /** P(chosen better) with chosen shown as (A), and shown as (B), each averaged over the ensemble. */
  orders: z.object({ chosen_first: z.number(), chosen_second: z.number() }),
  /** p_chosen - p_rejected = 2 p_chosen - 1. */
  margin: z.number(),
  chain_of_thought: z.boolean(),
  /** Every comparison of chosen against rejected, as asked. */
  comparisons: z.array(
    z.object({
      principle_id: z.string(),
      a: z.string(),
      b: z.string(),
      p_a: z.number(),
      label_source: LabelSourceSchema,
      /** Panels: the judge's alias. */
      judge: z.string().optional(),
      /** The ratings judge: (A)'s and (B)'s ratings on this principle, and the rationales. */
      ratings: z.object({ a: z.number(), b: z.number(), rationale_a: z.string(), rationale_b: z.string() }).optional(),
    }),
  ),
  /** The ratings judge: chosen's and rejected's mean 1-5 ratings over every comparison each was in (score_chosen, score_rejected). */
  mean_ratings: z.object({ chosen: z.number(), rejected: z.number() }).optional(),
  /**
   * Panels: each judge's own label of chosen over rejected, by alias. The panel's p_chosen is their
   * mean, or (when any of them is hard) the share of judges that prefer chosen, a tie counting half.
   */
  judges: z
    .record(
      z.string(),
      z.object({
        p_chosen: z.number(),
        label_source: LabelSourceSchema,
        prefers: z.enum(['chosen', 'rejected', 'tie']),
        mean_ratings: z.object({ chosen: z.number(), rejected: z.number() }).optional(),
      }),
    )
    .optional(),
  /** Panels: true when the judges did not all prefer the same response (the pair is flagged `judges_split`). */
  split: z.boolean().optional(),
});
export type PairJudgement = z.infer<typeof PairJudgementSchema>;

/**
 * What the quality report needs of one pair, computed once by the worker as it emits the pair and
 * stored beside it (`pairs.quality`): a report reads these few fields and the pair's flags (its
 * no-op flag holds the edit-distance verdict), never the texts, so it never recomputes an edit
 * distance over long outputs.
 */
export const PairQualitySchema = z.object({
  chosen_chars: z.number().int().nonnegative(),
  rejected_chars: z.number().int().nonnegative(),
  chosen_refuses: z.boolean(),
  rejected_refuses: z.boolean(),
  /** The judgement's p_chosen; null without a judge. */
  p_chosen: z.number().min(0).max(1).nullable(),
  /** The principles the pair used (revision rounds, or the ai-feedback ensemble). */
  principle_ids: z.array(z.string()),
  /** The judgement's comparisons of chosen against rejected, as asked. */
  comparisons: PairJudgementSchema.shape.comparisons,
  /** Panels: each judge's p_chosen, by alias (the report's inter-judge agreement). */
  judges: z.record(z.string(), z.number()).optional(),
});
export type PairQuality = z.infer<typeof PairQualitySchema>;

/** `exclude=noop,rejected_by_judge` on the pairs export. */
export const ExcludeFlagsSchema = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(PAIR_FLAGS, { error: `each excluded flag is one of ${PAIR_FLAGS.join(', ')}` })));

const rate = z.number().min(0).max(1).nullable();

/** Quality figures of a set of pairs (one principle's, or the whole run's). */
export const QualityFiguresSchema = z.object({
  pairs: z.number().int(),
  /** Share of pairs whose chosen and rejected texts are equal or nearly (normalised edit distance). */
  noop_share: rate,
  /** Mean characters of chosen over mean characters of rejected. */
  length_ratio: z.number().nullable(),
  refusal_rate_chosen: rate,
  refusal_rate_rejected: rate,
  /** Pairs where chosen refuses a benign prompt that rejected answered helpfully. */
  refusal_drift: z.number().int(),
  refusal_drift_share: rate,
  flags: z.record(z.string(), z.number().int()),
  judge: z.object({
    /** Comparisons (each order counts once). */
    comparisons: z.number().int(),
    /** Pairs of orders (X as A, then X as B) that picked the same winner, over all such pairs. */
    order_agreement: rate,
    /** Share of comparisons where (A) won, whatever was shown as (A): 0.5 is unbiased. */
    a_wins: rate,
    /** Mean P(A) - 0.5 over comparisons: how far the label leans to the first option. */
    position_bias: z.number().nullable(),
    /** Comparisons labelled from the answered letter alone (no log-probabilities at the letter). */
    hard_labels: z.number().int(),
    /** Comparisons whose answer letter could not be read (p = 0.5): no label at all. */
    unreadable_labels: z.number().int(),
    /** (hard + unreadable) / comparisons: the share of labels that are not soft. */
    hard_label_share: rate,
    /** Mean p(chosen) of judged pairs. */
    mean_p_chosen: z.number().nullable(),
  }),
});
export type QualityFigures = z.infer<typeof QualityFiguresSchema>;

export const QualityReportSchema = z.object({
  run_id: z.string().uuid(),
  mode: z.string(),
  status: z.string(),
  overall: QualityFiguresSchema,
  /** A pair counts under every principle it used (revision rounds, ensemble), so counts may add to more than overall. */
  principles: z.record(z.string(), QualityFiguresSchema),
  thresholds: z.object({ noop_edit_distance: z.number(), min_margin: z.number() }),
  /** Why the run stopped early (too many hard or unreadable judge labels); absent when it did not. */
  stopped: RunStopSchema.optional(),
  /** Runs with a panel of judges (`feedback_models`): how far they agree. */
  panel: z
    .object({
      judges: z.array(z.string()),
      /** Pairs every judge labelled. */
      pairs: z.number().int(),
      /**
       * Krippendorff's alpha over the judges' preferences (chosen, rejected or tie per pair, nominal):
       * 1 is full agreement, 0 what chance gives, below 0 systematic disagreement; null when undefined (no pairs, or one value throughout).
       */
      alpha: z.number().nullable(),
      /** Per judge: the share of pairs where it prefers what the panel chose (chosen), a tie counting as no agreement. */
      agreement: z.record(z.string(), z.number().nullable()),
      /** Pairs flagged judges_split. */
      split: z.number().int(),
    })
    .optional(),
});
export type QualityReport = z.infer<typeof QualityReportSchema>;
