import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Store } from '@amend/store';
import { SAMPLES_QUEUE } from '@amend/runtime';

/** What /ready asks: can this process reach Postgres and Redis. */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly store: Store,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
  ) {}

  postgres(): Promise<void> {
    return this.store.ping();
  }

  async redis(): Promise<void> {
    // eslint-disable-next-line no-restricted-syntax -- BullMQ types its client as its own narrow IRedisClient; it is an ioredis client, which has ping.
    await ((await this.queue.client) as unknown as Redis).ping();
  }
}
