import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ModelLimits } from '../models-config';
import { ACQUIRE_LUA, RATE_LIMITED_LUA, RELEASE_LUA, RENEW_LUA } from './limiter-scripts';

export type WaitReason = 'paused' | 'requests' | 'tokens' | 'in_flight';

export interface LimiterTuning {
  /** Share of a minute's allowance a bucket holds (the largest burst). */
  burstFraction: number;
  /** A lease not renewed for this long is a dead process's: its slot frees itself. */
  leaseTtlMs: number;
  /** How often a process renews the leases it holds. */
  renewEveryMs: number;
  /** Multiplicative decrease on a 429, and the floor of the factor. */
  decrease: number;
  minFactor: number;
  /** At most one decrease per this long. */
  decreaseCooldownMs: number;
  /** Additive increase per successful call. */
  increaseStep: number;
  /** Poll interval while every slot is taken by another process. */
  inFlightPollMs: number;
  /** Longest pause a 429 can impose (matches the adapter's maxRetryAfterMs). */
  maxPauseMs: number;
  /** State of an alias unused this long disappears from Redis. */
  idleTtlMs: number;
}

export const DEFAULT_TUNING: LimiterTuning = {
  burstFraction: 1 / 6,
  leaseTtlMs: 15_000,
  renewEveryMs: 5_000,
  decrease: 0.5,
  minFactor: 0.05,
  decreaseCooldownMs: 1_000,
  increaseStep: 0.02,
  inFlightPollMs: 25,
  maxPauseMs: 5 * 60_000,
  idleTtlMs: 60 * 60_000,
};

export interface Lease {
  id: string;
  estimatedTokens: number;
  /** ms spent waiting for admission. */
  waitedMs: number;
  /** The longest reason it waited for, if it waited. */
  reason?: WaitReason;
}

export interface SharedLimiterOptions {
  redis: Redis;
  /** Key prefix, e.g. the queue prefix, so test stacks do not share limits. */
  prefix: string;
  alias: string;
  limits: ModelLimits;
  tuning?: Partial<LimiterTuning>;
  /** Redis errors are retried, never thrown at callers; this hears about them. */
  onError?: (err: Error) => void;
}

interface Waiter {
  estimatedTokens: number;
  retry: boolean;
  enqueued: number;
  reason?: WaitReason;
  signal?: AbortSignal;
  resolve: (lease: Lease) => void;
  reject: (err: unknown) => void;
}

type LimiterRedis = Redis & {
  amendLimiterAcquire(state: string, leases: string, ...args: (string | number)[]): Promise<[number, number, string]>;
  amendLimiterRelease(state: string, leases: string, ...args: (string | number)[]): Promise<number>;
  amendLimiterRateLimited(state: string, leases: string, ...args: (string | number)[]): Promise<string>;
  amendLimiterRenew(state: string, leases: string, ...args: (string | number)[]): Promise<number>;
};

