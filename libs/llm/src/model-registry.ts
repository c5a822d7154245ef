import type { ChatModel } from '@amend/pipeline';
import type { Redis } from 'ioredis';
import { ModelError } from './errors';
import { type ModelPrices, type ModelsConfig, batchPricesOf, isSimulatorConfig, limitsOf, pricesOf, supportsBatch } from './models-config';
import { OpenAIBatchClient } from './batch/batch-client';
import { OpenAICompatibleModel } from './openai-model';
import { RateLimitedModel, type LimiterWait } from './limits/rate-limited-model';
import { SharedLimiter, type LimiterTuning } from './limits/shared-limiter';
import type { RetryEvent, RetryOptions } from './retry';
import { SimulatorModel } from './simulator/simulator-model';
import { structuredOutputMode } from './request-body';

export interface ModelRegistryOptions {
  /** Overrides of every remote model's retry policy (tests shrink the delays). */
  retry?: Partial<RetryOptions>;
  /** Overrides every remote model's per-attempt timeout. */
  timeoutMs?: number;
  /** Where api_key_env is looked up; default process.env. */
  env?: NodeJS.ProcessEnv;
  onRetry?: (alias: string, e: RetryEvent) => void;
  /**
   * Where aliases with `rpm`, `tpm` or `max_in_flight` keep their shared limits. Without it
   * those limits are not enforced (the API, which makes no model calls, passes none).
   */
  redis?: Redis;
  /** Prefix of the limiter's Redis keys (the queue prefix). */
  limitsPrefix?: string;
  limiterTuning?: Partial<LimiterTuning>;
  onLimiterWait?: (w: LimiterWait) => void;
  onLimiterError?: (alias: string, err: Error) => void;
}

export interface ModelDescription {
  kind: 'simulator' | 'openai-compatible';
  model?: string;
  base_url?: string;
}

/**
 * The operator's model aliases (AMEND_MODELS), built once at boot. Each alias is exactly
 * what was configured: an alias configured as a real backend never falls back to the
 * simulator, and an unknown alias is an error, never the default.
 */
export class ModelRegistry {
  private readonly models = new Map<string, ChatModel>();
  private readonly limiters: SharedLimiter[] = [];
  private readonly batchClients = new Map<string, OpenAIBatchClient>();

  constructor(
    private readonly config: ModelsConfig,
    options: ModelRegistryOptions = {},
  ) {
    const env = options.env ?? process.env;
    for (const [alias, entry] of Object.entries(config)) {
      if (isSimulatorConfig(entry)) {
        this.models.set(
          alias,
          new SimulatorModel({
            latencyMs: entry.latency_ms,
            judgeStyle: entry.judge_style,
            judgeAnswer: entry.judge_answer,
            structuredOutput: structuredOutputMode(entry.structured_output),
          }),
        );
        continue;
      }
      let apiKey: string | undefined;
      if (entry.api_key_env !== undefined) {
        apiKey = env[entry.api_key_env];
        if (!apiKey) {
          throw new Error(`AMEND_MODELS alias "${alias}": environment variable ${entry.api_key_env} (api_key_env) is not set or empty`);
        }
      }
      const limits = limitsOf(entry);
      const limiter =
        limits && options.redis
          ? new SharedLimiter({
              redis: options.redis,
              prefix: options.limitsPrefix ?? 'amend',
              alias,
              limits,
              tuning: options.limiterTuning,
              onError: options.onLimiterError && ((e) => options.onLimiterError!(alias, e)),
            })
          : undefined;
      let limited: RateLimitedModel | undefined;
      const adapter = new OpenAICompatibleModel({
        alias,
        baseURL: entry.base_url,
        model: entry.model,
        apiKey,
        timeoutMs: options.timeoutMs ?? entry.timeout_ms,
        retry: {
          ...(entry.max_attempts !== undefined && { maxAttempts: entry.max_attempts }),
          ...(entry.deadline_ms !== undefined && { deadlineMs: entry.deadline_ms }),
          ...options.retry,
        },
        onRetry: (e) => {
          void limited?.onRetry(e);
          options.onRetry?.(alias, e);
        },
        beforeRetryAttempt: limiter && ((n, signal) => limited!.beforeRetryAttempt(n, signal)),
        judgeAnswer: entry.judge_answer,
        structuredOutput: structuredOutputMode(entry.structured_output),
      });
      if (entry.batch) {
        this.batchClients.set(
          alias,
          new OpenAIBatchClient({
            alias,
            baseURL: entry.base_url,
            model: entry.model,
            apiKey,
            timeoutMs: options.timeoutMs ?? entry.timeout_ms,
            retry: options.retry,
            structuredOutput: structuredOutputMode(entry.structured_output),
          }),
        );
      }
      if (limiter) {
        limited = new RateLimitedModel(adapter, limiter, options.onLimiterWait);
        this.limiters.push(limiter);
      }
      this.models.set(alias, limited ?? adapter);
    }
  }

