import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { isSampleFinished, type StageRecord } from '@amend/contracts';
import { ModelError, ModelRegistry } from '@amend/llm';
import {
  PipelineError,
  nextStep,
  recordCall,
  sharedDraftResult,
  type ChatResult,
  type NextStep,
  type PlannedCall,
  type RunSpec,
  type SampleSpec,
} from '@amend/pipeline';
import { Store, type RunEvaluationLink, type SampleChainHead, type TwinSample, type WorkItem } from '@amend/store';
import { ConstitutionCache, SAMPLES_QUEUE, TRACING_OFF, Tracing, closeEvaluation, releaseCandidateTwin } from '@amend/runtime';
import { SpendMeter } from './spend-meter';
import { LabelGuard } from './label-guard';
import type { ConstitutionSource, ModelsByAlias, SampleWorkStore } from './ports';
import { runSpecOf, sampleSpecOf, stageCheckpoint } from './stage-checkpoint';

/** `waiting`: an evaluation's candidate sample whose baseline twin has not finished; its job is put back, delayed. */
export type SampleOutcome = 'completed' | 'failed' | 'cancelled' | 'budget_exhausted' | 'skipped' | 'taken_over' | 'waiting';

/** A sample as the worker continues it: its rows, its run and itself as the pipeline sees them, its stages saved so far and its chain head. */
export interface SampleState {
  item: Pick<WorkItem, 'sample' | 'run'>;
  run: RunSpec;
  sample: SampleSpec;
  records: readonly StageRecord[];
  head: SampleChainHead;
}

/** The state of a claimed or loaded sample: its records and chain head as read with it. */
export function sampleState(item: Pick<WorkItem, 'sample' | 'run' | 'records'>, run: RunSpec, sample: SampleSpec = sampleSpecOf(item)): SampleState {
  return { item, run, sample, records: item.records, head: { seq: item.sample.audit_seq, hash: item.sample.audit_hash } };
}

/** How a stage's audit event differs from its call's own (stageCheckpoint). */
export type StageEvent = Pick<Parameters<typeof stageCheckpoint>[0], 'type' | 'extra'>;

/** What applying a stage did: when saved, the sample as it now stands and its next step. */
export type AppliedStage = { outcome: 'saved'; state: SampleState; next: NextStep } | { outcome: 'completed' | 'stopped' | 'duplicate' };

/** Who wrote an event: this worker process. */
export const WORKER_ACTOR = `worker:${hostname()}:${process.pid}`;

/**
 * Walks one sample through its stages; SampleWorker, the BullMQ consumer, calls it per job, and
 * the batch coordinator applies its answers and failures through it. After every model call the
 * stage is checkpointed in Postgres with its audit event, so a retried or recovered job resumes at
 * the first unfinished stage and never pays again for a call that succeeded. What comes next is
 * the pipeline's nextStep, asked of the records saved so far (docs/architecture.md#stage-machine).
 */
