import { z } from 'zod';
import { ChatMessageSchema, SamplingSchema, UsageSchema } from './chat';
import { ROUNDS } from './limits';
import { indexCursor, seedField } from './bounds';
import { ComparisonJudgementSchema, FeedbackRequestFields, JudgeSchema, MAX_PANEL, RunStopSchema, feedbackOptionProblems } from './feedback';
import { ReviewPolicySchema } from './review-fields';

/** critique-revise: SL-CAI (revision beats draft); ai-feedback: RL-CAI (a feedback model picks among candidates). */
export const RUN_MODES = ['critique-revise', 'ai-feedback'] as const;
export type RunMode = (typeof RUN_MODES)[number];
export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
/** `budget_exhausted`: the run reached its budget before this sample finished (see CreateRun `budget`). */
export const SAMPLE_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'budget_exhausted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type SampleStatus = (typeof SAMPLE_STATUSES)[number];

/** A run in one of these has stopped for good: its events are sealed and its status never changes again. */
export const FINISHED_RUN_STATUSES = ['completed', 'failed', 'cancelled'] as const satisfies readonly RunStatus[];
/** A run in one of these still has work to do, and counts against its key's concurrent-runs limit. */
export const ACTIVE_RUN_STATUSES = ['queued', 'running'] as const satisfies readonly RunStatus[];
/** A sample in one of these may still make model calls; every other status is final. */
export const UNFINISHED_SAMPLE_STATUSES = ['pending', 'running'] as const satisfies readonly SampleStatus[];

/** True once a run has stopped for good (accepts the status as a plain string, as read from an audit bundle). */
export function isRunFinished(status: string): boolean {
  return (FINISHED_RUN_STATUSES as readonly string[]).includes(status);
}

/** True once a sample will make no more model calls, whichever way it ended. */
export function isSampleFinished(status: string): boolean {
  return !(UNFINISHED_SAMPLE_STATUSES as readonly string[]).includes(status);
}

const promptText = z.string().refine((s) => s.trim().length > 0, { message: 'prompt is empty' });

/**
 * What a prompt union says when a value is neither of its shapes (`42`, `null`, a list): zod's
 * own is `Invalid input`. An object that fails inside keeps its own issues (zod reports the one
 * shape it came close to).
 */
const expected = (what: string) => (issue: { code?: string }) => (issue.code === 'invalid_union' ? `expected ${what}` : undefined);

/** A single-turn prompt: a string or `{id?, prompt, metadata?}` (what an evaluation takes). */
export const TextPromptItemSchema = z.union(
  [
    promptText,
    z.strictObject({
      id: z.string().min(1).max(200).optional(),
      prompt: promptText,
      metadata: z.record(z.string(), z.unknown()).optional(),
    }),
  ],
  { error: expected('a string, or an object with prompt') },
);
export type TextPromptItem = z.infer<typeof TextPromptItemSchema>;

/** One turn of a multi-turn prompt; the API holds each to AMEND_MAX_PROMPT_CHARS (promptLimitIssues). */
const PROMPT_ROLES = ['system', 'user', 'assistant'] as const;
export const PromptMessageSchema = z.strictObject({
  // Refined before the enum: a wrong role then names its message instead of failing the whole prompt union.
  role: z
    .string()
    .refine((r) => (PROMPT_ROLES as readonly string[]).includes(r), { message: 'role is "system", "user" or "assistant"' })
    .pipe(z.enum(PROMPT_ROLES))
    .meta({ enum: [...PROMPT_ROLES] }),
  content: z.string().refine((s) => s.trim().length > 0, { message: 'message is empty' }),
});
export type PromptMessage = z.infer<typeof PromptMessageSchema>;

/**
 * Why a conversation cannot be a prompt, per message (index into the list), or an empty list. A
 * prompt conversation is what chat templates accept and what the draft can answer: an optional
 * system message first, then user and assistant turns alternating from a user turn, ending with
 * the user turn the draft answers. Many templates (Mistral's, Gemma's) refuse two turns of one
 * role in a row or a system message further down.
 */
