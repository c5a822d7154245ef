import type { Server } from 'node:http';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Config } from '@amend/contracts';
import { AmendMetrics, CONFIG, SAMPLES_QUEUE, acquireMetricsServer, listeningPort } from '@amend/runtime';

/**
 * The worker's metrics: always recorded in the process's registry (an API in the same process
 * serves them at /metrics); served on METRICS_PORT as well when it is set.
 */
@Injectable()
export class WorkerMetrics implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerMetrics');
  private server?: { server: Server; release: () => Promise<void> };

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    private readonly metrics: AmendMetrics,
  ) {}

  async onApplicationBootstrap() {
    this.metrics.watchQueue(this.config.QUEUE_PREFIX, this.queue);
    if (this.config.METRICS_PORT > 0) {
      this.server = await acquireMetricsServer(this.metrics, this.config.METRICS_PORT, this.config.HOST);
      this.logger.log(`metrics on http://${this.config.HOST}:${listeningPort(this.server.server)}/metrics`);
    }
  }

  async onApplicationShutdown() {
    this.metrics.unwatchQueue(this.config.QUEUE_PREFIX, this.queue);
    await this.server?.release();
  }
}
