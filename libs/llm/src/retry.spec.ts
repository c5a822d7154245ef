import { ModelError } from './errors';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions, withRetries } from './retry';

const opts = (o: Partial<RetryOptions> = {}): RetryOptions => ({ ...DEFAULT_RETRY, baseDelayMs: 1, maxDelayMs: 4, ...o });
const transient = () => ModelError.transient('server_error', 'boom', { status: 500 });

describe('backoffDelay', () => {
  it('draws uniformly from a window that doubles from 500 ms up to the 30 s cap', () => {
    const top = { ...DEFAULT_RETRY, random: () => 0.999999 };
    expect([1, 2, 3, 7, 8, 12].map((n) => backoffDelay(n, top))).toEqual([499, 999, 1999, 29999, 29999, 29999]);
    expect(backoffDelay(5, { ...DEFAULT_RETRY, random: () => 0 })).toBe(0);
  });

  it('never waits less than the server asked', () => {
    expect(backoffDelay(1, { ...DEFAULT_RETRY, random: () => 0 }, 1_500)).toBe(1_500);
    expect(backoffDelay(8, { ...DEFAULT_RETRY, random: () => 0.99 }, 1_500)).toBeGreaterThan(1_500);
  });
});

describe('withRetries', () => {
  it('retries transient errors and reports the attempts it took', async () => {
    let calls = 0;
    const { value, attempts } = await withRetries(async () => {
      if (++calls < 3) throw transient();
      return 'ok';
    }, opts());
    expect([value, attempts, calls]).toEqual(['ok', 3, 3]);
  });

  it('throws a permanent error at once', async () => {
    let calls = 0;
    const p = withRetries(async () => {
      calls++;
      throw ModelError.permanent('bad_request', 'no');
    }, opts());
    await expect(p).rejects.toMatchObject({ code: 'bad_request', attempts: 1 });
    expect(calls).toBe(1);
  });

  it('does not wait for a retry-after longer than maxRetryAfterMs', async () => {
    let calls = 0;
    const p = withRetries(async () => {
      calls++;
      throw ModelError.transient('rate_limited', 'slow down', { retryAfterMs: 3_600_000 });
    }, opts());
    await expect(p).rejects.toMatchObject({ code: 'rate_limited', attempts: 1 });
    expect(calls).toBe(1);
  });

  it('lets errors that are not ModelErrors through untouched', async () => {
    await expect(withRetries(async () => Promise.reject(new TypeError('bug')), opts())).rejects.toThrow(TypeError);
  });

  it('does not start when the signal is already aborted', async () => {
    let calls = 0;
    const signal = AbortSignal.abort(new Error('cancelled'));
    await expect(withRetries(async () => ++calls, opts(), signal)).rejects.toThrow('cancelled');
    expect(calls).toBe(0);
  });
});
