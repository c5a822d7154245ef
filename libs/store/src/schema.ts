import type { ColumnType, Generated } from 'kysely';
import type {
  Budget,
  ChatMessage,
  ComparisonJudgement,
  EvaluationEstimate,
  EvaluationReport,
  EvaluationStatus,
  FeedbackOptions,
  JudgeDimension,
  PairQuality,
  PairRecord,
  PrincipleSelector,
  QualityReport,
  ReviewDecision,
  ReviewStatus,
  RunMode,
  RunStatus,
  SampleStatus,
  RunStop,
  Sampling,
} from '@amend/contracts';

/** Per-alias prices per 1k tokens, as stored on the run. */
export type RunPrices = Record<string, { prompt: number; completion: number }>;

/** The run row's `evaluation`: which evaluation, which side, and for the candidate where its drafts come from. */
export interface RunEvaluationLink {
  id: string;
  role: 'baseline' | 'candidate';
  baseline_run_id?: string;
  /** The candidate's judge dimensions when not the rubric's (evaluation `dimensions`). */
  dimensions?: JudgeDimension[];
  /** False when the arms differ in model or sampling: the candidate makes its own draft. */
  shared_draft?: boolean;
}

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/**
 * A jsonb column, read as the contract type it was written from (the store writes these columns
 * only from values of that type, so a read needs no cast); written as JSON text.
 */
type Json<T = unknown> = ColumnType<T, string, string>;
/** A bigint or numeric column with a default: pg returns it as a string; read it with Number(). */
type Counter = ColumnType<unknown, string | number | undefined, string | number>;

export interface ConstitutionsTable {
  name: string;
  version: string;
  sha256: string;
  content: Json;
  title: string | null;
  changelog: string | null;
  source: string;
  published_by: string;
  published_at: Timestamp;
  deprecated_at: Timestamp | null;
  deprecated_by: string | null;
  deprecation_reason: string | null;
}

/** Content a draft had at some save, by its constitution hash (migration 0017); never changes. */
export interface ConstitutionPinsTable {
  sha256: string;
  name: string;
  content: Json;
  pinned_by: string;
  pinned_at: Timestamp;
}

/** A team's draft of a constitution: its current content is the pin `sha256`. */
export interface ConstitutionDraftsTable {
  team: string;
  name: string;
  draft: string;
  sha256: string;
  created_by: string;
  created_at: Timestamp;
  saved_by: string;
  saved_at: Timestamp;
}

export interface RunsTable {
  id: string;
  team: string;
  status: RunStatus;
  mode: RunMode;
  constitution_name: string;
  constitution_version: string;
  constitution_sha256: string;
  rounds: number;
  seed: number;
  model: string;
  feedback_model: string | null;
  sampling: Json<Sampling>;
  total: number;
  simulated: boolean;
  idempotency_key: string | null;
  request_sha256: string | null;
  created_by: string;
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  /** FeedbackOptions of an ai-feedback or verified run; null for plain critique-revise. */
  feedback: Json<FeedbackOptions> | null;
  /** PrincipleSelector restricting principle sampling; null for all principles. */
  principles: Json<PrincipleSelector> | null;
  /** A constitution preview: left out of run lists. */
  preview: boolean;
  /** Budget `{tokens?, cost_usd?}` of the run; null without one. */
  budget: Json<Budget> | null;
  /** Per-alias prices `{alias: {prompt, completion}}` (per 1k tokens) in force when the run was created. */
  prices: Json<RunPrices> | null;
  /** What a run with a budget has spent so far. */
  spent_tokens: Counter;
  spent_cost_usd: Counter;
  /** Runs through the provider's Batch API in waves (no sample jobs); the coordinator holding the lease drives them. */
  batch: boolean;
  batch_lease_owner: string | null;
  batch_lease_until: Date | null;
  /** `{id, role: 'baseline' | 'candidate', baseline_run_id?}` for the runs of an evaluation; null otherwise. */
  evaluation: ColumnType<RunEvaluationLink | null, string | null | undefined, string | null>;
  /** Why the run stopped before its samples finished (too many hard or unreadable judge labels); null otherwise. Migration 0014_run_stopped. */
  stopped: ColumnType<RunStop | null, string | null | undefined, string | null>;
}

