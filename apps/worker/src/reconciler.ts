import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Config } from '@amend/contracts';
import {
  CONFIG,
  SAMPLES_QUEUE,
  SUGGESTIONS_QUEUE,
  TRACING_OFF,
  Tracing,
  closeEvaluation,
  enqueueSamples,
  enqueueSuggestion,
  missingJobs,
  runTrace,
} from '@amend/runtime';
import { Store } from '@amend/store';

const PAGE = 5_000;

/**
 * Postgres is the truth, Redis only the work queue. At boot and periodically, every unfinished
 * sample of an unfinished run that has no job in Redis (flushed, restarted) is enqueued again.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly store: Store,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    @Inject(CONFIG) private readonly config: Config,
    @Optional() @InjectQueue(SUGGESTIONS_QUEUE) private readonly suggestions?: Queue,
    @Optional() @Inject(Tracing) private readonly tracing: Tracing = TRACING_OFF,
  ) {}

  onApplicationBootstrap() {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.config.RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async tick() {
    if (this.running) return;
    this.running = this.reconcile();
    try {
      const n = await this.running;
      if (n > 0) this.logger.warn(`re-enqueued ${n} sample(s) that Redis had lost`);
    } catch (err) {
      this.logger.warn(`reconcile failed, will retry: ${(err as Error).message}`);
    } finally {
      this.running = undefined;
    }
  }

  /** Returns how many samples were enqueued again. */
  async reconcile(): Promise<number> {
    let requeued = 0;
    // Suggestion jobs the same way: an unfinished set without a job gets one (its calls saved so far are kept).
    if (this.suggestions) {
      for (const id of await missingJobs(this.suggestions, await this.store.suggestions.unfinished())) {
        await enqueueSuggestion(this.suggestions, id);
        requeued++;
      }
    }
    for (const runId of await this.store.runs.active()) {
      // An evaluation's candidate samples are enqueued when their baseline twins finish; here only
      // those whose twin has finished, so the reconciler does not start a waiting loop for the rest.
      const twinsOf = await this.store.evaluations.baselineRunOf(runId);
      for (let after = -1; ;) {
        const page = await this.store.samples.unfinished(runId, after, PAGE);
        if (page.length === 0) break;
        const ready = twinsOf
          ? await this.store.evaluations.twinFinished(
              twinsOf,
              page.map((s) => s.id),
            )
          : page.map((s) => s.id);
        const missing = await missingJobs(this.queue, ready);
        // With tracing on, the samples rejoin their run's trace when Redis still holds it.
        const traceparent = missing.length > 0 && this.tracing.enabled ? await runTrace(this.queue, this.config.QUEUE_PREFIX, runId) : undefined;
        await enqueueSamples(this.queue, runId, missing, { traceparent });
        requeued += missing.length;
        after = page[page.length - 1].idx;
      }
      // A run whose samples all finished while no worker was there to close it.
      await this.store.runs.finalizeIfDone(runId);
    }
    // An evaluation whose runs both closed while no closer got to write its report.
    for (const evaluationId of await this.store.evaluations.unclosed()) {
      if (await closeEvaluation(this.store, evaluationId, 'amend:reconciler'))
        this.logger.warn({ evaluation_id: evaluationId }, 'evaluation report written by the reconciler');
    }
    return requeued;
  }
}
