import { z } from 'zod';
import { rowIdCursor } from './bounds';
import type { StageName } from './runs';

/**
 * Every kind of audit event, a closed set: the writers, the verifier and the console agree on
 * these spellings, and a new kind is added here first. Stage events are named after the stage
 * (`draft.generated`), except a comparison, whose output is a judgement.
 */
export const AUDIT_EVENT_TYPES = [
  'run.created',
  'run.cancelled',
  'run.budget_exhausted',
  // Too many of the run's judge labels were hard or unreadable (max_hard_label_share).
  'run.stopped',
  'run.sealed',
  // The run's review policy was set or changed (PUT /v1/runs/{id}/review-policy): how many reviews each pair needs.
  'run.review_policy_set',
  'draft.generated',
  'critique.generated',
  'revision.generated',
  'candidate.generated',
  'judgement.made',
  'sample.failed',
  'pair.emitted',
  'pair.reviewed',
  // An evaluation's candidate run reuses the baseline's draft instead of asking for its own.
  'draft.shared',
  'evaluation.created',
  'evaluation.judged',
  'constitution.published',
  'constitution.deprecated',
  // A team's draft was saved (created or replaced): its name, the sha256 of its content and of the content it replaced.
  'constitution.draft_saved',
  'key.created',
  'key.revoked',
  // Principle suggestions (chain suggestion:<id>): the job, each model call, the ranking, and how it ended.
  'suggestion.created',
  'principles.proposed',
  'principle.tested',
  'suggestion.ranked',
  'suggestion.failed',
  'suggestion.budget_exhausted',
  // A sample's content was erased (POST /v1/samples/{id}/erase): who, when and why; its hashes stay.
  'erasure',
  // The run's HF dataset folder was pushed to the Hugging Face Hub (POST /v1/runs/{id}/exports/hub): where, which files, which commit; never the token.
  'dataset.pushed',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** The event that records one model call of a sample. */
export function stageEventType(stage: StageName): AuditEventType {
  switch (stage) {
    case 'draft':
      return 'draft.generated';
    case 'critique':
      return 'critique.generated';
    case 'revision':
      return 'revision.generated';
    case 'candidate':
      return 'candidate.generated';
    case 'comparison':
      return 'judgement.made';
  }
}

export const AuditEventSchema = z.object({
  /** Row id: the order events were written in, and the paging cursor. */
  id: z.string(),
  event_id: z.string().uuid(),
  chain: z.string(),
  seq: z.number().int(),
  run_id: z.string().uuid().nullable(),
  sample_id: z.string().uuid().nullable(),
  type: z.string(),
  actor: z.string(),
  at: z.string(),
  payload: z.unknown(),
  prev_hash: z.string(),
  hash: z.string(),
  /**
   * A model call's exact messages, read from the blobs its payload names by hash
   * (`payload.request.messages_sha256`); outside the hashed content, re-hashed by the verifier.
   */
  messages: z.array(z.object({ role: z.string(), content: z.string() })).optional(),
  /** A model call's response body, read from the blob its payload names (`payload.response_sha256`); re-hashed by the verifier. */
  response: z.unknown().optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEventPageSchema = z.object({
  events: z.array(AuditEventSchema),
  next_cursor: z.string().nullable(),
});

// Years 1-9999: JavaScript dates reach year -271821, Postgres timestamps only 4713 BC (a 500 before).
const isoTime = z
  .string()
  .max(100)
  .refine((s) => {
    const year = new Date(s).getUTCFullYear();
    return year >= 1 && year <= 9999;
  }, 'an ISO 8601 time between the years 1 and 9999, e.g. 2025-01-31T12:00:00Z');

export const AuditEventsQuerySchema = z.strictObject({
  run: z.string().uuid().optional(),
  sample: z.string().uuid().optional(),
  type: z.string().min(1).max(100).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  cursor: rowIdCursor().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

export const RunAuditQuerySchema = z.strictObject({
  cursor: rowIdCursor().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const VerifyFailureSchema = z.object({
  reason: z.enum(['content_changed', 'missing', 'reordered', 'inserted']),
  chain: z.string().nullable(),
  event_id: z.string().nullable(),
  id: z.string().nullable(),
  type: z.string().nullable(),
  seq: z.number().int().nullable(),
  message: z.string(),
});

export const VerifyReportSchema = z.object({
  ok: z.boolean(),
  events: z.number().int(),
  chains: z.number().int(),
  sealed: z.boolean(),
  seals: z.number().int(),
  root: z.string().nullable(),
  computed_root: z.string().nullable(),
  first_failure: VerifyFailureSchema.nullable(),
  failures: z.array(VerifyFailureSchema),
  failures_total: z.number().int(),
  /** Samples whose content was erased (an `erasure` event in their chain): who, when, why. Their chains still verify. */
  erased: z
    .array(
      z.object({ chain: z.string(), sample_id: z.string().nullable(), event_id: z.string(), by: z.string(), at: z.string(), reason: z.string().nullable() }),
    )
    .optional(),
});

/** Tables whose rows a read path serves, as verify names them. */
export const VERIFIED_TABLES = ['runs', 'samples', 'stage_records', 'content_blobs', 'constitutions', 'evaluations', 'api_keys'] as const;

/**
 * Every row a read path serves, held to the events that committed to it (docs/audit.md "What
 * verify covers"): a row that differs is named by table, key and field, with what the trail says
 * and which read paths serve it; rows an erasure blanked are counted apart, with who, when, why.
 */
export const RowsVerifySchema = z.object({
  ok: z.boolean(),
  checked: z.object(Object.fromEntries(VERIFIED_TABLES.map((t) => [t, z.number().int()])) as Record<(typeof VERIFIED_TABLES)[number], z.ZodNumber>),
  failures: z.array(
    z.object({
      reason: z.enum(['altered', 'missing']),
      table: z.enum(VERIFIED_TABLES),
      key: z.string(),
      field: z.string(),
      expected: z.string().nullable(),
      found: z.string().nullable(),
      read_paths: z.array(z.string()),
      event_id: z.string().nullable(),
      message: z.string(),
    }),
  ),
  failures_total: z.number().int(),
  erased: z.array(
    z.object({
      table: z.string(),
      key: z.string(),
      sample_id: z.string(),
      event_id: z.string(),
      by: z.string(),
      at: z.string(),
      reason: z.string().nullable(),
    }),
  ),
  erased_samples: z.number().int(),
  erased_rows: z.number().int(),
});
export type RowsVerify = z.infer<typeof RowsVerifySchema>;

/** The run's dataset against its trail: every pair and review row compared with the event that recorded it. */
export const DatasetVerifySchema = z.object({
  ok: z.boolean(),
  pairs: z.number().int(),
  reviews: z.number().int(),
  /** Pairs and reviews an erasure blanked: counted, not failures. */
  erased: z.number().int().optional(),
  failures: z.array(
    z.object({
      kind: z.enum(['pair', 'review']),
      reason: z.enum(['content_changed', 'missing_event', 'missing_row', 'duplicate_event']),
      id: z.string().nullable(),
      sample_id: z.string().nullable(),
      event_id: z.string().nullable(),
      message: z.string(),
    }),
  ),
  failures_total: z.number().int(),
});

export const RunVerifySchema = VerifyReportSchema.extend({
  run_id: z.string().uuid(),
  run_status: z.string(),
  verified_at: z.string(),
  took_ms: z.number(),
  /** `ok` above covers the chains and this; a row that differs from its event is named here. */
  dataset: DatasetVerifySchema.optional(),
  /** `ok` covers this too: every row a read path serves (stage records, blobs, samples, the run, its constitution, evaluation and keys). */
  rows: RowsVerifySchema.optional(),
});
export type RunVerify = z.infer<typeof RunVerifySchema>;

/** `GET /v1/samples/{id}/audit`: the critique log of one sample in order, with its chain checked. */
export const SampleAuditSchema = z.object({
  sample_id: z.string().uuid(),
  run_id: z.string().uuid(),
  chain: VerifyReportSchema,
  events: z.array(AuditEventSchema),
});