export function conversationProblems(messages: readonly { role: string; content: string }[]): { index: number | null; message: string }[] {
  const problems: { index: number | null; message: string }[] = [];
  if (messages.length === 0) return [{ index: null, message: 'a conversation needs at least one message, ending with a user turn' }];
  const first = messages[0]?.role === 'system' ? 1 : 0;
  for (let i = 0; i < messages.length; i++) {
    const role = messages[i].role;
    if (role === 'system') {
      if (i > 0) problems.push({ index: i, message: 'a system message may only be the first message' });
      continue;
    }
    const expected = (i - first) % 2 === 0 ? 'user' : 'assistant';
    if (role !== expected) {
      problems.push({
        index: i,
        message:
          i === first
            ? 'the conversation starts with a user turn (after an optional system message)'
            : `two ${role} turns in a row; user and assistant turns alternate`,
      });
    }
  }
  const last = messages.length - 1;
  if (messages[last].role !== 'user') {
    problems.push({
      index: last,
      message: `the conversation must end with a user turn (the one the draft answers), not with ${messages[last].role === 'assistant' ? 'an assistant' : 'a system'} message`,
    });
  }
  return problems;
}

/**
 * A prompt of a run: a string, `{id?, prompt, metadata?}`, or a multi-turn conversation
 * `{id?, messages: [{role, content}...], metadata?}` ending with a user turn (see
 * conversationProblems). The draft answers the last user turn with the turns before it as context.
 */
export const PromptItemSchema = z.union(
  [
    promptText,
    z
      .strictObject({
        id: z.string().min(1).max(200).optional(),
        /** The prompt as one user message. */
        prompt: promptText.optional(),
        /** Or a conversation: optional system message, user and assistant turns alternating, the last a user turn. */
        messages: z.array(PromptMessageSchema).optional(),
        metadata: z.record(z.string(), z.unknown()).optional(),
      })
      .superRefine((item, ctx) => {
        if (item.prompt !== undefined && item.messages !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['messages'], message: 'give "prompt" (one user message) or "messages" (a conversation), not both' });
        } else if (item.prompt === undefined && item.messages === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['prompt'],
            message: 'a prompt object needs "prompt" (a string) or "messages" (a conversation ending with a user turn)',
          });
        }
        // A message with an unknown role has its own issue already; its place in the turns means nothing.
        if (item.messages !== undefined && item.messages.every((m) => (PROMPT_ROLES as readonly string[]).includes(m.role))) {
          for (const p of conversationProblems(item.messages)) {
            ctx.addIssue({ code: 'custom', path: p.index === null ? ['messages'] : ['messages', p.index], message: p.message });
          }
        }
      }),
  ],
  { error: expected('a string, or an object with prompt or messages') },
);
export type PromptItem = z.infer<typeof PromptItemSchema>;

/** A prompt item taken apart: the last user turn, the whole conversation when it is multi-turn (null otherwise), id and metadata. */
export function promptParts(item: PromptItem): {
  external_id: string | null;
  prompt: string;
  messages: PromptMessage[] | null;
  metadata: Record<string, unknown> | null;
} {
  if (typeof item === 'string') return { external_id: null, prompt: item, messages: null, metadata: null };
  const messages = item.messages ?? null;
  return {
    external_id: item.id ?? null,
    prompt: messages ? messages[messages.length - 1].content : (item.prompt ?? ''),
    messages: messages && messages.map((m) => ({ role: m.role, content: m.content })),
    metadata: item.metadata ?? null,
  };
}

/**
 * Restricts a run to some principles of its constitution: those with any of `tags`, or exactly
 * `ids`. Sampling still follows `weight` among the principles selected.
 */
export const PrincipleSelectorSchema = z.union([
  z.strictObject({ ids: z.array(z.string().min(1)).min(1, 'name at least one principle id').max(1000) }),
  z.strictObject({ tags: z.array(z.string().min(1)).min(1, 'name at least one tag').max(1000) }),
]);
export type PrincipleSelector = z.infer<typeof PrincipleSelectorSchema>;

/** A model alias configured by the operator: never a URL. */
const alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a model alias from AMEND_MODELS');

/**
 * What a run may spend. Before each model call the worker checks what the run has spent; once
 * either limit is reached the run's samples that have not finished stop as `budget_exhausted`.
 * Calls already in flight then finish and count, so a run can overshoot by at most those.
 */
export const BudgetSchema = z
  .strictObject({
    /** Prompt plus completion tokens, over every call of the run. */
    tokens: z.number().int().min(1).optional(),
    /** US dollars, from the per-alias prices in AMEND_MODELS (price_per_1k_prompt, price_per_1k_completion). */
    cost_usd: z.number().gt(0).optional(),
  })
  .refine((b) => b.tokens !== undefined || b.cost_usd !== undefined, { message: 'a budget needs tokens, cost_usd or both' });
