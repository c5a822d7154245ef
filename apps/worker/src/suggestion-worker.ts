import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { Config, SuggestionJob } from '@amend/contracts';
import { CONFIG, SUGGESTIONS_QUEUE, redisConnection } from '@amend/runtime';
import { SuggestionEngine } from './suggestion-engine';

/** The consumer of suggestion jobs: a few at a time, each making its own calls in parallel (SuggestionEngine). */
@Injectable()
export class SuggestionWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SuggestionWorker');
  private worker?: Worker<SuggestionJob>;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: SuggestionEngine,
  ) {}

  onApplicationBootstrap() {
    this.worker = new Worker<SuggestionJob>(SUGGESTIONS_QUEUE, (job, _token, signal) => this.handle(job, signal), {
      prefix: this.config.QUEUE_PREFIX,
      connection: redisConnection(this.config.REDIS_URL),
      concurrency: 2,
      lockDuration: this.config.WORKER_LOCK_MS,
      stalledInterval: Math.max(1000, Math.floor(this.config.WORKER_LOCK_MS / 2)),
    });
    this.worker.on('error', (err) => this.logger.error(`worker error: ${err.message}`));
  }

  private async handle(job: Job<SuggestionJob>, signal?: AbortSignal) {
    try {
      return await this.engine.process(job.data.suggestion_id, signal);
    } catch (err) {
      // Out of retries: the job fails with its reason instead of staying `running`.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await this.engine.fail(job.data.suggestion_id, `retries exhausted: ${(err as Error).message}`);
      throw err;
    }
  }

  async onApplicationShutdown() {
    await this.worker?.close();
  }
}