@Injectable()
export class SampleOrchestrator {
  private readonly logger = new Logger('SampleOrchestrator');
  private readonly finishChecks = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    @Inject(Store) private readonly store: SampleWorkStore,
    @Inject(ModelRegistry) private readonly models: ModelsByAlias,
    @Inject(ConstitutionCache) private readonly constitutions: ConstitutionSource,
    private readonly meter: SpendMeter,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    private readonly labels: LabelGuard,
    @Optional() @Inject(Tracing) private readonly tracing: Tracing = TRACING_OFF,
  ) {}

  async process(sampleId: string, signal?: AbortSignal): Promise<SampleOutcome> {
    try {
      return await this.walk(sampleId, signal);
    } catch (err) {
      // Inconsistent checkpoints or an invalid run fail the same way on every retry: fail the sample.
      const reason = permanentFailure(err);
      if (reason === null) throw err;
      const item = await this.store.samples.loadForWork(sampleId);
      if (item) await this.fail(item, reason);
      return 'failed';
    }
  }

  private async walk(sampleId: string, signal?: AbortSignal): Promise<SampleOutcome> {
    // One statement: the claim, the sample, its run's status and the stages already saved.
    const item = await this.store.samples.claimForWork(sampleId);
    if (!item) return 'skipped';
    // Only the run's first samples find it queued; once running, the update would match nothing.
    if (item.run.status === 'queued') await this.store.runs.markRunning(item.run.id);

    // An evaluation's candidate starts from its baseline twin's draft and is judged against its
    // final answer, so it waits for that sample to finish (its job comes back when it does).
    const link = evaluationOf(item);
    let twin: TwinSample | undefined;
    if (link?.role === 'candidate') {
      twin = await this.store.evaluations.twin(link.baseline_run_id as string, item.sample.idx, item.run.rounds);
      if (twin && !isSampleFinished(twin.status) && item.records.length === 0) return 'waiting';
      if (!twin || twin.status !== 'completed' || !twin.draft || twin.final === null) {
        const why = twin ? `is ${twin.status}${twin.failure_reason ? ` (${twin.failure_reason})` : ''}` : 'is missing';
        await this.fail(item, `baseline_unfinished: the baseline's sample of this prompt ${why}; there is no answer to compare with`);
        return 'failed';
      }
    }

    const run = await runSpecOf(item, this.constitutions);
    const sample = { ...sampleSpecOf(item), ...(twin?.final != null && { baseline: { final: twin.final } }) };
    // The chain head as claimed; each checkpoint returns the next, so the one after can be a
    // single statement guarded by it.
    let state = sampleState(item, run, sample);

    for (let step = nextStep(run, sample, state.records, randomUUID); step.kind === 'call';) {
      const call = step.call;
      // One span per stage when tracing is on; with it off, not even the span's attributes are built.
      const taken = this.tracing.enabled
        ? await this.tracing.span(
            `stage ${call.stage}`,
            {
              attributes: { 'amend.stage': call.stage, 'amend.seq': call.seq, 'amend.round': call.round, 'amend.principle_id': call.principle_id ?? undefined },
            },
            () => this.takeStep(state, call, twin, link, signal),
          )
        : await this.takeStep(state, call, twin, link, signal);
      if (typeof taken === 'string') return taken;
      ({ state, next: step } = taken);
    }
    return 'skipped';
  }

  /** One stage of the walk: the budget and label checks, the call (or the twin's shared draft), its checkpoint. */
  private async takeStep(
    state: SampleState,
    call: PlannedCall,
    twin: TwinSample | undefined,
    link: RunEvaluationLink | null,
    signal?: AbortSignal,
  ): Promise<SampleOutcome | { state: SampleState; next: NextStep }> {
    const { item } = state;
    const sampleId = item.sample.id;
    // The baseline's draft, copied, unless the arms differ in model or sampling (then the candidate drafts its own).
    const shared = call.stage === 'draft' && twin?.draft && link?.shared_draft !== false ? twin : undefined;
    if (!shared && (await this.meter.stopIfBudgetReached(item, WORKER_ACTOR))) return 'budget_exhausted';
    // The run stopped for its judge's labels (max_hard_label_share): this sample was cancelled with it.
    if (!shared && (await this.labels.stopRunIfLabelsBad(item, WORKER_ACTOR))) return 'cancelled';
    let result: ChatResult;
    if (shared?.draft) {
      // The same draft for both constitutions: the baseline's, copied, not asked again.
      result = sharedDraftResult({ ...shared.draft, sample_id: shared.id, run_id: link?.baseline_run_id as string });
    } else {
      try {
        // Each call names its alias: the policy model, or the feedback model for comparisons.
        result = await this.meter.timed(call.request.alias, call.stage, () => this.complete(call, signal));
      } catch (err) {
        if (await this.failIfPermanent(item, err, call)) return 'failed';
        throw err; // transient after the adapter's own retries, or infrastructure: the job retries
      }
    }
    const applied = await this.applyStage(state, call, result, {
      ...(shared && { type: 'draft.shared', extra: { shared_from: { run_id: link?.baseline_run_id, sample_id: shared.id, seq: 0 } } }),
      ...(link?.role === 'candidate' && call.stage === 'comparison' && { extra: { evaluation_id: link.id, dimension: call.principle_id } }),
    });
    switch (applied.outcome) {
      case 'duplicate':
        // Another worker saved this stage first (this job had stalled): it owns the sample now.
        this.logger.warn(`sample ${sampleId} stage ${call.seq} was already saved by another worker`);
        return 'taken_over';
      case 'stopped':
        return 'cancelled';
      case 'completed':
        return 'completed';
      case 'saved':
        return { state: applied.state, next: applied.next };
    }
  }

  /** The model call itself, in a `chat {model}` span when tracing is on. */
  private complete(call: PlannedCall, signal?: AbortSignal): Promise<ChatResult> {
    const model = this.models.get(call.request.alias);
    if (!this.tracing.enabled) return model.complete(call.request, signal);
    return this.tracing.modelCall({ alias: call.request.alias, stage: call.stage, seq: call.seq, request: call.request }, () =>
      model.complete(call.request, signal),
    );
  }

  /**
   * A call that answered, applied to its sample: its stage record and the sample's next step (the
   * stage that follows, or the pair, which completes the sample) are checkpointed with their audit
   * events; a run answered by the simulator is labelled so; a completed sample is settled. The
   * online walk and the batch coordinator both apply their answers here, so a stage saved from a
   * batch line is the same record with the same events as one saved online (`event.extra` adds to
   * the event's payload, e.g. which batch line it came from).
   */
  async applyStage(state: SampleState, call: PlannedCall, result: ChatResult, event: StageEvent = {}): Promise<AppliedStage> {
    const { item, run, sample } = state;
    const record = recordCall(call, result);
    if (record.judgement && this.tracing.enabled) this.judged(call, result, record.judgement);
    const records = [...state.records, record];
    // The call was planned from state.records: only its own record needs checking.
    const next = nextStep(run, sample, records, randomUUID, call);
    const saved = await this.store.samples.checkpoint(
      stageCheckpoint({
        item,
        run,
        call,
        result,
        record,
        next,
        actor: WORKER_ACTOR,
        spend: this.meter.spend(item, call.request.alias, result.usage),
        head: state.head,
        ...event,
      }),
    );
    if (saved.outcome === 'duplicate' || saved.outcome === 'stopped') return { outcome: saved.outcome };
    // A run on an alias configured as a real backend that is answered by the simulator over HTTP
    // is still labelled simulated: the label follows what answered, not the configuration.
    if (record.simulated && !item.run.simulated) {
      await this.store.runs.markSimulated(item.run.id);
      item.run.simulated = true;
    }
    if (saved.outcome === 'completed') {
      await this.settle(item);
      return { outcome: 'completed' };
    }
    return { outcome: 'saved', state: { ...state, records, head: saved.head }, next };
  }

  /** The judge's label, as a `gen_ai.evaluation.result` event on the active span (the stage's, or the batch's). */
  private judged(call: PlannedCall, result: ChatResult, judgement: NonNullable<StageRecord['judgement']>): void {
    const body = result.response as { id?: unknown } | null;
    this.tracing.evaluation({
      name: call.principle_id ?? 'comparison',
      score: judgement.p_a,
      label: judgement.answer ?? 'unreadable',
      labelSource: judgement.label_source,
      responseId: body !== null && typeof body === 'object' && typeof body.id === 'string' ? body.id : undefined,
    });
  }

  /**
   * Fails the sample when `err` would fail it the same way on every retry (permanentFailure) and
   * says so; anything else is the caller's to throw, for the job or the batch wave to retry.
   */
  async failIfPermanent(item: Pick<WorkItem, 'sample' | 'run'>, err: unknown, call?: PlannedCall): Promise<boolean> {
    const reason = permanentFailure(err);
    if (reason === null) return false;
    await this.fail(item, reason, call);
    return true;
  }

  /** Marks the sample failed with its reason (the run goes on) and closes the run if it was the last. */
  async fail(item: Pick<WorkItem, 'sample' | 'run'>, reason: string, call?: PlannedCall): Promise<void> {
    await this.store.samples.fail(item.sample.id, item.run.id, reason, {
      type: 'sample.failed',
      actor: WORKER_ACTOR,
      payload: { reason, stage: call?.stage ?? null, seq: call?.seq ?? null, principle_id: call?.principle_id ?? null },
    });
    await this.settle(item);
  }

  /**
   * After a sample finished: closes its run if it was the last; for an evaluation, lets the
   * candidate twin go (baseline side) and writes the report once both runs are closed.
   */
  async settle(item: Pick<WorkItem, 'sample' | 'run'>): Promise<void> {
    await this.finishCheck(item.run.id);
    const link = evaluationOf(item);
    if (!link) return;
    // The twin's job joins the trace this one is in (the evaluation's request's), when tracing is on.
    if (link.role === 'baseline') await releaseCandidateTwin(this.store, this.queue, link, item.sample.idx, this.tracing.traceparent());
    if (await closeEvaluation(this.store, link.id, WORKER_ACTOR)) {
      this.logger.log({ evaluation_id: link.id }, 'evaluation judged: report written');
    }
  }

  /**
   * Closes the run if no sample is left, once per group of samples that finish together: a caller
   * that comes while a check of its run is going waits for one more check that starts after it
   * (its own commit is then visible), so the last sample of a run is always seen.
   */
  finishCheck(runId: string): Promise<void> {
    const going = this.finishChecks.get(runId);
    if (going) {
      going.again = true;
      return going.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await this.store.runs.finalizeIfDone(runId);
        } while (entry.again);
      } finally {
        this.finishChecks.delete(runId);
      }
    })();
    this.finishChecks.set(runId, entry);
    return entry.done;
  }
}

/**
 * The reason a sample fails for `err` when no retry can cure it: checkpoints the plan cannot
 * continue or a run it cannot plan (PipelineError), or a model's permanent refusal (a 400, a
 * context too long, a content filter); null for anything else (transient, infrastructure).
 */
export function permanentFailure(err: unknown): string | null {
  if (err instanceof PipelineError || (err instanceof ModelError && err.kind === 'permanent')) return `${err.code}: ${err.message}`;
  return null;
}

function evaluationOf(item: Pick<WorkItem, 'run'>): RunEvaluationLink | null {
  return item.run.evaluation ?? null;
}
