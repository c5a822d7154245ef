import { z } from 'zod';
import {
  DraftSchema,
  type Draft,
  SuggestionEstimateSchema,
  SuggestionSetSchema,
  SuggestionVerifySchema,
  type SuggestionEstimate,
  type SuggestionSet,
  type SuggestionVerify,
  EXCLUDED_HEADER,
  parseExcluded,
  ErrorAnswer,
  EvalSetListSchema,
  EvaluationEstimateSchema,
  EvaluationListSchema,
  EvaluationSchema,
  type CreateEvaluation,
  type Evaluation,
  type EvaluationEstimate,
  CreateKey,
  CreatedKey,
  CreatedKeySchema,
  Key,
  KeysAnswerSchema,
  KeySchema,
  RunVerify,
  RunVerifySchema,
  VerifyReportSchema,
  ConstitutionDiff,
  ConstitutionDiffSchema,
  ConstitutionDocument,
  ConstitutionDocumentSchema,
  ConstitutionVersion,
  ConstitutionVersionSchema,
  DraftListSchema,
  type DraftList,
  ErrorBodySchema,
  PreviewRequest,
  PreviewResult,
  PreviewResultSchema,
  PublishResult,
  PublishResultSchema,
  PairFormat,
  QualityReport,
  QualityReportSchema,
  Run,
  RunListSchema,
  RunSchema,
  RunManifestSchema,
  RunManifest,
  RunStatus,
  Sample,
  SampleListSchema,
  SampleSchema,
  SampleStatus,
  PairSearchResultSchema,
  AgreementSchema,
  type Agreement,
  QueuedPairSchema,
  type QueuedPair,
  ReviewPolicyAnswerSchema,
  ReviewProgressSchema,
  type ReviewProgress,
} from '@amend/contracts';
import type { CreateRunBody } from './run-request';

/**
 * `GET /v1/constitutions`. The contracts library has no schema for it yet; this is the shape the
 * design promises, checked loosely so that extra fields from a newer server do not break the CLI.
 */
export const ConstitutionListSchema = z.object({
  constitutions: z.array(
    z.object({
      name: z.string(),
      /** null when every version is deprecated. */
      latest: z.string().nullable(),
      versions: z.array(z.object({ version: z.string(), sha256: z.string(), title: z.string().nullish(), deprecated: z.boolean().optional() })),
    }),
  ),
});
export type ConstitutionList = z.infer<typeof ConstitutionListSchema>;

/** A failed call: the server's `{error: {code, message, details}}`, or what went wrong on the way (codes `unreachable`, `unexpected_response`). */
export { ErrorAnswer };

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:3000, without a trailing slash. */
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Per-request deadline for JSON calls; streams have none. */
  timeoutMs?: number;
}

/** Above this a run is uploaded as JSON Lines (the server's JSON limit is 4 MiB by default). */
const JSON_UPLOAD_MAX_BYTES = 2 * 1024 * 1024;

type Query = Record<string, string | number | undefined>;

interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  query?: Query;
  body?: unknown;
  /** A body sent as is (e.g. YAML), instead of `body` as JSON. */
  rawBody?: { contentType: string; text: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number | null;
}

/** The filters the pairs and SFT exports share (docs/ml-teams.md#export-formats, #consensus-export). */
export interface ExportFilters {
  exclude?: string;
  reviewed?: 'accepted';
  consensus?: 'majority';
  minAgreement?: number;
}

function exportQuery(f: ExportFilters): Query {
  return { exclude: f.exclude, reviewed: f.reviewed, consensus: f.consensus, min_agreement: f.minAgreement };
}

/** What `amend eval` sends: the evaluation request with the server's defaults left to the server. */
export type EvaluationBody = Partial<CreateEvaluation> & Pick<CreateEvaluation, 'baseline' | 'candidate'>;

