import OpenAI, { type ClientOptions } from 'openai';
import type { RetryOptions } from './retry';

/** One OpenAI-compatible backend as an alias of AMEND_MODELS configures it, for a chat or a batch client. */
export interface BackendOptions {
  /** The operator's alias, used in error messages. */
  alias: string;
  baseURL: string;
  /** The model id sent to the backend (every line of a batch names it too). */
  model: string;
  /** The key itself (already read from the environment); never logged or echoed. */
  apiKey?: string;
  /** Per attempt: connect, headers and body. */
  timeoutMs?: number;
  /** Retry behaviour; tests shrink the delays. */
  retry?: Partial<RetryOptions>;
}

/**
 * The `openai` client for a backend, with the SDK's own retries off (`maxRetries: 0`) so that the
 * only retry layer is ours, with its deadline, abort and `retry-after` handling.
 */
export function backendClient(options: BackendOptions, timeoutMs: number, extra: Pick<ClientOptions, 'fetch'> = {}): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL,
    // Local servers (vLLM, the simulator) take no key, but the SDK insists on one.
    apiKey: options.apiKey ?? 'unused',
    maxRetries: 0,
    timeout: timeoutMs,
    ...extra,
  });
}