function withScripts(redis: Redis): LimiterRedis {
  const r = redis as LimiterRedis;
  if (typeof r.amendLimiterAcquire !== 'function') {
    // defineCommand sends EVALSHA and falls back to EVAL after a restart flushed the script cache.
    redis.defineCommand('amendLimiterAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    redis.defineCommand('amendLimiterRelease', { numberOfKeys: 2, lua: RELEASE_LUA });
    redis.defineCommand('amendLimiterRateLimited', { numberOfKeys: 2, lua: RATE_LIMITED_LUA });
    redis.defineCommand('amendLimiterRenew', { numberOfKeys: 2, lua: RENEW_LUA });
  }
  return r;
}

/**
 * Requests per minute, tokens per minute and calls in flight for one model alias, shared by
 * every process through Redis, slowed down on 429s (AIMD) and paused for as long as the
 * backend asks. Within a process, callers queue FIFO and only the head asks Redis, so a
 * thousand waiting calls cost one poll, not a thousand.
 */
export class SharedLimiter {
  readonly alias: string;
  private readonly redis: LimiterRedis;
  private readonly tuning: LimiterTuning;
  private readonly stateKey: string;
  private readonly leasesKey: string;
  private readonly queue: Waiter[] = [];
  private readonly held = new Set<string>();
  private pumping = false;
  private wake?: () => void;
  private renewTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: SharedLimiterOptions) {
    this.alias = options.alias;
    this.redis = withScripts(options.redis);
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    // One hash tag per alias keeps both keys in one slot should the queue move to Redis Cluster.
    const base = `${options.prefix}:limits:{${options.alias}}`;
    this.stateKey = `${base}:state`;
    this.leasesKey = `${base}:leases`;
  }

  /** Estimated tokens of a call: prompt characters / 4 plus the completion allowance. */
  static estimateTokens(promptChars: number, maxTokens: number): number {
    return Math.ceil(promptChars / 4) + maxTokens;
  }

  /** Waits for a request, the estimated tokens and a slot. Rejects only when `signal` aborts. */
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Lease> {
    return this.enqueue(estimatedTokens, false, signal);
  }

  /**
   * Before a retry of a call that already holds a lease: waits out a pause and takes a request
   * (no tokens, no slot). Retries go to the front of the line: they hold a slot already.
   */
  async admitRetry(signal?: AbortSignal): Promise<Lease> {
    return this.enqueue(0, true, signal);
  }

  /** Settles the tokens with what the call really used (0 when it failed) and frees the slot. */
  async release(lease: Lease, outcome: { ok: boolean; tokensUsed?: number }): Promise<void> {
    this.held.delete(lease.id);
    const delta = (outcome.tokensUsed ?? 0) - lease.estimatedTokens;
    try {
      await this.redis.amendLimiterRelease(
        this.stateKey,
        this.leasesKey,
        lease.id,
        this.options.limits.tpm ? delta : 0,
        outcome.ok ? 'ok' : 'failed',
        this.tuning.increaseStep,
        this.tuning.idleTtlMs,
      );
    } catch (e) {
      // The lease lapses by itself; a missed settlement only skews one estimate.
      this.options.onError?.(e as Error);
    }
    this.wake?.();
  }

  /** A 429: slow down, and pause every process for as long as the backend asked. Returns the new factor. */
  async rateLimited(pauseMs: number | undefined): Promise<number | undefined> {
    const pause = Math.min(Math.max(0, Math.ceil(pauseMs ?? 0)), this.tuning.maxPauseMs);
    try {
      const factor = await this.redis.amendLimiterRateLimited(
        this.stateKey,
        this.leasesKey,
        pause,
        this.tuning.decrease,
        this.tuning.minFactor,
        this.tuning.decreaseCooldownMs,
        this.tuning.idleTtlMs,
      );
      return Number(factor);
    } catch (e) {
      this.options.onError?.(e as Error);
      return undefined;
    }
  }

  /** The AIMD factor and pause now in force, for metrics and tests. */
  async state(): Promise<{ factor: number; pausedUntil: number; inFlight: number }> {
    const [[, v], [, n]] = (await this.redis.multi().hmget(this.stateKey, 'factor', 'paused_until').zcard(this.leasesKey).exec()) as [
      [unknown, (string | null)[]],
      [unknown, number],
    ];
    return { factor: Number(v[0] ?? 1), pausedUntil: Number(v[1] ?? 0), inFlight: n };
  }

  /** Local waiters rejected, lease renewal stopped. Leases still held lapse in Redis. */
  close(): void {
    this.closed = true;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    for (const w of this.queue.splice(0)) w.reject(new Error(`rate limiter of ${this.alias} closed`));
    this.wake?.();
  }

  private enqueue(estimatedTokens: number, retry: boolean, signal?: AbortSignal): Promise<Lease> {
    signal?.throwIfAborted();
    if (this.closed) return Promise.reject(new Error(`rate limiter of ${this.alias} closed`));
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = { estimatedTokens, retry, enqueued: performance.now(), signal, resolve, reject };
      if (retry) this.queue.unshift(w);
      else this.queue.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(w);
          if (at < 0) return; // already admitted
          this.queue.splice(at, 1);
          reject(signal.reason);
          if (at === 0) this.wake?.();
        },
        { once: true },
      );
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        const head = this.queue[0];
        const id = head.retry ? '' : randomUUID();
        let result: [number, number, string];
        try {
          result = await this.redis.amendLimiterAcquire(
            this.stateKey,
            this.leasesKey,
            this.options.limits.rpm ?? 0,
            this.options.limits.tpm ?? 0,
            this.options.limits.max_in_flight ?? 0,
            head.estimatedTokens,
            id,
            this.tuning.leaseTtlMs,
            this.tuning.burstFraction,
            this.tuning.idleTtlMs,
          );
        } catch (e) {
          this.options.onError?.(e as Error);
          await this.idle(500);
          continue;
        }
        const [admitted, waitMs, reason] = result;
        if (this.queue[0] !== head) {
          // The head gave up while Redis answered: hand back what it was just given.
          if (admitted === 1 && id) void this.release({ id, estimatedTokens: head.estimatedTokens, waitedMs: 0 }, { ok: false });
          continue;
        }
        if (admitted === 1) {
          this.queue.shift();
          if (id) {
            this.held.add(id);
            this.startRenewing();
          }
          const waitedMs = performance.now() - head.enqueued;
          head.resolve({ id, estimatedTokens: head.retry ? 0 : head.estimatedTokens, waitedMs, reason: head.reason });
          continue;
        }
        head.reason = this.longer(head.reason, reason as WaitReason);
        await this.idle(waitMs < 0 ? this.tuning.inFlightPollMs : Math.max(1, waitMs));
      }
    } finally {
      this.pumping = false;
    }
  }

  /** 'paused' outranks the rest: it is what the backend asked for. */
  private longer(a: WaitReason | undefined, b: WaitReason): WaitReason {
    return a === 'paused' ? a : b;
  }

  /** Sleeps up to `ms`, cut short by a local release or an abort. */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renew(), this.tuning.renewEveryMs);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) {
      clearInterval(this.renewTimer);
      this.renewTimer = undefined;
      return;
    }
    try {
      await this.redis.amendLimiterRenew(this.stateKey, this.leasesKey, this.tuning.leaseTtlMs, ...this.held);
    } catch (e) {
      this.options.onError?.(e as Error);
    }
  }
}