/** A typed client for the Amend REST API: one method per endpoint the CLI uses. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  createRun(body: CreateRunBody, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<Run> {
    const headers: Record<string, string> = {};
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    // A large run goes as JSON Lines, which the server streams into the run instead of reading
    // whole (its JSON bodies are limited to a few MB): the options on the first line, then one
    // prompt a line. 100,000 prompts take a while to upload and store: no short deadline here.
    const { prompts, ...options } = body;
    const text = JSON.stringify(body);
    if (Buffer.byteLength(text) > JSON_UPLOAD_MAX_BYTES) {
      const lines = [JSON.stringify(options), ...prompts.map((p) => JSON.stringify(p))].join('\n') + '\n';
      return this.json(RunSchema, '/v1/runs', {
        method: 'POST',
        rawBody: { contentType: 'application/x-ndjson', text: lines },
        headers,
        signal: opts.signal,
        timeoutMs: null,
      });
    }
    return this.json(RunSchema, '/v1/runs', { method: 'POST', body, headers, signal: opts.signal, timeoutMs: null });
  }

  getRun(id: string, signal?: AbortSignal): Promise<Run> {
    return this.json(RunSchema, `/v1/runs/${seg(id)}`, { signal });
  }

  listRuns(query: { status?: RunStatus; limit?: number; cursor?: string } = {}) {
    return this.json(RunListSchema, '/v1/runs', { query });
  }

  cancelRun(id: string): Promise<Run> {
    return this.json(RunSchema, `/v1/runs/${seg(id)}/cancel`, { method: 'POST' });
  }

  listSamples(runId: string, query: { status?: SampleStatus; limit?: number; cursor?: number } = {}) {
    return this.json(SampleListSchema, `/v1/runs/${seg(runId)}/samples`, { query });
  }

  /** `GET /v1/pairs`: one page of a search over the team's pairs; `query` holds q, the filters and `metadata.KEY` entries. */
  searchPairs(query: Record<string, string | number | undefined>) {
    return this.json(PairSearchResultSchema, '/v1/pairs', { query });
  }

  getSample(id: string): Promise<Sample> {
    return this.json(SampleSchema, `/v1/samples/${seg(id)}`, {});
  }

  listConstitutions(): Promise<ConstitutionList> {
    return this.json(ConstitutionListSchema, '/v1/constitutions', {});
  }

  getConstitution(name: string, version: string): Promise<ConstitutionDocument> {
    return this.json(ConstitutionDocumentSchema, `/v1/constitutions/${seg(name)}/${seg(version)}`, {});
  }

  /** A version as the YAML an author would write. */
  async getConstitutionYaml(name: string, version: string): Promise<string> {
    const res = await this.call(`/v1/constitutions/${seg(name)}/${seg(version)}`, { headers: { accept: 'application/yaml' } });
    return res.text();
  }

  /** A version in the Hugging Face H4 JSON format. */
  getConstitutionH4(name: string, version: string): Promise<unknown> {
    return this.json(z.unknown(), `/v1/constitutions/${seg(name)}/${seg(version)}`, { query: { format: 'h4' } });
  }

  diffConstitutions(name: string, from: string, to: string): Promise<ConstitutionDiff> {
    return this.json(ConstitutionDiffSchema, `/v1/constitutions/${seg(name)}/diff`, { query: { from, to } });
  }

  publishConstitutionYaml(text: string): Promise<PublishResult> {
    return this.json(PublishResultSchema, '/v1/constitutions', { method: 'POST', rawBody: { contentType: 'application/yaml', text } });
  }

  importH4(
    h4: unknown,
    query: { name: string; version: string; title?: string; description?: string; changelog?: string; tags?: string },
  ): Promise<PublishResult> {
    return this.json(PublishResultSchema, '/v1/constitutions/import', { method: 'POST', query: { format: 'h4', ...query }, body: h4 });
  }

  deprecateConstitution(name: string, version: string, reason?: string): Promise<ConstitutionVersion> {
    return this.json(ConstitutionVersionSchema, `/v1/constitutions/${seg(name)}/${seg(version)}/deprecate`, {
      method: 'POST',
      body: reason ? { reason } : {},
    });
  }

  previewConstitution(name: string, version: string, body: Partial<PreviewRequest> & { prompts: string[] }): Promise<PreviewResult> {
    // The server waits up to timeout_ms (default 60 s) for the preview; wait a little longer.
    const timeoutMs = (body.timeout_ms ?? 60_000) + 15_000;
    return this.json(PreviewResultSchema, `/v1/constitutions/${seg(name)}/${seg(version)}/preview`, { method: 'POST', body, timeoutMs });
  }

  /** `PUT /v1/constitutions/{name}/drafts/{draft}`: save (create or replace) a draft of the key's team. */
  saveDraftYaml(name: string, draft: string, text: string): Promise<Draft> {
    return this.json(DraftSchema, `/v1/constitutions/${seg(name)}/drafts/${seg(draft)}`, { method: 'PUT', rawBody: { contentType: 'application/yaml', text } });
  }

  getDraft(name: string, draft: string): Promise<Draft> {
    return this.json(DraftSchema, `/v1/constitutions/${seg(name)}/drafts/${seg(draft)}`, {});
  }

  async getDraftYaml(name: string, draft: string): Promise<string> {
    return (await this.call(`/v1/constitutions/${seg(name)}/drafts/${seg(draft)}`, { headers: { accept: 'application/yaml' } })).text();
  }

  listDrafts(name: string): Promise<DraftList> {
    return this.json(DraftListSchema, `/v1/constitutions/${seg(name)}/drafts`, {});
  }

  publishDraft(name: string, draft: string, body: { version?: string; changelog?: string }): Promise<PublishResult> {
    return this.json(PublishResultSchema, `/v1/constitutions/${seg(name)}/drafts/${seg(draft)}/publish`, { method: 'POST', body });
  }

  previewDraft(name: string, draft: string, body: Partial<PreviewRequest> & { prompts: string[] }): Promise<PreviewResult> {
    const timeoutMs = (body.timeout_ms ?? 60_000) + 15_000;
    return this.json(PreviewResultSchema, `/v1/constitutions/${seg(name)}/drafts/${seg(draft)}/preview`, { method: 'POST', body, timeoutMs });
  }

  /** The JSON Lines body of a run's pairs, unread (the caller streams it), with what it left out (`Amend-Excluded`). */
  async pairsStream(runId: string, format: PairFormat, opts: ExportFilters = {}): Promise<ExportStream> {
    return exportStream(await this.streamResponse(`/v1/runs/${seg(runId)}/pairs`, { format, ...exportQuery(opts) }));
  }

  /** `GET /v1/runs/{id}/review-queue/next`: the pair to review, leased to this key; null (204) when none is left for it. */
  async nextToReview(runId: string): Promise<QueuedPair | null> {
    const path = `/v1/runs/${seg(runId)}/review-queue/next`;
    const res = await this.call(path, { headers: { accept: 'application/json' } });
    if (res.status === 204) return null;
    const parsed = QueuedPairSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new ErrorAnswer(res.status, 'unexpected_response', `GET ${path} answered with a body that does not match the contract`);
    return parsed.data;
  }

  reviewProgress(runId: string): Promise<ReviewProgress> {
    return this.json(ReviewProgressSchema, `/v1/runs/${seg(runId)}/review-queue`, {});
  }

  agreement(runId: string): Promise<Agreement> {
    return this.json(AgreementSchema, `/v1/runs/${seg(runId)}/agreement`, {});
  }

  setReviewPolicy(runId: string, perPair: number) {
    return this.json(ReviewPolicyAnswerSchema, `/v1/runs/${seg(runId)}/review-policy`, { method: 'PUT', body: { per_pair: perPair } });
  }

  /** A POST /v1/runs body that replays the run. */
  getManifest(runId: string): Promise<RunManifest> {
    return this.json(RunManifestSchema, `/v1/runs/${seg(runId)}/manifest`, {});
  }

  getReport(runId: string): Promise<QualityReport> {
    return this.json(QualityReportSchema, `/v1/runs/${seg(runId)}/report`, {});
  }

  /** `GET /v1/runs/{id}/audit/verify` (auditors): every chain and the seal recomputed by the server. */
  verifyRunAudit(runId: string): Promise<RunVerify> {
    // A run of a million events takes a while to recompute: no short deadline.
    return this.json(RunVerifySchema, `/v1/runs/${seg(runId)}/audit/verify`, { timeoutMs: null });
  }

  /** `GET /v1/audit/verify` (auditors): the global chain (constitutions published, keys created and revoked) recomputed by the server. */
  verifyGlobalAudit(): Promise<z.infer<typeof VerifyReportSchema>> {
    return this.json(VerifyReportSchema, '/v1/audit/verify', { timeoutMs: null });
  }

  /** The run's audit bundle (JSON Lines), unread: the caller streams it to a file. */
  auditExportStream(runId: string): Promise<ReadableStream<Uint8Array>> {
    return this.stream(`/v1/runs/${seg(runId)}/audit/export`, {});
  }

  createKey(body: CreateKey): Promise<CreatedKey> {
    return this.json(CreatedKeySchema, '/v1/keys', { method: 'POST', body });
  }

  listKeys(query: { team?: string; role?: string; revoked?: 'true' } = {}) {
    return this.json(KeysAnswerSchema, '/v1/keys', { query });
  }

  revokeKey(id: string): Promise<Key> {
    return this.json(KeySchema, `/v1/keys/${seg(id)}`, { method: 'DELETE' });
  }

  /** The request body of an evaluation, as sent (the server fills in defaults). */
  estimateEvaluation(body: EvaluationBody): Promise<EvaluationEstimate> {
    return this.json(EvaluationEstimateSchema, '/v1/evaluations/estimate', { method: 'POST', body });
  }

  createEvaluation(body: EvaluationBody): Promise<Evaluation> {
    return this.json(EvaluationSchema, '/v1/evaluations', { method: 'POST', body, timeoutMs: null });
  }

  /** A suggestion job from a JSON body, or from a preference file sent as it is (JSON Lines) so the server names its bad lines. */
  createSuggestions(name: string, body: Record<string, unknown>, file?: string): Promise<SuggestionSet> {
    return this.json(SuggestionSetSchema, `/v1/constitutions/${seg(name)}/suggestions`, { method: 'POST', ...suggestionBody(body, file), timeoutMs: null });
  }

  estimateSuggestions(name: string, body: Record<string, unknown>, file?: string): Promise<SuggestionEstimate> {
    return this.json(SuggestionEstimateSchema, `/v1/constitutions/${seg(name)}/suggestions/estimate`, {
      method: 'POST',
      ...suggestionBody(body, file),
      timeoutMs: null,
    });
  }

  getSuggestions(id: string, signal?: AbortSignal): Promise<SuggestionSet> {
    return this.json(SuggestionSetSchema, `/v1/suggestions/${seg(id)}`, { signal });
  }

  /** A ranked suggestion's principle into a draft of the set's constitution, in one step. */
  addSuggestionToDraft(id: string, body: { rank: number; draft: string; principle_id?: string }): Promise<Draft> {
    return this.json(DraftSchema, `/v1/suggestions/${seg(id)}/add-to-draft`, { method: 'POST', body });
  }

  verifySuggestionAudit(id: string): Promise<SuggestionVerify> {
    return this.json(SuggestionVerifySchema, `/v1/suggestions/${seg(id)}/audit/verify`, { timeoutMs: null });
  }

  getEvaluation(id: string, signal?: AbortSignal): Promise<Evaluation> {
    return this.json(EvaluationSchema, `/v1/evaluations/${seg(id)}`, { signal });
  }

  listEvaluations(query: { limit?: number; cursor?: string } = {}) {
    return this.json(EvaluationListSchema, '/v1/evaluations', { query });
  }

  listEvalSets() {
    return this.json(EvalSetListSchema, '/v1/evaluations/sets', {});
  }

  /** `GET /v1/runs/{id}/sft`, with the pairs export's filters (reviews are applied either way). */
  async sftStream(runId: string, opts: ExportFilters = {}): Promise<ExportStream> {
    return exportStream(await this.streamResponse(`/v1/runs/${seg(runId)}/sft`, exportQuery(opts)));
  }

  private async json<S extends z.ZodType>(schema: S, path: string, opts: CallOptions): Promise<z.infer<S>> {
    const res = await this.call(path, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
    const text = await res.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new ErrorAnswer(res.status, 'unexpected_response', `${describe(opts, path)} answered with something that is not JSON: ${snippet(text)}`);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new ErrorAnswer(
        res.status,
        'unexpected_response',
        `${describe(opts, path)} answered with a body that does not match the contract; ` + `is the CLI the same version as the server?`,
        issues,
      );
    }
    return parsed.data;
  }

  private async stream(path: string, query: Query): Promise<ReadableStream<Uint8Array>> {
    return (await this.streamResponse(path, query)).body;
  }

  private async streamResponse(path: string, query: Query): Promise<{ body: ReadableStream<Uint8Array>; headers: Headers }> {
    const res = await this.call(path, { query, headers: { accept: 'application/x-ndjson' }, timeoutMs: null });
    if (!res.body) throw new ErrorAnswer(res.status, 'unexpected_response', `GET ${path} answered with no body`);
    return { body: res.body as ReadableStream<Uint8Array>, headers: res.headers };
  }

  private async call(path: string, opts: CallOptions): Promise<Response> {
    const url = new URL(this.options.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...opts.headers };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.rawBody) headers['content-type'] = opts.rawBody.contentType;
    const timeoutMs = opts.timeoutMs === undefined ? this.timeoutMs : opts.timeoutMs;
    const signals = [opts.signal, timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs)].filter((s): s is AbortSignal => s !== undefined);

    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.rawBody ? opts.rawBody.text : opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw unreachable(this.options.baseUrl, err);
    }
    if (!res.ok) throw await errorOf(res, describe(opts, path));
    return res;
  }
}