export interface BatchesTable {
  /** Ours; also the `amend_batch` metadata tag of the provider batch. */
  id: string;
  run_id: string;
  wave: number;
  part: number;
  alias: string;
  /** `submitting` until the provider batch exists, then the provider's status, `applied` once its results are checkpointed. */
  status: string;
  provider_batch_id: string | null;
  input_file_id: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  provider_status: string | null;
  /** `<sample id>:<seq>` of every request, in file order. */
  custom_ids: string[];
  bytes: Counter;
  request_total: number;
  request_completed: number;
  request_failed: number;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  applied_at: Timestamp | null;
}

export interface BatchLineFailuresTable {
  sample_id: string;
  seq: number;
  attempts: number;
  last_error: string;
}

export interface SamplesTable {
  id: string;
  run_id: string;
  idx: number;
  external_id: string | null;
  /** The prompt, or the last user turn of a multi-turn prompt. */
  prompt: string;
  /** A multi-turn prompt's conversation (ending with the user turn `prompt` is); null for a single string. Migration 0014. */
  messages: ColumnType<ChatMessage[] | null, string | null | undefined, string | null>;
  metadata: Json<Record<string, unknown>> | null;
  status: SampleStatus;
  /** The next stage to run, `done` once the pair is written. */
  stage: string;
  failure_reason: string | null;
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** What this sample's calls cost at the run's prices (0 without prices). */
  cost_usd: Counter;
  updated_at: Timestamp;
  /** Head of the sample's audit chain: seq of its last event (-1 when empty) and that event's hash (GENESIS when empty). */
  audit_seq: ColumnType<number, number | undefined, number>;
  audit_hash: ColumnType<string, string | undefined, string>;
}

export interface StageRecordsTable {
  sample_id: string;
  seq: number;
  stage: string;
  round: number;
  principle_id: string | null;
  /** Rows written before migration 0009; later rows keep `message_refs` instead. */
  messages: Json | null;
  /** Names (sha256) of the messages sent, blobs in `content_blobs` (@amend/audit content.ts). */
  message_refs: string[] | null;
  text: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  simulated: boolean;
  /** As the backend reported it; null when it did not, or for stages saved before migration 0010. */
  finish_reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  /** Comparison stages: ComparisonJudgement. */
  judgement: Json<ComparisonJudgement> | null;
}

export interface PairsTable {
  id: string;
  run_id: string;
  sample_id: string;
  idx: number;
  record: Json<PairRecord>;
  created_at: Timestamp;
  /** PairFlag values, also in record.metadata.flags: the export filters on this column. */
  flags: ColumnType<string[], string[] | undefined, string[]>;
  /** PairQuality, computed by the worker with the pair (migration 0015); null for older pairs. */
  quality: ColumnType<PairQuality | null, string | null | undefined, string | null>;
  /** The pair's words (amend_pair_document), generated by Postgres from `record` (migration 0020); never written. */
  search: ColumnType<string, never, never>;
}

export interface RunReportsTable {
  run_id: string;
  /** QUALITY_REPORT_VERSION of the code that computed it. */
  version: string;
  report: Json<QualityReport>;
  created_at: Timestamp;
}

export interface AuditEventsTable {
  id: Generated<string>;
  event_id: string;
  run_id: string | null;
  sample_id: string | null;
  type: string;
  actor: string;
  at: Timestamp;
  payload: Json;
  /** `sample:<id>`, `run:<id>` or `global` (see @amend/audit). */
  chain: string;
  /** Position in the chain, from 0. */
  seq: number;
  prev_hash: string;
  hash: string;
}

/** A message, or a few-shot prefix (an array of messages), under the sha256 of its canonical JSON. */
export interface ContentBlobsTable {
  sha256: string;
  content: Json;
}

