import { hostname } from 'node:os';
import { Injectable, Logger } from '@nestjs/common';
import { ModelError, ModelRegistry } from '@amend/llm';
import { PipelineError, planNextCall, type PlannedCall } from '@amend/pipeline';
import { Store, type WorkItem } from '@amend/store';
import { ConstitutionCache } from '@amend/runtime';
import { SpendGuard } from './spend-guard';
import { runSpecOf, sampleSpecOf, stageCheckpoint } from './stage-checkpoint';

export type SampleOutcome = 'completed' | 'failed' | 'cancelled' | 'budget_exhausted' | 'skipped' | 'taken_over';

/** Who wrote an event: this worker process. */
export const WORKER_ACTOR = `worker:${hostname()}:${process.pid}`;

/**
 * Walks one sample through its stages. After every model call the stage is checkpointed in
 * Postgres with its audit event, so a retried or recovered job resumes at the first unfinished
 * stage and never pays again for a call that succeeded.
 */
@Injectable()
export class SampleProcessor {
  private readonly logger = new Logger('SampleProcessor');
  private readonly finishChecks = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    private readonly constitutions: ConstitutionCache,
    private readonly guard: SpendGuard,
  ) {}

  async process(sampleId: string, signal?: AbortSignal): Promise<SampleOutcome> {
    try {
      return await this.walk(sampleId, signal);
    } catch (err) {
      // Inconsistent checkpoints or an invalid run fail the same way on every retry: fail the sample.
      if (err instanceof PipelineError) {
        const item = await this.store.samples.loadForWork(sampleId);
        if (item) await this.fail(item, `${err.code}: ${err.message}`);
        return 'failed';
      }
      throw err;
    }
  }

  private async walk(sampleId: string, signal?: AbortSignal): Promise<SampleOutcome> {
    // One statement: the claim, the sample, its run's status and the stages already saved.
    const item = await this.store.samples.claimForWork(sampleId);
    if (!item) return 'skipped';
    // Only the run's first samples find it queued; once running, the update would match nothing.
    if (item.run.status === 'queued') await this.store.runs.markRunning(item.run.id);

    const run = await runSpecOf(item, this.constitutions);
    const sample = sampleSpecOf(item);
    const records = [...item.records];
    // The sample chain's head as loaded; each checkpoint advances it, so the next one can be a
    // single statement guarded by it.
    const head = { seq: item.sample.audit_seq, hash: item.sample.audit_hash };

    let next: PlannedCall | null = planNextCall(run, sample, records);
    for (let call = next; call; call = next) {
      if (await this.guard.exhausted(item, WORKER_ACTOR)) return 'budget_exhausted';
      let result;
      try {
        // Each call names its alias: the policy model, or the feedback model for comparisons.
        const alias = call.request.alias;
        result = await this.guard.timed(alias, call.stage, () => this.models.get(alias).complete(call.request, signal));
      } catch (err) {
        if (err instanceof ModelError && err.kind === 'permanent') {
          await this.fail(item, `${err.code}: ${err.message}`, call);
          return 'failed';
        }
        throw err; // transient after the adapter's own retries, or infrastructure: the job retries
      }
      const { record, next: planned, input } = stageCheckpoint({
        item,
        run,
        sample,
        records,
        call,
        result,
        actor: WORKER_ACTOR,
        spend: this.guard.spend(item, call.request.alias, result.usage),
        head,
      });
      next = planned;
      const outcome = await this.store.samples.checkpoint(input);
      if (outcome === 'duplicate') {
        // Another worker saved this stage first (this job had stalled): it owns the sample now.
        this.logger.warn(`sample ${sampleId} stage ${call.seq} was already saved by another worker`);
        return 'taken_over';
      }
      if (outcome === 'stopped') return 'cancelled';
      records.push(record);
      // A run on an alias configured as a real backend that is answered by the simulator over HTTP
      // is still labelled simulated: the label follows what answered, not the configuration.
      if (record.simulated && !item.run.simulated) {
        await this.store.runs.markSimulated(item.run.id);
        item.run.simulated = true;
        this.store.samples.noteSimulated(item.run.id);
      }
      if (outcome === 'completed') {
        await this.finishCheck(item.run.id);
        return 'completed';
      }
    }
    return 'skipped';
  }

  /** Marks the sample failed with its reason (the run goes on) and closes the run if it was the last. */
  async fail(item: Pick<WorkItem, 'sample' | 'run'>, reason: string, call?: PlannedCall): Promise<void> {
    await this.store.samples.fail(item.sample.id, item.run.id, reason, {
      type: 'sample.failed',
      actor: WORKER_ACTOR,
      payload: { reason, stage: call?.stage ?? null, seq: call?.seq ?? null, principle_id: call?.principle_id ?? null },
    });
    await this.finishCheck(item.run.id);
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