async function errorOf(res: Response, what: string): Promise<ErrorAnswer> {
  const text = await res.text().catch(() => '');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const body = ErrorBodySchema.safeParse(data);
  if (body.success) return new ErrorAnswer(res.status, body.data.error.code, body.data.error.message, body.data.error.details);
  const hint = res.status === 401 ? ' (set AMEND_API_KEY)' : '';
  return new ErrorAnswer(res.status, `http_${res.status}`, `${what} failed with HTTP ${res.status}${hint}: ${snippet(text)}`);
}

function unreachable(baseUrl: string, err: unknown): ErrorAnswer {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const why = e.name === 'TimeoutError' ? 'no answer before the deadline' : (e.cause?.code ?? e.cause?.message ?? e.message);
  return new ErrorAnswer(
    null,
    'unreachable',
    `cannot reach the Amend API at ${baseUrl} (${why}); is it running? Point the CLI at it with --api URL or AMEND_URL.`,
  );
}

function describe(opts: CallOptions, path: string): string {
  return `${opts.method ?? 'GET'} ${path}`;
}

function seg(id: string): string {
  return encodeURIComponent(id);
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  if (!t) return '(empty body)';
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/** An upload is the options line, then the file's own lines, untouched. */
function suggestionBody(body: Record<string, unknown>, file?: string): { body?: unknown; rawBody?: { contentType: string; text: string } } {
  if (file === undefined) return { body };
  return { rawBody: { contentType: 'application/x-ndjson', text: `${JSON.stringify(body)}\n${file}` } };
}

/** An export's body and what the server left out of it (null: a server too old to say). */
export interface ExportStream {
  body: ReadableStream<Uint8Array>;
  excluded: Record<string, number> | null;
}

function exportStream(res: { body: ReadableStream<Uint8Array>; headers: Headers }): ExportStream {
  return { body: res.body, excluded: parseExcluded(res.headers.get(EXCLUDED_HEADER)) };
}
