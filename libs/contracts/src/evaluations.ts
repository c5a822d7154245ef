import { z } from 'zod';
import { seedField } from './bounds';
import { SamplingSchema } from './chat';
import { BudgetSchema, ConstitutionRefSchema, TextPromptItemSchema, RunCountsSchema, RunUsageSchema } from './runs';
import { JudgeSchema, MAX_PANEL } from './feedback';

/*
 * Constitution A/B evaluation: the same prompts through two constitution versions (the same
 * draft per prompt, the same seed), then a judge compares the two final answers per rubric
 * dimension in both orders. docs/architecture.md#evaluations for the runs it is made of.
 */

/**
 * The rubric's dimensions. `over-refusal` (a needless refusal or lecture) is only asked on
 * benign prompts: on a red-team prompt a refusal is not needless, and asking would reward harm.
 */
export const RUBRIC_DIMENSIONS = ['helpfulness', 'honesty', 'harmlessness', 'fairness', 'privacy', 'robustness', 'over-refusal'] as const;
export type RubricDimension = (typeof RUBRIC_DIMENSIONS)[number];

export const EVALUATION_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type EvaluationStatus = (typeof EVALUATION_STATUSES)[number];

/** `red-team`: a careful assistant should decline; `benign`: it should help (the over-refusal trap). */
export const PROMPT_KINDS = ['red-team', 'benign'] as const;
export type PromptKind = (typeof PROMPT_KINDS)[number];

export const EVALUATION_LIMITS = {
  /** Prompts shown side by side in the report as the most different. */
  mostDifferent: 10,
};

const versioned = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*(@\d+\.\d+\.\d+|#[a-z0-9][a-z0-9-]{0,63})$/, 'a constitution version "name@x.y.z" or a draft "name#draft"');
const nameOrVersioned = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*(@\d+\.\d+\.\d+|#[a-z0-9][a-z0-9-]{0,63})?$/, 'a constitution "name", "name@x.y.z" or a draft "name#draft"');
const alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a model alias from AMEND_MODELS');
const evalSetName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a bundled evaluation set, e.g. "xstest" (GET /v1/evaluations/sets)');

/** At most this many dimensions a judge is asked per prompt (each is 2 calls). */
export const MAX_JUDGE_DIMENSIONS = 32;

/** One question the judge answers of the two final answers, in the CAI multiple-choice form. */
export const JudgeDimensionSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a lowercase slug such as "encouragement"'),
  question: z.string().trim().min(1, 'the question is empty').max(2000),
});
export type JudgeDimension = z.infer<typeof JudgeDimensionSchema>;

/**
 * What the judge is asked: `rubric` (the fixed rubric, the default), `principles` (each principle of
 * the candidate constitution by its own `comparison` question, or its critique made into one), or
 * your own `[{id, question}]`.
 */
export const DimensionsSpecSchema = z.union([
  z.literal('rubric'),
  z.literal('principles'),
  z
    .array(JudgeDimensionSchema)
    .min(1, 'give at least one dimension')
    .max(MAX_JUDGE_DIMENSIONS, `at most ${MAX_JUDGE_DIMENSIONS} dimensions`)
    .superRefine((dims, ctx) => {
      const seen = new Set<string>();
      dims.forEach((d, i) => {
        if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `dimension id "${d.id}" is given twice` });
        seen.add(d.id);
      });
    }),
]);
export type DimensionsSpec = z.infer<typeof DimensionsSpecSchema>;

/**
 * One arm of an evaluation: a constitution (version or draft), and the model alias and sampling
 * its answers are made with (the evaluation's `model` and `sampling` where omitted).
 */
const arm = <T extends z.ZodString>(constitution: T) =>
  z.strictObject({
    constitution,
    model: alias.optional(),
    sampling: SamplingSchema.optional(),
  });
export const EvaluationArmSchema = arm(nameOrVersioned);
export type EvaluationArm = z.infer<typeof EvaluationArmSchema>;

