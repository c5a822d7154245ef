import { ModelError } from './errors';

/*
 * Why a small loop and not a library: cockatiel 4 needs Node >= 22 (we run 20), and
 * cockatiel 3's RetryPolicy sleeps between attempts on a timer that ignores the AbortSignal
 * (a cancelled run would sit out a 30 s backoff), has no overall deadline that gives up with
 * the last error, and would need a custom backoff to treat `retry-after` as a floor. Those
 * three are the whole of what we need, and this loop is short enough to read in one go.
 */

export interface RetryOptions {
  /** Total attempts, the first included. */
  maxAttempts: number;
  /** Exponential backoff: attempt n waits up to min(maxDelayMs, baseDelayMs * 2^(n-1)). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up (with the last error) rather than sleep past this many ms since the first attempt. */
  deadlineMs?: number;
  /**
   * A server asking for a longer pause than this is not waited for: the last error is thrown
   * at once, so one `retry-after: 3600` does not park a worker for an hour.
   */
  maxRetryAfterMs: number;
  /** In [0, 1); injectable so tests can pin the jitter. */
  random: () => number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 5 * 60_000,
  random: Math.random,
};

export interface RetryEvent {
  attempt: number;
  error: ModelError;
  delayMs: number;
}

/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): a uniform
 * draw over the whole exponential window spreads a burst of 429s better than a fixed delay
 * plus a little noise. A server's `retry-after` is a floor, never shortened.
 */
export function backoffDelay(attempt: number, opts: RetryOptions, retryAfterMs?: number): number {
  const window = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(opts.random() * window);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * Runs `attempt` until it succeeds, throws a permanent ModelError, runs out of attempts or
 * time, or `signal` aborts (then the abort reason is thrown, not a ModelError: a cancelled
 * call is not a model failure). `attempt` must throw ModelErrors.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  opts: RetryOptions,
  signal?: AbortSignal,
  onRetry?: (e: RetryEvent) => void,
): Promise<{ value: T; attempts: number }> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    try {
      return { value: await attempt(n), attempts: n };
    } catch (e) {
      signal?.throwIfAborted();
      if (!(e instanceof ModelError)) throw e;
      e.attempts = n;
      if (e.kind === 'permanent' || n >= opts.maxAttempts) throw e;
      if (e.retryAfterMs !== undefined && e.retryAfterMs > opts.maxRetryAfterMs) throw e;
      const delayMs = backoffDelay(n, opts, e.retryAfterMs);
      if (opts.deadlineMs !== undefined && Date.now() - started + delayMs > opts.deadlineMs) throw e;
      onRetry?.({ attempt: n, error: e, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/** A timer that an AbortSignal cuts short (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
