import { isRunFinished, type Run } from '@amend/contracts';
import { ApiClient, ErrorAnswer } from './api-client';

export interface WaitOptions {
  intervalMs: number;
  /** Aborting stops the wait (Ctrl-C); the run goes on on the server. */
  signal?: AbortSignal;
  onUpdate(run: Run): void;
  /** Told about each failed poll that will be retried. */
  onRetry?(err: ErrorAnswer, attempt: number): void;
  /** Consecutive transient failures tolerated before giving up. */
  maxRetries?: number;
}

export type WaitResult = { kind: 'terminal'; run: Run } | { kind: 'interrupted'; run: Run | null };

/**
 * Polls a run until it is terminal. A poll that fails for a transient reason (API restarting,
 * 5xx, 429) is retried with backoff: a deploy of the API must not kill a CLI that waits on an
 * hour-long run. Anything else (404, 401, a contract mismatch) ends the wait at once.
 */
export async function waitForRun(client: ApiClient, runId: string, opts: WaitOptions): Promise<WaitResult> {
  const maxRetries = opts.maxRetries ?? 20;
  let last: Run | null = null;
  let failures = 0;
  while (!opts.signal?.aborted) {
    try {
      last = await client.getRun(runId, opts.signal);
      failures = 0;
      opts.onUpdate(last);
      if (isRunFinished(last.status)) return { kind: 'terminal', run: last };
      await sleep(opts.intervalMs, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) break;
      if (!(err instanceof ErrorAnswer) || !err.transient || failures >= maxRetries) throw err;
      failures++;
      opts.onRetry?.(err, failures);
      await sleep(Math.min(opts.intervalMs * 2 ** failures, 10_000), opts.signal);
    }
  }
  return { kind: 'interrupted', run: last };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
