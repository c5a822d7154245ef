import type { ChatModel } from '@amend/pipeline';
import { ModelError } from './errors';
import { type ModelsConfig, isSimulatorConfig } from './models-config';
import { OpenAICompatibleModel } from './openai-model';
import type { RetryEvent, RetryOptions } from './retry';
import { SimulatorModel } from './simulator/simulator-model';

export interface ModelRegistryOptions {
  /** Overrides of every remote model's retry policy (tests shrink the delays). */
  retry?: Partial<RetryOptions>;
  /** Overrides every remote model's per-attempt timeout. */
  timeoutMs?: number;
  /** Where api_key_env is looked up; default process.env. */
  env?: NodeJS.ProcessEnv;
  onRetry?: (alias: string, e: RetryEvent) => void;
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

  constructor(
    private readonly config: ModelsConfig,
    options: ModelRegistryOptions = {},
  ) {
    const env = options.env ?? process.env;
    for (const [alias, entry] of Object.entries(config)) {
      if (isSimulatorConfig(entry)) {
        this.models.set(alias, new SimulatorModel({ latencyMs: entry.latency_ms }));
        continue;
      }
      let apiKey: string | undefined;
      if (entry.api_key_env !== undefined) {
        apiKey = env[entry.api_key_env];
        if (!apiKey) {
          throw new Error(
            `AMEND_MODELS alias "${alias}": environment variable ${entry.api_key_env} (api_key_env) is not set or empty`,
          );
        }
      }
      this.models.set(
        alias,
        new OpenAICompatibleModel({
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
          onRetry: options.onRetry && ((e) => options.onRetry!(alias, e)),
        }),
      );
    }
  }

  /** The model behind `alias`; a permanent ModelError `unknown_model` when there is none. */
  get(alias: string): ChatModel {
    const model = this.models.get(alias);
    if (!model) {
      throw ModelError.permanent(
        'unknown_model',
        `unknown model alias "${alias}"; configured aliases: ${this.aliases().join(', ') || '(none)'}`,
      );
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
      out[alias] = isSimulatorConfig(entry)
        ? { kind: 'simulator' }
        : { kind: 'openai-compatible', model: entry.model, base_url: entry.base_url };
    }
    return out;
  }
}