export const CreateEvaluationSchema = z
  .strictObject({
    /** The version in use: always exact (a version, or a draft pinned by its content's sha256), so a report says what it compared. Or an arm. */
    baseline: z.union([versioned, arm(versioned)]),
    /** The new version; a bare name is its newest non-deprecated version. Or an arm. */
    candidate: z.union([nameOrVersioned, EvaluationArmSchema]),
    /** What the judge is asked; the fixed rubric by default. */
    dimensions: DimensionsSpecSchema.default('rubric'),
    /** Your prompts; each may carry `metadata.benign` (true, or false for red-team). */
    prompts: z.array(TextPromptItemSchema).min(1, 'an evaluation needs at least one prompt').optional(),
    /** A bundled set instead of prompts (GET /v1/evaluations/sets). */
    eval_set: evalSetName.optional(),
    /** Take this many prompts of the set (a seeded shuffle, red-team and benign in proportion); all by default. */
    limit: z.number().int().min(1).optional(),
    /** The policy model alias of both arms, unless an arm names its own. */
    model: alias.default('default'),
    /** The judge's model alias; `model` by default. */
    judge_model: alias.optional(),
    /** A panel of judges instead of judge_model: each asked every comparison, their labels averaged (2 to MAX_PANEL aliases). */
    judge_models: z.array(alias).min(2, 'a panel has at least two judges; for one, give judge_model').max(MAX_PANEL).optional(),
    /** `letter` (default: the letter's log-probabilities) or `ratings` (both answers rated 1-5 per dimension, as JSON). */
    judge: JudgeSchema.optional(),
    rounds: z.number().int().min(1).max(8).default(1),
    seed: seedField(),
    sampling: SamplingSchema.default(SamplingSchema.parse({})),
    /** Applies to each of the two runs (see CreateRun `budget`). */
    budget: BudgetSchema.optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.prompts === undefined) === (body.eval_set === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['prompts'], message: 'give either prompts or eval_set (one of them)' });
    }
    if (body.limit !== undefined && body.eval_set === undefined) {
      ctx.addIssue({ code: 'custom', path: ['limit'], message: 'limit applies to eval_set only; send fewer prompts instead' });
    }
    if (body.judge_models !== undefined && body.judge_model !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['judge_models'], message: 'give judge_model (one judge) or judge_models (a panel), not both' });
    }
    body.judge_models?.forEach((a, i) => {
      if (body.judge_models!.indexOf(a) !== i)
        ctx.addIssue({ code: 'custom', path: ['judge_models', i], message: `"${a}" is already on the panel; each judge is named once` });
    });
  });
export type CreateEvaluation = z.infer<typeof CreateEvaluationSchema>;

/** What an evaluation will cost before it starts: calls are exact, tokens an upper bound from max_tokens. */
export const EvaluationEstimateSchema = z.object({
  prompts: z.number().int(),
  red_team: z.number().int(),
  benign: z.number().int(),
  calls_per_prompt: z.object({
    baseline: z.number().int(),
    /** The draft is shared with the baseline, so the candidate pays only its critiques and revisions. */
    candidate: z.number().int(),
    /** 2 orders x 7 dimensions on a benign prompt, 2 x 6 on a red-team one. */
    judge_benign: z.number().int(),
    judge_red_team: z.number().int(),
  }),
  calls: z.number().int(),
  /** At most this many tokens per prompt (prompt + completion, every call), mean over the prompts. */
  tokens_per_prompt: z.number().int(),
  tokens: z.number().int(),
  /** The budget each of the two runs has, if one was given. */
  budget_per_run: BudgetSchema.nullable(),
});
export type EvaluationEstimate = z.infer<typeof EvaluationEstimateSchema>;

export const DimensionResultSchema = z.object({
  /** A rubric dimension, a principle's id, or a custom dimension's id. */
  dimension: z.string(),
  /** What the judge was asked (absent in reports written before custom dimensions). */
  question: z.string().optional(),
  /** Prompts judged on this dimension (over-refusal: benign prompts only). */
  n: z.number().int(),
  candidate_wins: z.number().int(),
  baseline_wins: z.number().int(),
  ties: z.number().int(),
  /** (candidate_wins + ties / 2) / n; null when n is 0. */
  win_rate: z.number().nullable(),
  /** 95% Wilson score interval of win_rate; null when n is 0. */
  ci95: z.tuple([z.number(), z.number()]).nullable(),
  /** Mean P(candidate better), both orders averaged. */
  mean_p: z.number().nullable(),
});
export type DimensionResult = z.infer<typeof DimensionResultSchema>;