export interface ApiKeysTable {
  id: string;
  /** sha256 (hex) of the whole key; the key itself is shown once and never stored. */
  hash: string;
  /** The first characters of the key, to tell keys apart in lists. */
  prefix: string;
  role: string;
  team: string;
  name: string | null;
  /** Per-key limits; null takes the server default. */
  requests_per_minute: number | null;
  concurrent_runs: number | null;
  prompts_per_run: number | null;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export interface EvaluationsTable {
  id: string;
  team: string;
  status: EvaluationStatus;
  baseline_run_id: string;
  candidate_run_id: string;
  eval_set: string | null;
  model: string;
  judge_model: string;
  rounds: number;
  seed: number;
  /** The rubric's name, version and sha256. */
  rubric: Json;
  /** EvaluationEstimate, as shown before the start. */
  estimate: Json<EvaluationEstimate>;
  /** EvaluationReport once both runs are finished. */
  report: Json<EvaluationReport> | null;
  created_by: string;
  created_at: Timestamp;
  finished_at: Timestamp | null;
}

/** `pair_reviews` (migration 0007): one row per review, never updated. */
export interface PairReviewsTable {
  seq: Generated<string>;
  id: string;
  pair_id: string;
  run_id: string;
  sample_id: string;
  decision: ReviewDecision;
  status: ReviewStatus;
  reviewer: string;
  /** Migration 0011: the key that reviewed, and free text kept apart from who reviewed. */
  reviewer_key_id: string | null;
  note: string | null;
  actor: string;
  reason: string;
  chosen: string;
  rejected: string;
  created_at: Generated<Date>;
}

/** `review_policies` (migration 0019): how many reviews each pair of a run needs; the latest row is in force. */
export interface ReviewPoliciesTable {
  seq: Generated<string>;
  run_id: string;
  per_pair: number;
  set_by: string;
  set_at: Generated<Date>;
}

/** `review_queue` (migration 0019): the row a reviewer locks while it weighs a pair's open slots. */
export interface ReviewQueueTable {
  pair_id: string;
  run_id: string;
  idx: number;
}

/** `review_leases` (migration 0019): a slot a key holds on a pair until it reviews it or the lease expires. */
export interface ReviewLeasesTable {
  pair_id: string;
  key_id: string;
  run_id: string;
  taken_at: Generated<Date>;
  expires_at: Date;
}

/** `suggestion_sets` (migration 0018): one principle-suggestion job. */
export interface SuggestionSetsTable {
  id: string;
  team: string;
  constitution_name: string;
  constitution_version: string;
  constitution_sha256: string;
  status: string;
  stage: ColumnType<string, string | undefined, string>;
  source: Json;
  /** The labelled pairs learnt from ({id, prompt, chosen, rejected}), in order. */
  pairs: Json;
  pair_count: number;
  settings: Json;
  estimate: Json;
  budget: Json | null;
  prices: Json<RunPrices | null> | null;
  calls: ColumnType<number, number | undefined, number>;
  calls_planned: number;
  prompt_tokens: Counter;
  completion_tokens: Counter;
  cost_usd: ColumnType<number, number | undefined, number>;
  proposals: number | null;
  candidates: number | null;
  result: Json | null;
  simulated: ColumnType<boolean, boolean | undefined, boolean>;
  error: string | null;
  created_by: string;
  created_at: Timestamp;
  finished_at: Timestamp | null;
}

/** `suggestion_calls` (migration 0018): one model call of a suggestion job, never updated. */
export interface SuggestionCallsTable {
  suggestion_id: string;
  seq: number;
  stage: string;
  pair_index: number;
  candidate_index: number | null;
  message_refs: string[];
  text: string;
  model: string;
  usage: Json;
  cost_usd: number;
  finish_reason: string | null;
  created_at: Timestamp;
}

export interface Database {
  constitutions: ConstitutionsTable;
  constitution_pins: ConstitutionPinsTable;
  constitution_drafts: ConstitutionDraftsTable;
  runs: RunsTable;
  samples: SamplesTable;
  stage_records: StageRecordsTable;
  pairs: PairsTable;
  audit_events: AuditEventsTable;
  content_blobs: ContentBlobsTable;
  api_keys: ApiKeysTable;
  batches: BatchesTable;
  batch_line_failures: BatchLineFailuresTable;
  evaluations: EvaluationsTable;
  pair_reviews: PairReviewsTable;
  run_reports: RunReportsTable;
  review_policies: ReviewPoliciesTable;
  review_queue: ReviewQueueTable;
  review_leases: ReviewLeasesTable;
  suggestion_sets: SuggestionSetsTable;
  suggestion_calls: SuggestionCallsTable;
}
