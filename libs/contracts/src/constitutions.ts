import { z } from 'zod';
import { seedField } from './bounds';
import { ChatMessageSchema, SamplingSchema } from './chat';
import { ROUNDS } from './limits';
import { PairRecordSchema } from './pairs';
import { ConstitutionRefSchema, RUN_STATUSES, RunUsageSchema, SAMPLE_STATUSES, StageRecordSchema } from './runs';

/** REST payloads of the constitution registry (`/v1/constitutions...`). */

/** Bounded as in the constitution schema (libs/constitution). */
const slug = z
  .string()
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase slug such as "harmless"');
const semver = z.string().regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}$/, 'a semantic version such as 1.0.0');

/** One published version, without its content. */
export const ConstitutionVersionSchema = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  title: z.string().nullable(),
  changelog: z.string().nullable(),
  /** `file` (constitutions/ folder at boot), `api` (POST /v1/constitutions) or `h4-import`. */
  source: z.string(),
  /** `file:<path>`, or the caller over REST (`anonymous` until API keys exist). */
  published_by: z.string(),
  published_at: z.string(),
  deprecated: z.boolean(),
  deprecated_at: z.string().nullable(),
  deprecated_by: z.string().nullable(),
  deprecation_reason: z.string().nullable(),
});
export type ConstitutionVersion = z.infer<typeof ConstitutionVersionSchema>;

/** One version with its parsed content (defaults filled in, as hashed). */
export const ConstitutionDocumentSchema = ConstitutionVersionSchema.extend({
  content: z.record(z.string(), z.unknown()),
});
export type ConstitutionDocument = z.infer<typeof ConstitutionDocumentSchema>;

/** The answer to a publish: `created` false when the same content was already published (200). */
export const PublishResultSchema = ConstitutionVersionSchema.extend({ created: z.boolean() });
export type PublishResult = z.infer<typeof PublishResultSchema>;

export const ConstitutionSummarySchema = z.object({
  name: z.string(),
  /** What `name` alone resolves to: the newest version that is not deprecated; null if every version is. */
  latest: z.string().nullable(),
  versions: z.array(ConstitutionVersionSchema),
});
export const ConstitutionListSchema = z.object({ constitutions: z.array(ConstitutionSummarySchema) });
export type ConstitutionList = z.infer<typeof ConstitutionListSchema>;

export const GetConstitutionQuerySchema = z.strictObject({
  /** `json` (default, or `Accept: application/yaml` for yaml), `yaml`, or `h4` (Hugging Face H4 JSON). */
  format: z.enum(['json', 'yaml', 'h4']).optional(),
});

export const DeprecateBodySchema = z.strictObject({
  reason: z.string().trim().min(1).max(2000).optional(),
});

export const H4ImportQuerySchema = z.strictObject({
  format: z.literal('h4', { message: 'only format=h4 can be imported' }),
  name: slug,
  version: semver,
  title: z.string().min(1).max(200).optional(),
  description: z.string().min(1).max(2000).optional(),
  changelog: z.string().min(1).max(2000).optional(),
  /** Comma-separated tags given to every imported principle, e.g. `harmlessness`. */
  tags: z
    .string()
    .optional()
    .transform((s) =>
      s
        ? s
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean)
        : undefined,
    ),
});

export const DiffQuerySchema = z.strictObject({
  from: semver.or(z.literal('latest')),
  to: semver.or(z.literal('latest')),
});

/** A word-level diff, as `diff`'s diffWords gives it. */
export const WordChangeSchema = z.object({ op: z.enum(['equal', 'insert', 'delete']), text: z.string() });
export const TextChangeSchema = z.object({
  /** null when the field is absent on that side. */
  from: z.string().nullable(),
  to: z.string().nullable(),
  words: z.array(WordChangeSchema),
  /** The same diff as one string, git `--word-diff=plain` style: `[-removed-]{+added+}`. */
  inline: z.string(),
});
export type TextChange = z.infer<typeof TextChangeSchema>;

export const DiffPrincipleSchema = z.object({
  id: z.string(),
  index: z.number().int(),
  critique: z.string(),
  revision: z.string(),
  comparison: z.string().optional(),
  tags: z.array(z.string()),
  weight: z.number(),
});

export const PrincipleChangeSchema = z.object({
  id: z.string(),
  from_index: z.number().int(),
  to_index: z.number().int(),
  critique: TextChangeSchema.optional(),
  revision: TextChangeSchema.optional(),
  comparison: TextChangeSchema.optional(),
  tags: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }).optional(),
  weight: z.object({ from: z.number(), to: z.number() }).optional(),
});

export const ExampleChangeSchema = z.object({
  index: z.number().int(),
  messages: z.array(
    z.object({
      index: z.number().int(),
      role: z.object({ from: z.string().nullable(), to: z.string().nullable() }).optional(),
      content: TextChangeSchema.optional(),
    }),
  ),
});

export const ConstitutionDiffSchema = z.object({
  from: ConstitutionRefSchema,
  to: ConstitutionRefSchema,
  identical: z.boolean(),
  principles: z.object({
    added: z.array(DiffPrincipleSchema),
    removed: z.array(DiffPrincipleSchema),
    changed: z.array(PrincipleChangeSchema),
    /** Ids present and equal on both sides. */
    unchanged: z.array(z.string()),
    /** True when the principles common to both sides appear in another order (order does not change sampling odds, but does change which principle a seed picks). */
    reordered: z.boolean(),
  }),
  examples: z.object({
    added: z.array(z.object({ index: z.number().int(), messages: z.array(ChatMessageSchema) })),
    removed: z.array(z.object({ index: z.number().int(), messages: z.array(ChatMessageSchema) })),
    changed: z.array(ExampleChangeSchema),
  }),
  system: TextChangeSchema.nullable(),
  metadata: z.object({
    title: TextChangeSchema.optional(),
    description: TextChangeSchema.optional(),
    changelog: TextChangeSchema.optional(),
  }),
});
export type ConstitutionDiff = z.infer<typeof ConstitutionDiffSchema>;

