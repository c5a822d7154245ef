import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Config, SampleJob } from '@amend/contracts';
import { CONFIG, SAMPLES_QUEUE, redisConnection } from '@amend/runtime';
import { Store } from '@amend/store';
import { SampleProcessor } from './sample-processor';

/**
 * The BullMQ worker. Built by hand rather than with @Processor because its concurrency and lock
 * duration come from runtime configuration, which a decorator evaluated at import cannot see.
 */
@Injectable()
export class SampleWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SampleWorker');
  private worker?: Worker<SampleJob>;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly processor: SampleProcessor,
    private readonly store: Store,
  ) {}

  onApplicationBootstrap() {
    this.worker = new Worker<SampleJob>(SAMPLES_QUEUE, (job, _token, signal) => this.handle(job, signal), {
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

  private async handle(job: Job<SampleJob>, signal?: AbortSignal) {
    try {
      return await this.processor.process(job.data.sample_id, signal);
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        // Out of retries: the sample fails with its reason instead of staying stuck.
        const item = await this.store.samples.loadForWork(job.data.sample_id);
        if (item) await this.processor.fail(item, `retries exhausted: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  async onApplicationShutdown() {
    // Stops taking jobs and waits for those in flight; unfinished ones return to the queue.
    await this.worker?.close();
  }
}
