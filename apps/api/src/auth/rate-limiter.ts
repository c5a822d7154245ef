import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import IORedis, { type Redis } from 'ioredis';
import type { Config } from '@amend/contracts';
import { CONFIG } from '@amend/runtime';

const WINDOW_MS = 60_000;
/** A Redis that does not answer within this long does not hold a request up. */
const REDIS_TIMEOUT_MS = 500;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number; limit: number };

/**
 * Requests per minute per key, counted in Redis so every API instance shares the count: a fixed
 * one-minute window per key (INCR on a key that expires with its window). A fixed window lets a
 * key send up to twice its limit across a window boundary; that is the price of one round trip.
 *
 * When Redis is down the request goes through (logged): Postgres is the source of truth and reads
 * must keep working while the queue is away; limiting resumes when Redis does.
 */
@Injectable()
export class RateLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger('RateLimiter');
  private readonly redis: Redis;
  private lastWarning = 0;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    this.redis = new IORedis(config.REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: REDIS_TIMEOUT_MS, lazyConnect: true });
    this.redis.on('error', () => undefined);
  }

  async take(keyId: string, perMinute: number, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / WINDOW_MS);
    const key = `${this.config.QUEUE_PREFIX}:ratelimit:${keyId}:${window}`;
    let count: number;
    try {
      const results = await this.redis.multi().incr(key).pexpire(key, WINDOW_MS * 2).exec();
      count = Number(results?.[0]?.[1]);
    } catch (err) {
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now;
        this.logger.warn(`rate limits not enforced: Redis did not answer (${(err as Error).message})`);
      }
      return { allowed: true };
    }
    if (count <= perMinute) return { allowed: true };
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000)), limit: perMinute };
  }

  async onApplicationShutdown() {
    this.redis.disconnect();
  }
}