export type Budget = z.infer<typeof BudgetSchema>;

export const CreateRunSchema = z
  .strictObject({
    // A draft (`name#draft`) passes here so that the service can say why a run may not take one (422 draft_not_runnable).
    constitution: z.string().regex(/^[a-z0-9][a-z0-9-]*(@\d+\.\d+\.\d+|#[a-z0-9][a-z0-9-]{0,63})?$/, 'a constitution "name" or "name@x.y.z"'),
    /** Pins the constitution's content: the run is refused (422) unless the version resolved has this sha256. */
    constitution_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'the sha256 of a constitution version (64 hex digits)')
      .optional(),
    prompts: z.array(PromptItemSchema).min(1, 'a run needs at least one prompt'),
    mode: z.enum(RUN_MODES).default('critique-revise'),
    rounds: z.number().int().min(ROUNDS.min).max(ROUNDS.max).default(1),
    seed: seedField(),
    model: alias.default('default'),
    feedback_model: alias.optional(),
    /** A panel of judges in place of feedback_model: every comparison is asked of each (2 to MAX_PANEL aliases). */
    feedback_models: z.array(alias).min(2, 'a panel has at least two judges; for one, give feedback_model').max(MAX_PANEL).optional(),
    sampling: SamplingSchema.default(SamplingSchema.parse({})),
    principles: PrincipleSelectorSchema.optional(),
    budget: BudgetSchema.optional(),
    /** How many different keys review each pair (docs/ml-teams.md#review-by-several-reviewers); changeable later with PUT /v1/runs/{id}/review-policy. */
    review: ReviewPolicySchema.optional(),
    /**
     * Through the provider's Batch API (OpenAI Files + Batches) at its batch prices, in waves: every
     * sample's next call in one batch, then the next. Needs aliases configured with `batch: true`.
     */
    batch: z.boolean().default(false),
    ...FeedbackRequestFields,
  })
  .superRefine((body, ctx) => {
    for (const p of feedbackOptionProblems(body)) {
      ctx.addIssue({ code: 'custom', path: p.path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)), message: p.message });
    }
    for (const d of duplicatePromptIds(body.prompts)) {
      ctx.addIssue({ code: 'custom', path: ['prompts', d.index, 'id'], message: duplicateIdMessage(d.id, `prompt ${d.first}`) });
    }
  });
export type CreateRun = z.infer<typeof CreateRunSchema>;

/**
 * The one rule for prompt ids, in a JSON body, a JSON Lines upload and a CLI file alike: an id
 * names one prompt of the run (the pairs carry it as external_id, so a repeated one could not be
 * told apart). Each repeat, with the position of the prompt that had the id first.
 */
export function duplicatePromptIds(prompts: readonly PromptItem[]): { id: string; index: number; first: number }[] {
  const seen = new Map<string, number>();
  const out: { id: string; index: number; first: number }[] = [];
  prompts.forEach((p, index) => {
    const id = typeof p === 'string' ? undefined : p.id;
    if (id === undefined) return;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, index);
    else out.push({ id, index, first });
  });
  return out;
}

export const duplicateIdMessage = (id: string, firstAt: string) => `id "${id.slice(0, 200)}" is already used by ${firstAt}; ids must be unique within a run`;

/**
 * `GET /v1/runs/{id}/manifest`: a `POST /v1/runs` body that replays the run: its prompts in
 * order (ids and metadata kept), the constitution pinned by version and sha256, the model
 * aliases, sampling, seed, mode and options. Principles and request seeds are keyed by (seed,
 * prompt index, round), so on the simulator or any deterministic backend it makes the same pairs.
 */
/**
 * A prompt erased by POST /v1/samples/{id}/erase, as the manifest gives it: empty (its id kept). The
 * trail keeps its hash; the manifest of a run with erased prompts no longer replays it.
 */
const ErasedPromptItemSchema = z.union([z.literal(''), z.strictObject({ id: z.string().optional(), prompt: z.literal('') })]);

export const RunManifestSchema = z.looseObject({
  constitution: z.string(),
  constitution_sha256: z.string(),
  prompts: z.array(z.union([PromptItemSchema, ErasedPromptItemSchema])),
  mode: z.enum(RUN_MODES),
  rounds: z.number().int(),
  seed: z.number().int(),
  model: z.string(),
  sampling: SamplingSchema,
});
export type RunManifest = z.infer<typeof RunManifestSchema>;