/** Few prompts: a preview answers while the author waits. */
export const PREVIEW_MAX_PROMPTS = 5;

const alias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a model alias from AMEND_MODELS');

export const PreviewRequestSchema = z.strictObject({
  prompts: z
    .array(z.string().refine((s) => s.trim().length > 0, { message: 'prompt is empty' }))
    .min(1, 'a preview needs at least one prompt')
    .max(PREVIEW_MAX_PROMPTS, `a preview takes at most ${PREVIEW_MAX_PROMPTS} prompts; submit a run for more`),
  /** Try one principle only; all principles (sampled by weight) when omitted. */
  principle: z.string().min(1).optional(),
  rounds: z.number().int().min(ROUNDS.min).max(ROUNDS.max).default(1),
  seed: seedField(),
  model: alias.default('default'),
  sampling: SamplingSchema.optional(),
  /** How long to wait for the result before answering 504 (and cancelling the preview). */
  timeout_ms: z.number().int().min(1_000).max(300_000).default(60_000),
});
export type PreviewRequest = z.infer<typeof PreviewRequestSchema>;

export const PreviewResultSchema = z.object({
  run_id: z.string().uuid(),
  constitution: ConstitutionRefSchema,
  principle: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  usage: RunUsageSchema,
  simulated: z.boolean(),
  results: z.array(
    z.object({
      sample_id: z.string().uuid(),
      prompt: z.string(),
      status: z.enum(SAMPLE_STATUSES),
      failure_reason: z.string().nullable(),
      /** Every model call: the messages sent and the text received. */
      stages: z.array(StageRecordSchema),
      /** chosen = final revision, rejected = draft; null if the sample failed. */
      pair: PairRecordSchema.nullable(),
    }),
  ),
});
export type PreviewResult = z.infer<typeof PreviewResultSchema>;

/*
 * Drafts: a team's mutable constitutions, saved at PUT /v1/constitutions/{name}/drafts/{draft},
 * named `name#draft` wherever a preview or an evaluation takes a constitution. A run of a draft
 * records the version `#<draft>` with the sha256 of the content it used, which stays stored
 * (constitution_pins) when the draft is saved again.
 */

/** A draft's name: a lowercase slug, like a constitution's. */
export const DRAFT_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The version a run of a draft records: `#` and the draft's name, which no published version can be. */
export function draftVersion(draft: string): string {
  return `#${draft}`;
}

/** The draft's name when `version` is a draft's (`#idea`), else undefined. */
export function draftOfVersion(version: string): string | undefined {
  return version.startsWith('#') ? version.slice(1) : undefined;
}

/** How a reference is written: `name@1.2.0`, or `name#draft` for a draft. */
export function constitutionLabel(ref: { name: string; version: string }): string {
  const draft = draftOfVersion(ref.version);
  return draft === undefined ? `${ref.name}@${ref.version}` : `${ref.name}#${draft}`;
}

/** `name`, `name@x.y.z` or `name#draft`, split; `version` undefined for a bare name. */
export function parseConstitutionSpec(spec: string): { name: string; version?: string; draft?: string } {
  const hash = spec.indexOf('#');
  if (hash >= 0) return { name: spec.slice(0, hash), draft: spec.slice(hash + 1) };
  const [name, version] = spec.split('@');
  return version === undefined ? { name } : { name, version };
}

/** A constitution a preview or an evaluation takes: a name, a version, or a draft of the caller's team. */
export const CONSTITUTION_SPEC = /^[a-z0-9][a-z0-9-]*(@\d+\.\d+\.\d+|#[a-z0-9][a-z0-9-]{0,63})?$/;

/** One draft without its content. */
export const DraftSummarySchema = z.object({
  name: z.string(),
  draft: z.string(),
  /** The team whose authors own and edit it. */
  team: z.string(),
  /** The constitution hash of its current content; a run of the draft pins this. */
  sha256: z.string(),
  /** The version its content carries (what publish-draft makes unless told another). */
  version: z.string(),
  title: z.string().nullable(),
  principles: z.number().int(),
  created_by: z.string(),
  created_at: z.string(),
  saved_by: z.string(),
  saved_at: z.string(),
});
export type DraftSummary = z.infer<typeof DraftSummarySchema>;

/** One draft with its parsed content (defaults filled in, as hashed). */
export const DraftSchema = DraftSummarySchema.extend({
  content: z.record(z.string(), z.unknown()),
  /** 201 on the first save, 200 after. */
  created: z.boolean().optional(),
});
export type Draft = z.infer<typeof DraftSchema>;

export const DraftListSchema = z.object({ drafts: z.array(DraftSummarySchema) });
export type DraftList = z.infer<typeof DraftListSchema>;

export const PublishDraftBodySchema = z.strictObject({
  /** The version to publish; the draft content's own `version` when omitted. */
  version: semver.optional(),
  /** Replaces the draft's changelog in the published version. */
  changelog: z.string().trim().min(1).max(2000).optional(),
});
export type PublishDraftBody = z.infer<typeof PublishDraftBodySchema>;
