import { randomInt, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import {
  FEEDBACK_DEFAULTS,
  type FeedbackOptions,
  evaluationLimitIssues,
  draftOfVersion,
  isRunFinished,
  parseConstitutionSpec,
  promptParts,
  requestLimits,
  type Config,
  type ConstitutionRef,
  MAX_JUDGE_DIMENSIONS,
  type CreateEvaluation,
  type DimensionsSpec,
  type EvaluationArm,
  type JudgeDimension,
  type Sampling,
  type EvalSet,
  type Evaluation,
  type EvaluationEstimate,
  type TextPromptItem,
} from '@amend/contracts';
import type { Constitution } from '@amend/constitution';
import { Store, type NewRun, type NewSample, type RunEvaluationLink } from '@amend/store';
import { ModelRegistry } from '@amend/llm';
import { CONFIG, ConstitutionCache, JOB_PRIORITY, SAMPLES_QUEUE, Tracing, closeEvaluation, enqueueSamples, keepRunTrace } from '@amend/runtime';
import { RUBRIC_REF, dimensionsRef, estimateEvaluation, principleDimensions } from '@amend/pipeline';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { ApiError, constitutionNotFound, notFound, tooManyActiveRuns, unknownModel } from '../errors/api-error';
import { throwIfOverLimits } from '../common/request-limits';
import type { Principal } from '../auth/principal';
import { checkBudget, runPrices } from '../runs/run-spend';
import { loadEvalSets, type LoadedEvalSet } from './eval-sets';
import { resolveDraft } from '../constitutions/draft-ref';

/** What a request resolves to before anything is stored: shared by the estimate and the start. */
interface Prepared {
  baseline: Arm;
  candidate: Arm;
  /** The judge's dimensions when not the rubric, resolved (principles of the candidate made into questions). */
  dimensions: JudgeDimension[] | null;
  /** What the report cites for its dimensions: the rubric, or `principles` / `custom` with their sha256. */
  rubric: { name: string; version: string; sha256: string };
  /** The arms differ in model or sampling, so the candidate makes its own draft instead of sharing the baseline's. */
  ownDraft: boolean;
  prompts: TextPromptItem[];
  seed: number;
  judgeModel: string;
  /** Every judge alias: the panel, or the one judge. */
  judges: string[];
  /** The candidate run's feedback options: the ratings judge and the panel; null for one letter judge. */
  feedback: FeedbackOptions | null;
  prices: ReturnType<typeof runPrices>;
  estimate: EvaluationEstimate;
}

/** One arm as resolved: its constitution, and the model and sampling its answers are made with. */
interface Arm {
  ref: ConstitutionRef;
  constitution: Constitution;
  model: string;
  sampling: Sampling;
}

/** The dimensions the judge asks and what the report cites for them: null dimensions for the rubric. */
function judgeDimensions(
  spec: DimensionsSpec,
  candidate: Constitution,
): { dimensions: JudgeDimension[] | null; rubric: { name: string; version: string; sha256: string } } {
  if (spec === 'rubric') return { dimensions: null, rubric: { ...RUBRIC_REF } };
  if (spec === 'principles') {
    const dimensions = principleDimensions(candidate);
    if (dimensions.length > MAX_JUDGE_DIMENSIONS) {
      throw new ApiError(
        'over_limit',
        `dimensions "principles" asks the judge ${dimensions.length} questions per prompt (one per principle of ${candidate.name}) and the limit is ${MAX_JUDGE_DIMENSIONS}; give your own dimensions instead`,
        { issues: [{ path: ['dimensions'], message: `at most ${MAX_JUDGE_DIMENSIONS} dimensions` }] },
      );
    }
    return { dimensions, rubric: dimensionsRef('principles', dimensions) };
  }
  return { dimensions: spec, rubric: dimensionsRef('custom', spec) };
}

/** Two samplings alike (their fields in any order). */
function sameSampling(a: Sampling, b: Sampling): boolean {
  return canonicalize(a) === canonicalize(b);
}

/** The content of each side that is a draft (version `#draft`), keyed by side; nothing for published versions. */
function pinnedDrafts(p: Pick<Prepared, 'baseline' | 'candidate'>): { pinned?: Record<string, Constitution> } {
  const sides = (['baseline', 'candidate'] as const).filter((side) => draftOfVersion(p[side].ref.version) !== undefined);
  return sides.length ? { pinned: Object.fromEntries(sides.map((side) => [side, p[side].constitution])) } : {};
}

/**
 * A constitution A/B evaluation is two critique-revise runs over the same prompts and seed: the
 * baseline's, and the candidate's, whose samples start from the baseline's drafts and end with
 * the judge's comparisons of the two final answers (libs/pipeline evaluation/). Both go through
 * the same queue, workers, checkpoints, budgets and audit trail as any run.
 */
@Injectable()
export class EvaluationsService implements OnModuleInit {
  private readonly logger = new Logger('EvaluationsService');
  private sets?: Map<string, LoadedEvalSet>;

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    private readonly constitutions: ConstitutionCache,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    @Inject(CONFIG) private readonly config: Config,
    private readonly tracing: Tracing,
  ) {}

  /** The bundled sets are read at boot, so a malformed one stops the API with its file's name. */
  onModuleInit() {
    this.loadedSets();
  }

  evalSets(): EvalSet[] {
    return [...this.loadedSets().values()].map(({ items: _items, ...set }) => set);
  }

  private loadedSets(): Map<string, LoadedEvalSet> {
    this.sets ??= loadEvalSets(this.config.EVALSETS_DIR);
    return this.sets;
  }

  async estimate(body: CreateEvaluation, caller: Principal): Promise<EvaluationEstimate> {
    return (await this.prepare(body, caller)).estimate;
  }

  async create(body: CreateEvaluation, caller: Principal): Promise<Evaluation> {
    const p = await this.prepare(body, caller);
    const id = randomUUID();
    const baselineRunId = randomUUID();
    const candidateRunId = randomUUID();
    // As a run's samples are made from its prompts (runs.service newSample).
    const samples = (): NewSample[] => p.prompts.map((item, index) => ({ id: randomUUID(), index, ...promptParts(item) }));
    const simulated = [p.baseline.model, p.candidate.model, ...p.judges].some((alias) => this.models.isSimulator(alias));
    const run = (runId: string, side: Arm, link: RunEvaluationLink, feedbackModel: string | null, feedback: FeedbackOptions | null = null): NewRun => ({
      id: runId,
      team: caller.team,
      mode: 'critique-revise',
      constitution: side.ref,
      rounds: body.rounds,
      seed: p.seed,
      model: side.model,
      feedback_model: feedbackModel,
      sampling: side.sampling,
      simulated,
      created_by: caller.actor,
      idempotency_key: null,
      request_sha256: null,
      budget: body.budget ?? null,
      prices: p.prices,
      evaluation: link,
      feedback,
    });
    const baseline = run(baselineRunId, p.baseline, { id, role: 'baseline' }, null);
    // The candidate's plan needs its judge's dimensions, and whether its drafts are the baseline's.
    const candidateLink: RunEvaluationLink = {
      id,
      role: 'candidate',
      baseline_run_id: baselineRunId,
      ...(p.dimensions && { dimensions: p.dimensions }),
      ...(p.ownDraft && { shared_draft: false }),
    };
    const candidate = run(candidateRunId, p.candidate, candidateLink, body.judge_models ? null : p.judgeModel, p.feedback);
    const runEvent = (r: NewRun, n: number) => ({
      type: 'run.created' as const,
      actor: caller.actor,
      payload: {
        constitution: r.constitution,
        mode: r.mode,
        rounds: r.rounds,
        model: r.model,
        feedback_model: r.feedback_model,
        sampling: r.sampling,
        principles: null,
        feedback: r.feedback ?? null,
        preview: false,
        budget: r.budget,
        prices: r.prices,
        idempotency_key: null,
        evaluation: r.evaluation,
        samples: n,
      },
    });
    const baselineSamples = samples();
    const candidateSamples = samples();
    // What the evaluation is, as stored on its row and as its `evaluation.created` event says.
    const settings = {
      eval_set: body.eval_set ?? null,
      model: body.model,
      judge_model: p.judgeModel,
      rounds: body.rounds,
      seed: p.seed,
      // With its questions when they are not the rubric's, so the row says what the judge was asked.
      rubric: p.dimensions ? { ...p.rubric, dimensions: p.dimensions } : p.rubric,
      estimate: p.estimate,
    };
    await this.store.evaluations.create(
      { id, team: caller.team, ...settings, created_by: caller.actor },
      {
        baseline: { run: baseline, samples: baselineSamples, event: runEvent(baseline, baselineSamples.length) },
        candidate: { run: candidate, samples: candidateSamples, event: runEvent(candidate, candidateSamples.length) },
      },
      {
        type: 'evaluation.created',
        actor: caller.actor,
        payload: {
          evaluation_id: id,
          baseline: p.baseline.ref,
          candidate: p.candidate.ref,
          // A draft side's content as judged: the draft may be saved again, the evaluation keeps what it compared.
          ...pinnedDrafts(p),
          baseline_run_id: baselineRunId,
          candidate_run_id: candidateRunId,
          ...settings,
          prompts: p.prompts.length,
          // The prompts as judged, fixed here so an auditor can tell the set was not changed later.
          prompts_sha256: createHash('sha256').update(JSON.stringify(p.prompts)).digest('hex'),
        },
      },
      { activeRuns: { createdBy: caller.actor, check: (active) => this.checkActiveRuns(active, caller) } },
    );
    // Only the baseline's samples now: each candidate sample is enqueued when its baseline twin
    // finishes (the worker does it), and the reconciler covers anything lost on the way.
    // With tracing on, both runs' work joins this request's trace (docs/operators.md#traces).
    const traceparent = this.tracing.traceparent();
    if (traceparent) {
      this.tracing.annotate({ 'amend.evaluation_id': id, 'amend.run_id': baselineRunId });
      for (const runId of [baselineRunId, candidateRunId]) {
        void keepRunTrace(this.queue, this.config.QUEUE_PREFIX, runId, traceparent).catch((err) =>
          this.logger.warn(`evaluation ${id}: the trace context of run ${runId} was not kept in Redis: ${(err as Error).message}`),
        );
      }
    }
    void enqueueSamples(
      this.queue,
      baselineRunId,
      baselineSamples.map((s) => s.id),
      { priority: JOB_PRIORITY.run, traceparent },
    ).catch((err) => this.logger.warn(`evaluation ${id}: enqueue failed, the reconciler will retry: ${(err as Error).message}`));
    return this.get(id, caller.team);
  }

  /** The evaluation if `team` may see it (undefined: any team, for auditors); another team's is a 404. */
  async get(id: string, team: string | undefined): Promise<Evaluation> {
    const view = await this.store.evaluations.view(id, team);
    if (!view) throw notFound('evaluation', id);
    if (view.report === null && isRunFinished(view.baseline.status) && isRunFinished(view.candidate.status)) {
      // Both runs are done but no worker wrote the report (it stopped in between): write it now.
      // At once (no wait): a GET does not queue behind the worker that is writing it; the client asks again.
      if (await closeEvaluation(this.store, id, 'amend:api', { wait: false })) return (await this.store.evaluations.view(id, team)) ?? view;
    }
    return view;
  }

  async list(query: { limit: number; cursor?: string }, team: string | undefined) {
    return this.store.evaluations.list({ ...query, team });
  }

  private async prepare(body: CreateEvaluation, caller: Principal): Promise<Prepared> {
    throwIfOverLimits(evaluationLimitIssues(body, requestLimits(this.config)));
    const baseline = await this.arm(body.baseline, body, 'baseline', caller);
    const candidate = await this.arm(body.candidate, body, 'candidate', caller);
    // A panel's first judge stands as the evaluation's judge_model; every judge is checked and priced.
    const judges = body.judge_models ?? [body.judge_model ?? body.model];
    const judgeModel = judges[0];
    const aliases = [baseline.model, candidate.model, ...judges];
    for (const alias of new Set(aliases)) {
      if (!this.models.aliases().includes(alias)) {
        throw unknownModel(alias, this.models.aliases());
      }
    }
    const prices = runPrices(this.models, aliases);
    checkBudget(body.budget, prices, aliases);
    const { dimensions, rubric } = judgeDimensions(body.dimensions, candidate.constitution);
    const ownDraft = baseline.model !== candidate.model || !sameSampling(baseline.sampling, candidate.sampling);
    // The candidate run's feedback options carry the ratings judge and the panel (recorded in its run.created event).
    const feedback: FeedbackOptions | null =
      body.judge === 'ratings' || body.judge_models
        ? { ...FEEDBACK_DEFAULTS, ...(body.judge === 'ratings' && { judge: 'ratings' as const }), ...(body.judge_models && { panel: [...body.judge_models] }) }
        : null;
    const seed = body.seed ?? randomInt(0, 2 ** 31 - 1);
    const prompts = body.prompts ?? this.setPrompts(body.eval_set as string, body.limit, seed);
    const max = Math.min(caller.limits.prompts_per_run, this.config.AMEND_MAX_EVALUATION_PROMPTS);
    if (prompts.length > max) {
      throw new ApiError(
        'too_many_prompts',
        `an evaluation of this key may have at most ${max} prompts and this one has ${prompts.length}; ` + (body.eval_set ? 'set "limit"' : 'split it'),
        { limit: max, prompts: prompts.length },
      );
    }
    const chars = (c: Constitution) => ({
      opening: (c.system?.length ?? 0) + c.examples.reduce((s, e) => s + e.messages.reduce((t, m) => t + m.content.length, 0), 0),
      request: Math.max(...c.principles.map((pr) => Math.max(pr.critique.length, pr.revision.length))),
    });
    const b = chars(baseline.constitution);
    const k = chars(candidate.constitution);
    const estimate = estimateEvaluation({
      prompts: prompts.map((item) => (typeof item === 'string' ? { prompt: item } : { prompt: item.prompt, metadata: item.metadata ?? null })),
      rounds: body.rounds,
      max_tokens: Math.max(baseline.sampling.max_tokens, candidate.sampling.max_tokens),
      opening_chars: { baseline: b.opening, candidate: k.opening },
      request_chars: { baseline: b.request, candidate: k.request },
      budget: body.budget ?? null,
      dimensions,
      own_draft: ownDraft,
      judges: judges.length,
      ratings: body.judge === 'ratings',
    });
    return { baseline, candidate, dimensions, rubric, ownDraft, prompts, seed, judgeModel, judges, feedback, prices, estimate };
  }

  /** An arm: a constitution spec alone (the evaluation's model and sampling), or with its own. */
  private async arm(spec: string | EvaluationArm, body: CreateEvaluation, field: 'baseline' | 'candidate', caller: Principal): Promise<Arm> {
    const arm = typeof spec === 'string' ? { constitution: spec } : spec;
    const { ref, constitution } = await this.resolve(arm.constitution, field, caller);
    return { ref, constitution, model: arm.model ?? body.model, sampling: arm.sampling ?? body.sampling };
  }

  /** `name`, `name@x.y.z`, or `name#draft` (the caller's team's draft, pinned by the sha256 of its content now). */
  private async resolve(spec: string, field: 'baseline' | 'candidate', caller: Principal) {
    const { name, version, draft } = parseConstitutionSpec(spec);
    if (draft !== undefined) {
      const { ref, constitution } = await resolveDraft(this.store, caller.team, name, draft, field);
      return { ref, constitution };
    }
    const row = await this.store.constitutions.resolve(name, version);
    if (!row) {
      const all = await this.store.constitutions.all();
      throw constitutionNotFound(
        spec,
        !all.some((c) => c.name === name)
          ? `no constitution "${name}"`
          : version
            ? `no version ${version} of "${name}"`
            : `every version of "${name}" is deprecated`,
        all,
        field,
      );
    }
    const ref = { name: row.name, version: row.version, sha256: row.sha256 };
    return { ref, constitution: await this.constitutions.get(ref.name, ref.version, ref.sha256) };
  }

  /**
   * A bundled set's prompts; with `limit`, that many drawn by the evaluation's seed, red-team and
   * benign in the set's proportions, kept in the set's order.
   */
  private setPrompts(name: string, limit: number | undefined, seed: number): TextPromptItem[] {
    const set = this.loadedSets().get(name);
    if (!set) {
      const names = [...this.loadedSets().keys()];
      throw new ApiError('eval_set_not_found', `no evaluation set "${name}"; bundled: ${names.join(', ') || 'none'}`, { available: names });
    }
    if (limit === undefined || limit >= set.items.length) return set.items;
    const key = (i: number) => createHash('sha256').update(`${seed}:${i}`).digest().readUInt32BE(0);
    const indexed = set.items.map((item, i) => ({ item, i, red: typeof item !== 'string' && item.metadata?.benign === false }));
    const red = indexed.filter((x) => x.red).sort((a, b) => key(a.i) - key(b.i));
    const benign = indexed.filter((x) => !x.red).sort((a, b) => key(a.i) - key(b.i));
    const takeRed = Math.round((limit * red.length) / set.items.length);
    return [...red.slice(0, takeRed), ...benign.slice(0, limit - takeRed)].sort((a, b) => a.i - b.i).map((x) => x.item);
  }

  /** An evaluation starts two runs: both count against the key's concurrent-runs limit. */
  private checkActiveRuns(active: number, caller: Principal): void {
    if (active + 2 > caller.limits.concurrent_runs) {
      throw tooManyActiveRuns(
        `an evaluation starts 2 runs and this key has ${active} queued or running of its limit ${caller.limits.concurrent_runs}; wait for one to finish`,
        caller.limits.concurrent_runs,
        active,
      );
    }
  }
}
