import type { ConnectionOptions } from 'bullmq';

/** BullMQ connection options from REDIS_URL; blocking commands need maxRetriesPerRequest null. */
export function redisConnection(url: string): ConnectionOptions {
  const redis = new URL(url);
  return {
    host: redis.hostname,
    port: Number(redis.port || 6379),
    username: redis.username || undefined,
    password: redis.password ? decodeURIComponent(redis.password) : undefined,
    db: redis.pathname.length > 1 ? Number(redis.pathname.slice(1)) : undefined,
    maxRetriesPerRequest: null,
  };
}
