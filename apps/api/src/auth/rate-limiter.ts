import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import IORedis, { type Redis } from 'ioredis';
import type { Config } from '@amend/contracts';
import { CONFIG } from '@amend/runtime';
import { ApiError } from '../errors/api-error';

const WINDOW_MS = 60_000;
/** A Redis that does not answer within this long does not hold a request up. */
const REDIS_TIMEOUT_MS = 500;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number; limit: number };

/**
 * Requests per minute per key, and failed authentications per client address, counted in Redis
 * so every API instance shares the count: a fixed one-minute window per key (INCR on a key that
 * expires with its window). A fixed window lets a key send up to twice its limit across a window
 * boundary; that is the price of one round trip.
 *
 * When Redis is down the request goes through (logged): Postgres is the source of truth and reads
 * must keep working while the queue is away; limiting resumes when Redis does. An operator who
 * prefers refusing to serving unlimited sets AMEND_RATE_LIMITS_FAIL_CLOSED=true: then 503.
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
    const count = await this.incr(`ratelimit:${keyId}`, now);
    if (count === null || count <= perMinute) return { allowed: true };
    return { allowed: false, retryAfterS: retryAfter(now), limit: perMinute };
  }

  /** Whether this address is over its failed authentications this minute (null: not over, or Redis away and failing open). */
  async authFailuresExceeded(address: string, now = Date.now()): Promise<{ retryAfterS: number; limit: number } | null> {
    const limit = this.config.AMEND_AUTH_FAILURES_PER_MINUTE;
    let count: number;
    try {
      count = Number((await this.redis.get(this.windowKey(`authfail:${address}`, now))) ?? 0);
    } catch (err) {
      this.unavailable(err as Error, now);
      return null;
    }
    return count >= limit ? { retryAfterS: retryAfter(now), limit } : null;
  }

  /** Counts one failed authentication of this address; answers the refusal once it goes over the limit. */
  async recordAuthFailure(address: string, now = Date.now()): Promise<{ retryAfterS: number; limit: number } | null> {
    const limit = this.config.AMEND_AUTH_FAILURES_PER_MINUTE;
    const count = await this.incr(`authfail:${address}`, now);
    return count !== null && count > limit ? { retryAfterS: retryAfter(now), limit } : null;
  }

  private windowKey(what: string, now: number): string {
    return `${this.config.QUEUE_PREFIX}:${what}:${Math.floor(now / WINDOW_MS)}`;
  }

  /** The count after this request, or null when Redis did not answer and limits fail open. */
  private async incr(what: string, now: number): Promise<number | null> {
    const key = this.windowKey(what, now);
    try {
      const results = await this.redis
        .multi()
        .incr(key)
        .pexpire(key, WINDOW_MS * 2)
        .exec();
      return Number(results?.[0]?.[1]);
    } catch (err) {
      this.unavailable(err as Error, now);
      return null;
    }
  }

  private unavailable(err: Error, now: number): void {
    const closed = this.config.AMEND_RATE_LIMITS_FAIL_CLOSED === true;
    if (now - this.lastWarning > 10_000) {
      this.lastWarning = now;
      this.logger.warn(`rate limits ${closed ? 'refusing requests' : 'not enforced'}: Redis did not answer (${err.message})`);
    }
    if (closed) {
      throw new ApiError(
        'rate_limiter_unavailable',
        'rate limits cannot be checked (Redis is unavailable) and this server refuses requests until they can; retry shortly',
        undefined,
        {
          'Retry-After': '5',
        },
      );
    }
  }

  async onApplicationShutdown() {
    this.redis.disconnect();
  }
}

function retryAfter(now: number): number {
  const window = Math.floor(now / WINDOW_MS);
  return Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
}
