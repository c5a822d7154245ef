import { z } from 'zod';
import { seedField } from './bounds';
import { BudgetSchema, ConstitutionRefSchema } from './runs';

/**
 * Principle suggestions (`POST /v1/constitutions/{name}/suggestions`): principles learnt from
 * labelled pairs after Inverse Constitutional AI (Findeis et al., ICLR 2025). The model proposes
 * principles per pair, near-duplicates are merged, each candidate judges every pair, and the
 * candidates are ranked by how well their verdicts agree with the labels.
 */

/** Pairs one suggestion job learns from, at most. */
export const MAX_SUGGESTION_PAIRS = 2_000;

const alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a model alias from AMEND_MODELS');
const text = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .max(100_000, `${what} is over 100,000 characters`)
    .refine((s) => s.trim().length > 0, { message: `${what} is empty` });

/** One labelled pair: `chosen` is the answer the person preferred. */
export const PreferencePairSchema = z.strictObject({
  /** Your id for the pair (kept in the suggestions' `explains`); its line number when absent. */
  id: z.string().trim().min(1).max(200).optional(),
  prompt: text('prompt'),
  chosen: text('chosen'),
  rejected: text('rejected'),
});
export type PreferencePair = z.infer<typeof PreferencePairSchema>;

/** What the reviewers' decisions on a run give: every reviewed pair kept, or only those they swapped. */
export const SUGGESTION_RUN_PAIRS = ['reviewed', 'overturned'] as const;

/** The settings of a suggestion job, besides where its pairs come from. */
export const SuggestionOptionsSchema = z.strictObject({
  /** The alias that proposes principles and tests them as a judge. */
  model: alias.default('default'),
  /** The alias that tests the candidates, when not `model`. */
  judge_model: alias.optional(),
  /** Principles the model may propose per pair. */
  principles_per_pair: z.number().int().min(1).max(5).default(3),
  /** Candidates tested after merging, at most (the most often proposed first): bounds the test calls. */
  max_candidates: z.number().int().min(1).max(50).default(12),
  /** Two proposals whose normalised comparison questions are at least this similar (1 - edit distance / length) are one candidate. */
  merge_similarity: z.number().min(0.5).max(1).default(0.85),
  /** Tokens each propose answer may use. */
  max_tokens: z.number().int().min(64).max(4096).default(600),
  seed: seedField(),
  /** Stops the job (`budget_exhausted`) once spent, as a run's budget does; refused at once when the estimate is over it. */
  budget: BudgetSchema.optional(),
});

export const CreateSuggestionsSchema = SuggestionOptionsSchema.extend({
  /** Learn from this run's reviewed pairs (a run of your team). */
  run: z.string().uuid('a run id (UUID)').optional(),
  /** With `run`: `reviewed` (every accepted, swapped or edited pair, as the reviewer left it) or `overturned` (only the swapped ones). */
  pairs_from: z.enum(SUGGESTION_RUN_PAIRS).default('reviewed'),
  /** Or learn from these pairs (an uploaded preference file). */
  pairs: z.array(PreferencePairSchema).max(MAX_SUGGESTION_PAIRS, `at most ${MAX_SUGGESTION_PAIRS} pairs per job`).optional(),
}).superRefine((body, ctx) => {
  if ((body.run === undefined) === (body.pairs === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['run'],
      message: 'give either "run" (learn from its reviews) or "pairs" (prompt, chosen, rejected), not both or neither',
    });
  }
  if (body.pairs !== undefined && body.pairs.length === 0)
    ctx.addIssue({ code: 'custom', path: ['pairs'], message: 'pairs is empty: give at least one labelled pair' });
  const seen = new Map<string, number>();
  (body.pairs ?? []).forEach((p, i) => {
    if (p.id === undefined) return;
    const first = seen.get(p.id);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['pairs', i, 'id'], message: `id "${p.id.slice(0, 200)}" is already used by pair ${first}` });
    else seen.set(p.id, i);
  });
});
export type CreateSuggestions = z.infer<typeof CreateSuggestionsSchema>;

export const SUGGESTION_STATUSES = ['queued', 'running', 'completed', 'failed', 'budget_exhausted'] as const;
export type SuggestionStatus = (typeof SUGGESTION_STATUSES)[number];
export const isSuggestionFinished = (s: string) => s === 'completed' || s === 'failed' || s === 'budget_exhausted';

/** The calls of a job: one stage per kind. */
export const SUGGESTION_STAGES = ['propose', 'test'] as const;
export type SuggestionStage = (typeof SUGGESTION_STAGES)[number];

export const SuggestionEstimateSchema = z.object({
  pairs: z.number().int(),
  /** Calls: one propose per pair, then at most max_candidates x pairs tests (fewer when fewer candidates survive merging). */
  calls: z.object({ propose: z.number().int(), test_max: z.number().int(), max: z.number().int() }),
  /** An upper bound: every answer as long as it may be. */
  tokens_max: z.number().int(),
  /** At the aliases' prices, when they have them. */
  cost_usd_max: z.number().nullable(),
  budget: BudgetSchema.nullable(),
});
export type SuggestionEstimate = z.infer<typeof SuggestionEstimateSchema>;