export const RunCountsSchema = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  /** Present on runs with a budget: samples stopped because the run reached it. */
  budget_exhausted: z.number().int().optional(),
});
export type RunCounts = z.infer<typeof RunCountsSchema>;

export const RunUsageSchema = UsageSchema.extend({
  /** Model calls made so far (one per stage record), counted as each call is saved. */
  calls: z.number().int().min(0),
  /**
   * Model calls the run is expected to make in all: what its finished samples made, plus the plan
   * of each pending or running one (docs/ml-teams.md#calls-per-pair). It equals `calls` once the
   * run has finished; progress within a sample shows as `calls` of `calls_planned`. An evaluation
   * candidate's judge calls are counted as they are made, not planned ahead.
   */
  calls_planned: z.number().int().min(0).optional(),
  /** Present when the run's model aliases have prices in AMEND_MODELS. */
  cost_usd: z.number().min(0).optional(),
});
export type RunUsage = z.infer<typeof RunUsageSchema>;

export const ConstitutionRefSchema = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
});
export type ConstitutionRef = z.infer<typeof ConstitutionRefSchema>;

/** A batch run's progress: the current wave and its provider batches' request counts. */
export const RunBatchSchema = z.object({
  /** The latest wave (0 first); null before the first is submitted. */
  wave: z.number().int().nullable(),
  /** Batches still pending at the provider or whose results are not yet saved. */
  pending: z.number().int(),
  batches: z.array(
    z.object({
      /** The provider's batch id (null while it is being created). */
      id: z.string().nullable(),
      wave: z.number().int(),
      part: z.number().int(),
      alias: z.string(),
      /** The provider's status (`validating`, `in_progress`, `finalizing`, `completed`, `expired`, `cancelled`, ...) or `submitting`. */
      status: z.string(),
      /** Its results are saved as stage records. */
      applied: z.boolean(),
      request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
      created_at: z.string(),
    }),
  ),
  totals: z.object({ batches: z.number().int(), requests: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
});
export type RunBatch = z.infer<typeof RunBatchSchema>;

/**
 * A run's last seal (docs/architecture.md#chains-and-seals): its `run.sealed` event and the RFC
 * 6962 Merkle root over the run's chains. The HF dataset card names it, so a reader can find it
 * in the run's audit bundle; hashes only, nothing of the trail's content.
 */
export const RunSealSchema = z.object({
  event_id: z.string().uuid(),
  hash: z.string(),
  root: z.string(),
  at: z.string(),
});
export type RunSeal = z.infer<typeof RunSealSchema>;

export const RunSchema = z.object({
  id: z.string().uuid(),
  status: z.enum(RUN_STATUSES),
  mode: z.enum(RUN_MODES),
  constitution: ConstitutionRefSchema,
  rounds: z.number().int(),
  seed: z.number().int(),
  model: z.string(),
  feedback_model: z.string().nullable(),
  /** A panel of judges (feedback_models), in the order given; absent with one feedback model. */
  feedback_models: z.array(z.string()).optional(),
  /** ai-feedback or verify: `letter` or `ratings`. */
  judge: JudgeSchema.optional(),
  sampling: SamplingSchema,
  counts: RunCountsSchema,
  usage: RunUsageSchema,
  /** Reasons of failed samples, most frequent first. */
  failures: z.array(z.object({ reason: z.string(), count: z.number().int() })),
  simulated: z.boolean(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  /** The principles the run samples from; null for all of them. */
  principles: PrincipleSelectorSchema.nullable().optional(),
  /** A constitution preview: a small run left out of run lists. */
  preview: z.boolean().optional(),
  /** What the run may spend; null without a budget. */
  budget: BudgetSchema.nullable().optional(),
  /** Present on batch runs (`"batch": true`): waves and provider batches. */
  batch: RunBatchSchema.optional(),
  /** The review policy in force; absent when none was set (each pair then needs one review). */
  review: ReviewPolicySchema.optional(),
  /** Feedback options, defaults applied (see CreateRunSchema). */
  candidates: z.number().int().optional(),
  ensemble: z.number().int().optional(),
  cot: z.boolean().optional(),
  verify: z.boolean().optional(),
  min_margin: z.number().optional(),
  max_hard_label_share: z.number().optional(),
  hard_label_min_comparisons: z.number().int().optional(),
  /** Why the run stopped before its samples finished (too many hard or unreadable judge labels); absent when it did not. */
  stopped: RunStopSchema.optional(),
  /** `GET /v1/runs/{id}` only: the run's last seal, null before the run finished. */
  seal: RunSealSchema.nullable().optional(),
});
export type Run = z.infer<typeof RunSchema>;

export const RunListSchema = z.object({
  runs: z.array(RunSchema),
  next_cursor: z.string().nullable(),
});

export const ListRunsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
  status: z.enum(RUN_STATUSES).optional(),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuerySchema>;

export const StageNameSchema = z.enum(['draft', 'critique', 'revision', 'candidate', 'comparison']);
export type StageName = z.infer<typeof StageNameSchema>;

export const StageRecordSchema = z.object({
  seq: z.number().int(),
  stage: StageNameSchema,
  round: z.number().int(),
  principle_id: z.string().nullable(),
  /** The exact messages sent, in order. */
  messages: z.array(z.object({ role: z.string(), content: z.string() })),
  text: z.string(),
  model: z.string(),
  usage: UsageSchema,
  latency_ms: z.number(),
  simulated: z.boolean(),
  /**
   * Why the backend stopped (`stop`, `length` when cut at max_tokens, ...), as it reported it; null
   * when it said nothing or the stage was saved before this was recorded. A pair with a `length`
   * stage is flagged `truncated`.
   */
  finish_reason: z.string().nullable().optional(),
  created_at: z.string().optional(),
  /** Comparison stages: the options shown and the label read from the answer. */
  judgement: ComparisonJudgementSchema.optional(),
  /**
   * Read paths only (GET /v1/samples/{id}): true when this stage, as shown, is what its audit event
   * committed to (text, model, usage, finish reason, the messages re-hashed against their names)
   * and that event is intact in the sample's chain. `amend audit verify` checks the whole run.
   */
  verified: z.boolean().optional(),
});
export type StageRecord = z.infer<typeof StageRecordSchema>;

/**
 * What the sample read path says of what it shows: `verified` (every stage and the prompt are what
 * the trail committed to), `erased` (an erasure removed the content; who, when, why), `altered`
 * (something shown differs from the trail: the fields are named).
 */
export const SampleVerificationSchema = z.object({
  status: z.enum(['verified', 'erased', 'altered']),
  erasure: z.object({ event_id: z.string(), by: z.string(), at: z.string(), reason: z.string().nullable() }).nullable(),
  /** `samples.<field>` or `stage_records.<seq>.<field>` of what differs from the trail, and why the chain failed if it did. */
  altered: z.array(z.string()),
});
export type SampleVerification = z.infer<typeof SampleVerificationSchema>;

export const SampleSummarySchema = z.object({
  id: z.string().uuid(),
  run_id: z.string().uuid(),
  index: z.number().int(),
  external_id: z.string().nullable(),
  status: z.enum(SAMPLE_STATUSES),
  /** The next stage to run, or `done`. */
  stage: z.string(),
  failure_reason: z.string().nullable(),
  usage: RunUsageSchema,
  /** The first 120 characters of the prompt, in lists (the console's audit page shows it). */
  prompt_preview: z.string().optional(),
});
export const SampleSchema = SampleSummarySchema.extend({
  /** The prompt, or the last user turn of a multi-turn prompt. */
  prompt: z.string(),
  /** A multi-turn prompt's whole conversation, ending with the user turn `prompt` is; null for a single-turn prompt. */
  messages: z.array(ChatMessageSchema).nullable().optional(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  stages: z.array(StageRecordSchema),
  verification: SampleVerificationSchema.optional(),
});
export type Sample = z.infer<typeof SampleSchema>;

export const ListSamplesQuerySchema = z.strictObject({
  status: z.enum(SAMPLE_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: indexCursor().optional(),
});
export type ListSamplesQuery = z.infer<typeof ListSamplesQuerySchema>;
export const SampleListSchema = z.object({
  samples: z.array(SampleSummarySchema),
  next_cursor: z.number().int().nullable(),
});

/** A queue job: one per sample, job id = sample id. */
export const SampleJobSchema = z.object({
  sample_id: z.string().uuid(),
  run_id: z.string().uuid(),
  /** The W3C traceparent of the request that created the run, when tracing is on: the job's spans join its trace. */
  traceparent: z.string().max(55).optional(),
});
export type SampleJob = z.infer<typeof SampleJobSchema>;
