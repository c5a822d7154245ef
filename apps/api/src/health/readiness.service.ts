import { Inject, Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Store } from '@amend/store';
import type { Config } from '@amend/contracts';
import { AmendMetrics, CONFIG, SAMPLES_QUEUE } from '@amend/runtime';

/**
 * What /ready asks: can this process reach Postgres and Redis, and is no query of its Postgres
 * pools (the API's, and the worker's when `npm start` runs both) waiting for a connection longer
 * than READY_POOL_WAIT_MS. A pool whose connections all wait (issue 23) answers nothing else, so
 * an orchestrator should drain or restart the process.
 */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly store: Store,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
    private readonly metrics: AmendMetrics,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** Throws naming the pool whose oldest waiting query has waited past the threshold. */
  async pools(): Promise<void> {
    const schema = `:${this.config.DATABASE_SCHEMA}`;
    for (const [key, view] of this.metrics.poolViews()) {
      if (!key.endsWith(schema)) continue;
      if (view.oldestWaitMs > this.config.READY_POOL_WAIT_MS) {
        throw new Error(`pool ${key}: ${view.waiting} queries waiting for a connection, the oldest for ${view.oldestWaitMs} ms (${view.total} connections)`);
      }
    }
  }

  postgres(): Promise<void> {
    return this.store.ping();
  }

  async redis(): Promise<void> {
    // eslint-disable-next-line no-restricted-syntax -- BullMQ types its client as its own narrow IRedisClient; it is an ioredis client, which has ping.
    await ((await this.queue.client) as unknown as Redis).ping();
  }
}