export const SuggestedPrincipleSchema = z.object({
  id: z.string(),
  critique: z.string(),
  revision: z.string(),
  comparison: z.string(),
});
export type SuggestedPrinciple = z.infer<typeof SuggestedPrincipleSchema>;

export const SuggestionExampleSchema = z.object({ pair: z.string(), prompt: z.string(), chosen: z.string(), rejected: z.string() });

export const SuggestionSchema = z.object({
  rank: z.number().int().min(1),
  principle: SuggestedPrincipleSchema,
  /** Of the pairs where the principle applies, the share where its verdict is the label: agree / (agree + disagree). */
  agreement: z.number().min(0).max(1),
  /** The share of all pairs where it applies (the judge did not answer "not applicable"). */
  relevance: z.number().min(0).max(1),
  /** (agree - disagree) / pairs: what it explains net of what it contradicts; the ranking's key. */
  score: z.number().min(-1).max(1),
  votes: z.object({ agree: z.number().int(), disagree: z.number().int(), not_applicable: z.number().int(), unreadable: z.number().int() }),
  /** Proposals merged into this candidate, and the pairs that proposed it. */
  proposals: z.number().int(),
  variants: z.array(z.string()),
  /** Ids of the pairs whose label it agrees with. */
  explains: z.array(z.string()),
  examples: z.array(SuggestionExampleSchema),
  /** The constitution's principle closest to it (by its comparison question, or critique), and how close (0-1). */
  closest: z.object({ id: z.string(), similarity: z.number().min(0).max(1) }).nullable(),
});
export type Suggestion = z.infer<typeof SuggestionSchema>;

export const SuggestionSetSchema = z.object({
  id: z.string().uuid(),
  team: z.string(),
  constitution: ConstitutionRefSchema,
  status: z.enum(SUGGESTION_STATUSES),
  source: z.object({
    kind: z.enum(['run', 'file']),
    run_id: z.string().uuid().nullable(),
    pairs_from: z.enum(SUGGESTION_RUN_PAIRS).nullable(),
    /** sha256 of the labelled pairs as learnt from (canonical JSON), as the `suggestion.created` event holds it. */
    pairs_sha256: z.string(),
  }),
  pairs: z.number().int(),
  settings: SuggestionOptionsSchema.omit({ budget: true, seed: true }).extend({ judge_model: alias, seed: z.number().int() }),
  estimate: SuggestionEstimateSchema,
  progress: z.object({ stage: z.enum(['propose', 'test', 'done']), calls: z.number().int(), calls_planned: z.number().int() }),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), cost_usd: z.number().nullable() }),
  /** Proposals made (before merging) and candidates tested (after). */
  proposals: z.number().int().nullable(),
  candidates: z.number().int().nullable(),
  suggestions: z.array(SuggestionSchema),
  simulated: z.boolean(),
  error: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});
export type SuggestionSet = z.infer<typeof SuggestionSetSchema>;

export const SuggestionSetListSchema = z.object({
  suggestions: z.array(SuggestionSetSchema.omit({ suggestions: true })),
});

/** `POST /v1/suggestions/{id}/add-to-draft`: one ranked suggestion into a draft, as a principle. */
export const AddSuggestionToDraftSchema = z.strictObject({
  rank: z.number().int().min(1),
  draft: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a draft name: a lowercase slug'),
  /** The principle's id in the draft; the suggestion's own when absent. */
  principle_id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase slug such as "cites-sources"')
    .max(64)
    .optional(),
});
export type AddSuggestionToDraft = z.infer<typeof AddSuggestionToDraftSchema>;

/** The queue job of a suggestion set. */
export const SuggestionJobSchema = z.object({ suggestion_id: z.string().uuid() });
export type SuggestionJob = z.infer<typeof SuggestionJobSchema>;

/** `GET /v1/suggestions/{id}/audit/verify`: the set's chain recomputed and its rows held to it. */
export const SuggestionVerifySchema = z.looseObject({
  suggestion_id: z.string().uuid(),
  ok: z.boolean(),
  verified_at: z.string(),
  chain: z.looseObject({ ok: z.boolean(), events: z.number().int(), failures: z.array(z.looseObject({})) }),
  rows: z.object({
    ok: z.boolean(),
    checked: z.object({ suggestion_sets: z.number().int(), suggestion_calls: z.number().int() }),
    failures: z.array(z.object({ table: z.string(), key: z.string(), field: z.string(), why: z.string(), event_id: z.string().nullable() })),
  }),
});
export type SuggestionVerify = z.infer<typeof SuggestionVerifySchema>;
