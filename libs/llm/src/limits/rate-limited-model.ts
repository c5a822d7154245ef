import type { ChatModel, ChatRequest, ChatResult } from '@amend/pipeline';
import { ModelError } from '../errors';
import type { RetryEvent } from '../retry';
import { SharedLimiter, type WaitReason } from './shared-limiter';

export interface LimiterWait {
  alias: string;
  waitedMs: number;
  /** Why it waited (the longest reason), undefined when it was admitted at once. */
  reason?: WaitReason;
  /** A retry of a call already in flight, rather than a new call. */
  retry: boolean;
}

/**
 * A ChatModel behind the alias's shared limiter: each call waits for a request, its estimated
 * tokens and a slot, holds the slot across the adapter's retries, and settles the tokens with
 * the real usage. The adapter stays the only retry layer: it reports each failed attempt here
 * (`onAttemptFailed`, wired to its onRetry) and waits in `beforeRetryAttempt` before retrying.
 */
export class RateLimitedModel implements ChatModel {
  constructor(
    private readonly inner: ChatModel,
    readonly limiter: SharedLimiter,
    private readonly onWait?: (w: LimiterWait) => void,
  ) {}

  async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const chars = req.messages.reduce((n, m) => n + m.content.length, 0);
    const lease = await this.limiter.acquire(SharedLimiter.estimateTokens(chars, req.sampling.max_tokens), signal);
    this.onWait?.({ alias: this.limiter.alias, waitedMs: lease.waitedMs, reason: lease.reason, retry: false });
    let result: ChatResult | undefined;
    try {
      result = await this.inner.complete(req, signal);
      return result;
    } catch (e) {
      // The last attempt's error reaches here without an onRetry event: a 429 still slows everyone down.
      if (e instanceof ModelError) await this.onAttemptFailed(e);
      throw e;
    } finally {
      await this.limiter.release(lease, {
        ok: result !== undefined,
        tokensUsed: result ? result.usage.prompt_tokens + result.usage.completion_tokens : 0,
      });
    }
  }

  /** For the adapter's `beforeRetryAttempt`: honour a pause and the request rate before retrying. */
  readonly beforeRetryAttempt = async (_attempt: number, signal?: AbortSignal): Promise<void> => {
    const lease = await this.limiter.admitRetry(signal);
    this.onWait?.({ alias: this.limiter.alias, waitedMs: lease.waitedMs, reason: lease.reason, retry: true });
  };

  /** For the adapter's `onRetry`: a 429 halves the rate (once per cooldown) and pauses every process. */
  readonly onRetry = (e: RetryEvent): Promise<void> => this.onAttemptFailed(e.error);

  private async onAttemptFailed(error: ModelError): Promise<void> {
    if (error.status !== 429) return;
    const pause = Math.max(error.retryAfterMs ?? 0, error.rateLimitResetMs ?? 0);
    await this.limiter.rateLimited(pause);
  }
}
