import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, WaitingError, Worker, type Job } from 'bullmq';
import type { Config, SampleJob } from '@amend/contracts';
import { AmendMetrics, CONFIG, SAMPLES_QUEUE, Tracing, redisConnection } from '@amend/runtime';
import { Store } from '@amend/store';
import { SampleOrchestrator } from './sample-orchestrator';

/** How long a candidate sample waits before looking at its baseline twin again, if nothing moved it up. */
const TWIN_WAIT_MS = 5_000;

/**
 * The BullMQ worker. Built by hand rather than with @Processor because its concurrency and lock
 * duration come from runtime configuration, which a decorator evaluated at import cannot see.
 */
@Injectable()
export class SampleWorker implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('SampleWorker');
  private worker?: Worker<SampleJob>;
  /** Set once shutdown began: an aborted job is then handed back, not failed. */
  private draining = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly orchestrator: SampleOrchestrator,
    private readonly store: Store,
    private readonly metrics: AmendMetrics,
    private readonly tracing: Tracing,
  ) {}

  onApplicationBootstrap() {
    this.worker = new Worker<SampleJob>(SAMPLES_QUEUE, (job, token, signal) => this.handle(job, token, signal), {
      prefix: this.config.QUEUE_PREFIX,
      connection: redisConnection(this.config.REDIS_URL),
      concurrency: this.config.WORKER_CONCURRENCY,
      lockDuration: this.config.WORKER_LOCK_MS,
      stalledInterval: Math.max(1000, Math.floor(this.config.WORKER_LOCK_MS / 2)),
      maxStalledCount: 10,
    });
    this.worker.on('error', (err) => this.logger.error(`worker error: ${err.message}`));
    this.logger.log(`taking sample jobs, concurrency ${this.config.WORKER_CONCURRENCY}`);
  }

  private async handle(job: Job<SampleJob>, token?: string, signal?: AbortSignal) {
    if (!this.tracing.enabled) return this.work(job, token, signal);
    // The job's span continues the trace of the request that created the run (its traceparent
    // travels in the job). BullMQ's control-flow errors (delayed, handed back) are not failures
    // of the job's work, so they leave the span before it ends.
    const done = await this.tracing.span(
      'process samples',
      {
        kind: 'consumer',
        parent: job.data.traceparent,
        attributes: {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'messaging.destination.name': SAMPLES_QUEUE,
          'messaging.message.id': job.id,
          'amend.run_id': job.data.run_id,
          'amend.sample_id': job.data.sample_id,
          'amend.attempt': job.attemptsMade + 1,
        },
      },
      async () => {
        try {
          const outcome = await this.work(job, token, signal);
          this.tracing.annotate({ 'amend.outcome': outcome });
          return { outcome };
        } catch (err) {
          if (err instanceof DelayedError || err instanceof WaitingError) return { control: err };
          throw err;
        }
      },
    );
    if ('control' in done) throw done.control;
    return done.outcome;
  }

  private async work(job: Job<SampleJob>, token?: string, signal?: AbortSignal) {
    try {
      const outcome = await this.orchestrator.process(job.data.sample_id, signal);
      if (outcome === 'waiting') {
        // An evaluation's candidate whose baseline twin is not finished: the twin's worker moves
        // this job up when it finishes (releaseCandidateTwin); the delay is only the fallback.
        await job.moveToDelayed(Date.now() + TWIN_WAIT_MS, token);
        throw new DelayedError();
      }
      if (outcome !== 'skipped' && outcome !== 'taken_over') this.metrics.sampleFinished(outcome, outcome === 'completed');
      return outcome;
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      if (this.draining && signal?.aborted) {
        // Shutdown outlasted its grace: the job goes back to the queue as it was, no attempt spent.
        // Its sample resumes at its first unsaved stage on the next worker.
        await job.moveToWait(token);
        this.logger.warn({ run_id: job.data.run_id, sample_id: job.data.sample_id }, 'shutdown: job handed back to the queue');
        throw new WaitingError();
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        // Out of retries: the sample fails with its reason instead of staying stuck.
        const item = await this.store.samples.loadForWork(job.data.sample_id);
        if (item) await this.orchestrator.fail(item, `retries exhausted: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  /**
   * SIGTERM (Nest shutdown hooks): stop taking jobs, give the jobs in flight
   * WORKER_SHUTDOWN_GRACE_MS to finish, then abort them and hand them back to the queue.
   * Runs before onApplicationShutdown, so Postgres is still open while jobs finish.
   */
  async beforeApplicationShutdown() {
    const worker = this.worker;
    if (!worker || this.draining) return;
    this.draining = true;
    const grace = this.config.WORKER_SHUTDOWN_GRACE_MS;
    const closing = worker.close();
    let timer: NodeJS.Timeout | undefined;
    const inGrace = await Promise.race([closing.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), grace)))]);
    clearTimeout(timer);
    if (!inGrace) {
      this.logger.warn(`shutdown: calls still in flight after ${grace} ms; handing their jobs back`);
      worker.cancelAllJobs('shutdown');
      await closing;
    }
    this.logger.log('shutdown: worker closed');
  }

  async onApplicationShutdown() {
    await this.worker?.close();
  }
}
