import { createHash, randomInt, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import canonicalize from 'canonicalize';
import type { Readable } from 'node:stream';
import split2 from 'split2';
import { ZodValidationException } from 'nestjs-zod';
import {
  CreateRunSchema,
  duplicateIdMessage,
  PromptItemSchema,
  promptLimitIssues,
  requestLimits,
  runLimitIssues,
  promptParts,
  resolveFeedbackOptions,
  parseConstitutionSpec,
  type Config,
  type ConstitutionRef,
  type CreateRun,
  type ListRunsQuery,
  type PromptItem,
  type Run,
  type RunManifest,
  isRunFinished,
} from '@amend/contracts';
import { Store, type NewSample, type RunCreateOptions } from '@amend/store';
import { ModelRegistry } from '@amend/llm';
import { CONFIG, ConstitutionCache, JOB_PRIORITY, SAMPLES_QUEUE, Tracing, enqueueSamples, keepRunTrace } from '@amend/runtime';
import { runProblem } from '@amend/pipeline';
import { ApiError, bodyTooLarge, constitutionNotFound, notFound, tooManyActiveRuns, unknownModel } from '../errors/api-error';
import { throwIfOverLimits } from '../common/request-limits';
import { teamScope, type Principal } from '../auth/principal';
import { checkBudget, runPrices } from './run-spend';
import { resolveDraft } from '../constitutions/draft-ref';
import { budgetWithinQuota, checkCallLimits, effectiveBudget } from './operator-limits';

/** Prompts stored per statement while a JSON Lines upload streams in. */
const STREAM_CHUNK = 5_000;

@Injectable()
export class RunsService {
  private readonly logger = new Logger('RunsService');

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    private readonly constitutions: ConstitutionCache,
    @Inject(CONFIG) private readonly config: Config,
    private readonly tracing: Tracing,
  ) {}

  /**
   * Validates references, stores the run and its samples, enqueues one job per sample. A preview
   * (`opts.preview`) is an ordinary run left out of run lists, enqueued at preview priority.
   */
  async create(
    body: CreateRun,
    rawBody: unknown,
    idempotencyKey: string | undefined,
    caller: Principal,
    opts: { preview?: boolean } = {},
  ): Promise<{ run: Run; created: boolean }> {
    throwIfOverLimits(runLimitIssues(body, requestLimits(this.config)));
    this.checkPromptCount(body.prompts.length, caller);
    const prepared = await this.prepare(body, idempotencyKey, caller, opts);
    const samples = body.prompts.map((p, idx) => newSample(p, idx));
    const result = await this.store.runs.create(
      {
        ...prepared.run,
        request_sha256: idempotencyKey
          ? createHash('sha256')
              .update(canonicalize(rawBody) ?? '')
              .digest('hex')
          : null,
      },
      samples,
      { type: 'run.created', actor: caller.actor, payload: { ...prepared.settings, samples: samples.length } },
      prepared.createOptions,
    );
    const traceparent = this.traceRun(result.id, result.created);
    // A batch run's samples are never queued: the batch coordinator submits them in waves.
    if (result.created && !body.batch)
      this.enqueue(
        result.id,
        samples.map((s) => s.id),
        { ...opts, traceparent },
      );
    return { run: await this.get(result.id, caller.team), created: result.created };
  }

  /**
   * A run uploaded as JSON Lines (`Content-Type: application/x-ndjson`): the first line holds the
   * run's options (CreateRun without `prompts`), every further line one prompt (a string or
   * `{id?, prompt, metadata?}`). Lines are validated and stored a chunk at a time as they arrive,
   * so a 100,000-prompt upload is never held whole; a bad line is a 422 that names it, and nothing
   * of the run is kept. The Idempotency-Key compares the sha256 of the bytes uploaded.
   */
  async createStreamed(source: Readable, idempotencyKey: string | undefined, caller: Principal): Promise<{ run: Run; created: boolean }> {
    const hash = createHash('sha256');
    let bytes = 0;
    const byteLimit = this.config.AMEND_MAX_STREAMED_BODY_BYTES;
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (bytes > byteLimit) {
        source.destroy(bodyTooLarge('the upload', byteLimit, 'AMEND_MAX_STREAMED_BODY_BYTES'));
      }
    });
    const lines = source.pipe(split2()) as AsyncIterable<string> & Readable;
    source.on('error', (err) => lines.destroy(err));
    const iterator = lines[Symbol.asyncIterator]();
    let lineNo = 0;
    const nextLine = async (): Promise<{ line: string; no: number } | undefined> => {
      for (;;) {
        const r = await iterator.next();
        if (r.done) return undefined;
        lineNo++;
        if (r.value.trim()) return { line: r.value, no: lineNo };
      }
    };
    const first = await nextLine();
    if (!first) throw new ApiError('invalid_request', 'the upload is empty: the first line must hold the run options, then one prompt a line');
    const header = parseLine(first);
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw lineError(first.no, 'the first line must be a JSON object with the run options (constitution, mode, rounds, ...)');
    }
    if ('prompts' in header) throw lineError(first.no, 'the first line holds the run options only; put each prompt on a line of its own after it');
    // The options are checked by the same schema as a JSON body, with a stand-in prompt.
    const parsed = CreateRunSchema.safeParse({ ...header, prompts: ['-'] });
    if (!parsed.success) throw new ZodValidationException(parsed.error);
    const body = parsed.data;
    const prepared = await this.prepare(body, idempotencyKey, caller, {});
    const sampleIds: string[] = [];
    const checkCount = (n: number) => this.checkPromptCount(n, caller);
    const limits = requestLimits(this.config);
    // The first prompt and line of each id: a repeat is refused as in a JSON body (duplicatePromptIds).
    const ids = new Map<string, { prompt: number; line: number }>();
    async function* chunks(): AsyncGenerator<NewSample[]> {
      let chunk: NewSample[] = [];
      for (let line = await nextLine(); line; line = await nextLine()) {
        const item = PromptItemSchema.safeParse(parseLine(line));
        const overLimit = item.success ? promptLimitIssues(item.data, limits, sampleIds.length)[0] : undefined;
        if (overLimit) {
          // Its message names the prompt and the message: `prompt 4, message 2, is 40,123 characters; the limit is ...`.
          const { path, message, limit, setting, actual } = overLimit;
          throw lineError(line.no, message, { prompt: sampleIds.length, path: path.map(String).join('.'), limit, setting, actual });
        }
        if (!item.success) {
          const issue = item.error.issues[0];
          // The path inside the line names the message of a conversation: `prompt 4: messages.2: ...`.
          const where = issue && issue.path[0] === 'messages' ? `${issue.path.map(String).join('.')}: ` : '';
          throw lineError(
            line.no,
            `prompt ${sampleIds.length}: ${where}${issue?.message ?? 'not a prompt'} (a line is a string, {"id"?, "prompt", "metadata"?} or {"id"?, "messages", "metadata"?})`,
            { prompt: sampleIds.length, ...(issue && { path: issue.path.map(String).join('.') }) },
          );
        }
        const id = typeof item.data === 'string' ? undefined : item.data.id;
        if (id !== undefined) {
          const first = ids.get(id);
          if (first) {
            throw lineError(line.no, `prompt ${sampleIds.length}: ${duplicateIdMessage(id, `prompt ${first.prompt} (line ${first.line})`)}`, {
              prompt: sampleIds.length,
              path: 'id',
              first_prompt: first.prompt,
              first_line: first.line,
            });
          }
          ids.set(id, { prompt: sampleIds.length, line: line.no });
        }
        const sample = newSample(item.data, sampleIds.length);
        sampleIds.push(sample.id);
        checkCount(sampleIds.length);
        chunk.push(sample);
        if (chunk.length >= STREAM_CHUNK) {
          yield chunk;
          chunk = [];
        }
      }
      if (sampleIds.length === 0) throw new ApiError('invalid_request', 'prompts: a run needs at least one prompt (one a line after the options line)');
      yield chunk;
    }
    const result = await this.store.runs.createStreamed(
      { ...prepared.run, request_sha256: null },
      chunks(),
      () => ({
        request_sha256: idempotencyKey ? hash.digest('hex') : null,
        event: { type: 'run.created', actor: caller.actor, payload: { ...prepared.settings, samples: sampleIds.length, upload: 'ndjson' } },
      }),
      prepared.createOptions,
    );
    const traceparent = this.traceRun(result.id, result.created);
    if (result.created && !body.batch) this.enqueue(result.id, sampleIds, { traceparent });
    return { run: await this.get(result.id, caller.team), created: result.created };
  }

  private checkPromptCount(count: number, caller: Principal): void {
    if (count > caller.limits.prompts_per_run) {
      throw new ApiError(
        'too_many_prompts',
        `the run has ${count}${count === caller.limits.prompts_per_run + 1 ? ' or more' : ''} prompts; this key may submit at most ${caller.limits.prompts_per_run} per run (the key's limits.prompts_per_run); split it`,
        { limit: caller.limits.prompts_per_run, setting: 'limits.prompts_per_run', prompts: count },
      );
    }
  }

  /**
   * With tracing on: names the run on the request's span and returns the span's traceparent, which
   * the run's jobs carry and Redis keeps for its batch waves and re-enqueued samples, so the run's
   * work joins this request's trace (docs/operators.md#traces).
   */
  private traceRun(runId: string, created: boolean): string | undefined {
    if (!this.tracing.enabled) return undefined;
    this.tracing.annotate({ 'amend.run_id': runId });
    const traceparent = this.tracing.traceparent();
    if (!traceparent || !created) return undefined;
    void keepRunTrace(this.queue, this.config.QUEUE_PREFIX, runId, traceparent).catch((err) =>
      this.logger.warn(`run ${runId}: its trace context was not kept in Redis: ${(err as Error).message}`),
    );
    return traceparent;
  }

  private enqueue(runId: string, sampleIds: string[], opts: { preview?: boolean; traceparent?: string }): void {
    // Once committed the run is safe in Postgres, so the 202 does not wait for Redis: a
    // 100,000-prompt run is answered in about a second instead of after 50 addBulk batches.
    // Jobs that never reach Redis (it failed, the API stopped) are enqueued by the reconciler.
    const priority = opts.preview ? JOB_PRIORITY.preview : JOB_PRIORITY.run;
    const firstChunk = 2 * this.config.WORKER_CONCURRENCY;
    void enqueueSamples(this.queue, runId, sampleIds, { priority, firstChunk, traceparent: opts.traceparent }).catch((err) =>
      this.logger.warn(`run ${runId}: enqueue failed, the reconciler will retry: ${(err as Error).message}`),
    );
  }

  /**
   * Everything about a run but its prompts: the constitution it resolves to, its principles,
   * feedback options, models, budget and the operator's limits. Refusals come here, before a
   * prompt is stored. `beforeInsert` runs inside the run's transaction: the key's concurrent runs
   * and the team's daily quota, which must not race.
   */
  private async prepare(body: CreateRun, idempotencyKey: string | undefined, caller: Principal, opts: { preview?: boolean }) {
    const constitution = await this.resolveConstitution(body, caller, opts);
    // Stored null for plain critique-revise (nothing is judged), resolved for ai-feedback and verify.
    const feedback = body.mode === 'ai-feedback' || body.verify === true ? resolveFeedbackOptions(body) : null;
    // The worker plans with the same rules (runProblem): what it would refuse is a 422 now.
    const problem = runProblem({
      mode: body.mode,
      rounds: body.rounds,
      constitution: await this.constitutions.get(constitution.name, constitution.version, constitution.sha256),
      constitutionRef: constitution,
      principles: body.principles ?? null,
      feedback,
    });
    if (problem) throw new ApiError(problem.code, problem.message, problem.details);
    const aliases = [body.model, body.feedback_model, ...(body.feedback_models ?? [])].filter((a): a is string => !!a);
    for (const alias of aliases) {
      if (!this.models.aliases().includes(alias)) {
        throw unknownModel(alias, this.models.aliases());
      }
    }
    checkCallLimits(body, feedback, (alias) => this.models.maxTokens(alias), aliases, this.config);
    if (body.batch) this.checkBatch(body);
    const prices = runPrices(this.models, aliases, { batch: body.batch });
    // A batch run takes no budget yet (checkBatch), so the operator's default does not apply to it.
    const budget = body.batch ? null : effectiveBudget(body.budget, this.config);
    checkBudget(budget ?? undefined, prices, aliases);
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
      throw new ApiError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 200 characters');
    }
    // What the run is, stored on it and recorded as such in its run.created event.
    const settings = {
      constitution,
      mode: body.mode,
      rounds: body.rounds,
      model: body.model,
      feedback_model: body.feedback_model ?? null,
      sampling: body.sampling,
      principles: body.principles ?? null,
      feedback,
      preview: opts.preview ?? false,
      budget,
      prices,
      idempotency_key: idempotencyKey ?? null,
      ...(body.batch && { batch: true }),
      ...(body.review && { review: body.review }),
    };
    const run = {
      id: randomUUID(),
      team: caller.team,
      ...settings,
      seed: body.seed ?? randomInt(0, 2 ** 31 - 1),
      simulated: this.models.isSimulator(body.model),
      created_by: caller.actor,
    };
    const beforeInsert: NonNullable<RunCreateOptions['beforeInsert']> = async (tx) => {
      const quota = this.config.AMEND_TEAM_DAILY_TOKENS;
      if (quota !== undefined) {
        const remaining = quota - (await this.store.budget.teamTokensToday(caller.team, tx));
        // The run's own row and its run.created event carry the budget the quota left it.
        run.budget = settings.budget = budgetWithinQuota(settings.budget, remaining, quota);
      }
    };
    const createOptions: RunCreateOptions = {
      activeRuns: { createdBy: caller.actor, check: (active) => assertUnderActiveLimit(active, caller) },
      beforeInsert,
    };
    return { settings, run, createOptions };
  }

  /**
   * The version a run names (a bare name: the newest non-deprecated one), checked against its
   * `constitution_sha256`. A draft (`name#draft`) only for a preview: a run's pairs come from a
   * published version, so that a dataset never rests on content its team may still change.
   */
  private async resolveConstitution(body: CreateRun, caller: Principal, opts: { preview?: boolean }): Promise<ConstitutionRef> {
    const spec = parseConstitutionSpec(body.constitution);
    if (spec.draft !== undefined) {
      if (!opts.preview) {
        throw new ApiError(
          'draft_not_runnable',
          `"${body.constitution}" is a draft; a run takes a published version. Publish it (POST /v1/constitutions/${spec.name}/drafts/${spec.draft}/publish), ` +
            `or try it with a preview (POST /v1/constitutions/${spec.name}/drafts/${spec.draft}/preview) or an evaluation`,
          { constitution: body.constitution },
        );
      }
      const { ref } = await resolveDraft(this.store, caller.team, spec.name, spec.draft);
      return ref;
    }
    const { name, version } = spec;
    const constitution = await this.store.constitutions.resolve(name, version);
    if (!constitution) {
      const all = await this.store.constitutions.all();
      const own = all.filter((c) => c.name === name);
      if (!version && own.length > 0) {
        throw constitutionNotFound(
          body.constitution,
          `every version of "${name}" is deprecated; name one exactly, e.g. "${name}@${own[own.length - 1].version}"`,
          all,
        );
      }
      throw constitutionNotFound(body.constitution, own.length > 0 ? `no version ${version} of "${name}"` : `no constitution "${name}"`, all);
    }
    if (body.constitution_sha256 && body.constitution_sha256 !== constitution.sha256) {
      throw new ApiError(
        'constitution_sha256_mismatch',
        `${constitution.name}@${constitution.version} has sha256 ${constitution.sha256}, not the ${body.constitution_sha256} this request pins; ` +
          'name the version that has it, or drop constitution_sha256',
        { constitution: `${constitution.name}@${constitution.version}`, sha256: constitution.sha256 },
      );
    }
    return { name: constitution.name, version: constitution.version, sha256: constitution.sha256 };
  }

  /** A batch run needs every alias it calls to speak the Batch API. */
  private checkBatch(body: CreateRun): void {
    const aliases = [...new Set([body.model, body.feedback_model, ...(body.feedback_models ?? [])].filter((a): a is string => !!a))];
    const unsupported = aliases.filter((a) => !this.models.supportsBatch(a));
    if (unsupported.length) {
      throw new ApiError(
        'batch_unsupported',
        `"batch": true needs model aliases whose backend has the OpenAI Files and Batches API; ` +
          `${unsupported.map((a) => `"${a}"`).join(', ')} ${unsupported.length === 1 ? 'is' : 'are'} not configured with "batch": true in AMEND_MODELS`,
        { unsupported, batch_aliases: this.models.aliases().filter((a) => this.models.supportsBatch(a)) },
      );
    }
    if (body.max_hard_label_share !== undefined) {
      // Not yet: the batch coordinator does not count labels between waves.
      throw new ApiError('batch_label_guard_unsupported', 'max_hard_label_share cannot be combined with "batch": true yet; leave out one of them');
    }
    if (body.budget) {
      // Not yet: a wave is paid for as a whole, so a budget would be checked only between waves.
      throw new ApiError('batch_budget_unsupported', 'a budget cannot be combined with "batch": true yet; leave out one of them');
    }
  }

  /** Runs of the caller's team, newest first (an auditor's: every team's). */
  list(query: ListRunsQuery, caller: Principal) {
    return this.store.runs.list({ ...query, team: teamScope(caller) });
  }

  /** The run if `team` may see it (undefined: any team, for auditors); another team's run is a 404, ids do not leak. */
  async get(id: string, team: string | undefined): Promise<Run> {
    const run = await this.store.runs.view(id, team);
    if (!run) throw notFound('run', id);
    return run;
  }

  /** `GET /v1/runs/{id}`: the run with its last seal, which the HF dataset card names. */
  async detail(id: string, team: string | undefined): Promise<Run> {
    const run = await this.get(id, team);
    // Only a finished run has a seal: a run being polled while it goes on costs no query more.
    return { ...run, seal: isRunFinished(run.status) ? await this.store.audit.dataSeal(id) : null };
  }

  /** A POST /v1/runs body that replays the run (RunManifestSchema). */
  async manifest(id: string, team: string | undefined): Promise<RunManifest> {
    const run = await this.get(id, team);
    const prompts: PromptItem[] = (await this.store.samples.prompts(id)).map((p) =>
      p.external_id === null && p.metadata === null && p.messages === null
        ? p.prompt
        : {
            ...(p.external_id !== null && { id: p.external_id }),
            ...(p.messages !== null ? { messages: p.messages } : { prompt: p.prompt }),
            ...(p.metadata !== null && { metadata: p.metadata }),
          },
    );
    const judged = run.mode === 'ai-feedback' || run.verify === true;
    return {
      constitution: `${run.constitution.name}@${run.constitution.version}`,
      constitution_sha256: run.constitution.sha256,
      prompts,
      mode: run.mode,
      rounds: run.rounds,
      seed: run.seed,
      model: run.model,
      ...(run.feedback_model && { feedback_model: run.feedback_model }),
      ...(run.feedback_models && { feedback_models: run.feedback_models }),
      sampling: run.sampling,
      ...(run.principles && { principles: run.principles }),
      ...(run.budget && { budget: run.budget }),
      // Only the options the mode takes: POST /v1/runs refuses the others.
      ...(run.mode === 'ai-feedback' && run.candidates !== undefined && { candidates: run.candidates }),
      ...(run.mode === 'critique-revise' && run.verify && { verify: true }),
      ...(judged && run.ensemble !== undefined && { ensemble: run.ensemble }),
      ...(judged && run.cot !== undefined && { cot: run.cot }),
      ...(judged && run.judge === 'ratings' && { judge: 'ratings' as const }),
      ...(judged && run.min_margin !== undefined && { min_margin: run.min_margin }),
      ...(judged && run.max_hard_label_share !== undefined && { max_hard_label_share: run.max_hard_label_share }),
      ...(judged &&
        run.max_hard_label_share !== undefined &&
        run.hard_label_min_comparisons !== undefined && { hard_label_min_comparisons: run.hard_label_min_comparisons }),
      ...(run.batch && { batch: true }),
      ...(run.review && { review: run.review }),
    };
  }
  async cancel(id: string, caller: Principal): Promise<Run> {
    await this.get(id, caller.team);
    await this.store.runs.cancel(id, caller.actor);
    return this.get(id, caller.team);
  }
}

function newSample(p: PromptItem, index: number): NewSample {
  return { id: randomUUID(), index, ...promptParts(p) };
}

function parseLine(l: { line: string; no: number }): unknown {
  try {
    return JSON.parse(l.line);
  } catch (e) {
    throw new ApiError('invalid_json', `line ${l.no} is not valid JSON: ${(e as Error).message}`, { line: l.no });
  }
}

function lineError(no: number, message: string, details: Record<string, unknown> = {}): ApiError {
  return new ApiError('invalid_request', `line ${no}: ${message}`, { line: no, ...details });
}

/**
 * The concurrent-runs limit of the caller's key. The store counts the key's active runs inside
 * the run's own transaction under a lock per key, so two submissions at once cannot both take
 * the last slot.
 */
function assertUnderActiveLimit(active: number, caller: Principal): void {
  if (active >= caller.limits.concurrent_runs) {
    throw tooManyActiveRuns(
      `this key has ${active} runs queued or running, its limit; wait for one to finish or cancel one`,
      caller.limits.concurrent_runs,
      active,
    );
  }
}