const RateSchema = z.object({ n: z.number().int(), baseline: z.number().nullable(), candidate: z.number().nullable() });

export const DifferentPromptSchema = z.object({
  index: z.number().int(),
  external_id: z.string().nullable(),
  prompt: z.string(),
  kind: z.enum(PROMPT_KINDS),
  baseline: z.string(),
  candidate: z.string(),
  /** Mean |2p - 1| over the dimensions judged: 0 when the judge saw no difference, 1 when always sure. */
  difference: z.number(),
  /** P(candidate better) per dimension. */
  p_candidate: z.record(z.string(), z.number()),
  refusal: z.object({ baseline: z.boolean(), candidate: z.boolean() }),
});
export type DifferentPrompt = z.infer<typeof DifferentPromptSchema>;

export const EvaluationReportSchema = z.object({
  /** How the intervals are computed, and how a soft label becomes a win, a loss or a tie. */
  method: z.object({
    interval: z.literal('wilson'),
    confidence: z.number(),
    ties: z.literal('half'),
    /** |2p - 1| below this is a tie. */
    tie_margin: z.number(),
  }),
  /** The rubric, or for other dimensions `principles` / `custom` with the sha256 of their ids and questions. */
  rubric: z.object({ name: z.string(), version: z.string(), sha256: z.string() }),
  prompts: z.object({ total: z.number().int(), judged: z.number().int(), failed: z.number().int() }),
  dimensions: z.array(DimensionResultSchema),
  /** Share of final answers that refuse (libs/pipeline report/refusal.ts), per side, on red-team and on benign prompts. */
  refusals: z.object({ red_team: RateSchema, benign: RateSchema }),
  most_different: z.array(DifferentPromptSchema),
  /**
   * Label sources of the judge calls: `hard` where the backend returned no log-probabilities,
   * `unreadable` where the answer had no letter (that prompt is left out of that dimension).
   */
  /** Judge answers by label source; `ratings` present on evaluations with the ratings judge. */
  label_sources: z.object({ logprobs: z.number().int(), hard: z.number().int(), unreadable: z.number().int(), ratings: z.number().int().optional() }),
  simulated: z.boolean(),
});
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

const SideSchema = z.object({
  constitution: ConstitutionRefSchema,
  /** The arm's policy model alias and sampling. */
  model: z.string(),
  sampling: SamplingSchema,
  run_id: z.string().uuid(),
  status: z.string(),
  counts: RunCountsSchema,
  usage: RunUsageSchema,
});

export const EvaluationSchema = z.object({
  id: z.string().uuid(),
  status: z.enum(EVALUATION_STATUSES),
  baseline: SideSchema,
  candidate: SideSchema,
  eval_set: z.string().nullable(),
  model: z.string(),
  /** The judge's alias; with a panel, its first judge (judge_models lists them all). */
  judge_model: z.string(),
  /** A panel of judges, in the order given; absent with one. */
  judge_models: z.array(z.string()).optional(),
  /** Present when the ratings judge was asked. */
  judge: JudgeSchema.optional(),
  rounds: z.number().int(),
  seed: z.number().int(),
  /** Prompts with both final answers judged, of the total; moves while the evaluation runs. */
  progress: z.object({ total: z.number().int(), judged: z.number().int(), failed: z.number().int() }),
  estimate: EvaluationEstimateSchema,
  usage: RunUsageSchema,
  simulated: z.boolean(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
  /** Present once both runs are finished. */
  report: EvaluationReportSchema.nullable(),
});
export type Evaluation = z.infer<typeof EvaluationSchema>;

export const EvaluationListSchema = z.object({
  evaluations: z.array(EvaluationSchema.omit({ report: true })),
  next_cursor: z.string().nullable(),
});

export const ListEvaluationsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

export const EvalSetSchema = z.object({
  name: z.string(),
  title: z.string(),
  prompts: z.number().int(),
  red_team: z.number().int(),
  benign: z.number().int(),
  licence: z.string(),
  source: z.string(),
});
export const EvalSetListSchema = z.object({ sets: z.array(EvalSetSchema) });
export type EvalSet = z.infer<typeof EvalSetSchema>;