  /** The largest max_tokens a run may ask of `alias`, when the operator set one in AMEND_MODELS. */
  maxTokens(alias: string): number | undefined {
    return this.config[alias]?.max_tokens;
  }

  /** Per-1k-token prices of `alias`, when configured: what runs report as `usage.cost_usd`. */
  prices(alias: string): ModelPrices | undefined {
    const entry = this.config[alias];
    return entry === undefined ? undefined : pricesOf(entry);
  }

  /** True when `alias` is configured with `batch: true` (its backend has the Files and Batches API). */
  supportsBatch(alias: string): boolean {
    const entry = this.config[alias];
    return entry !== undefined && supportsBatch(entry);
  }

  /** Per-1k-token prices of `alias`'s batch calls (half the online prices unless configured). */
  batchPrices(alias: string): ModelPrices | undefined {
    const entry = this.config[alias];
    return entry === undefined ? undefined : batchPricesOf(entry);
  }

  /** The Files and Batches client of `alias`; a permanent ModelError when it has none. */
  batchClient(alias: string): OpenAIBatchClient {
    const client = this.batchClients.get(alias);
    if (!client) throw ModelError.permanent('batch_unsupported', `model alias "${alias}" is not configured with "batch": true`);
    return client;
  }

  /** The shared limiter of `alias`, when it has limits and a Redis connection was given. */
  limiter(alias: string): SharedLimiter | undefined {
    return this.limiters.find((l) => l.alias === alias);
  }

  /** Stops lease renewal; leases still held lapse in Redis. */
  close(): void {
    for (const l of this.limiters) l.close();
  }

  /** The model behind `alias`; a permanent ModelError `unknown_model` when there is none. */
  get(alias: string): ChatModel {
    const model = this.models.get(alias);
    if (!model) {
      throw ModelError.permanent('unknown_model', `unknown model alias "${alias}"; configured aliases: ${this.aliases().join(', ') || '(none)'}`);
    }
    return model;
  }

  has(alias: string): boolean {
    return this.models.has(alias);
  }

  aliases(): string[] {
    return [...this.models.keys()].sort();
  }

  /**
   * True for aliases configured as the in-process simulator. A remote alias pointing at the
   * HTTP simulator is not known here; its results say `simulated` from the response itself.
   */
  isSimulator(alias: string): boolean {
    const entry = this.config[alias];
    return entry !== undefined && isSimulatorConfig(entry);
  }

  /** What each alias is, for /ready, logs and run metadata. Never keys (nor their variable names). */
  describe(): Record<string, ModelDescription> {
    const out: Record<string, ModelDescription> = {};
    for (const alias of this.aliases()) {
      const entry = this.config[alias];
      out[alias] = isSimulatorConfig(entry) ? { kind: 'simulator' } : { kind: 'openai-compatible', model: entry.model, base_url: entry.base_url };
    }
    return out;
  }
}
