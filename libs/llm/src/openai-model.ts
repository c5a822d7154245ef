import type OpenAI from 'openai';
import type { ChatModel, ChatRequest, ChatResult } from '@amend/pipeline';
import { classifyError } from './classify-error';
import { completionResult } from './completion-result';
import { ModelError } from './errors';
import { appliedAnswerMode, chatRequestBody, type ChatRequestBody, type JudgeAnswerMode, type StructuredOutputMode } from './request-body';
import { requestBytes } from './request-json';
import { DEFAULT_RETRY, type RetryEvent, type RetryOptions, withRetries } from './retry';
import { answerFetch, bodyAside } from './transport';
import { backendClient, type BackendOptions } from './backend';

/** `timeoutMs` defaults to 60 s here. */
export interface OpenAICompatibleModelOptions extends BackendOptions {
  /** Called before each backoff sleep: for logs and metrics. */
  onRetry?: (e: RetryEvent) => void;
  /**
   * Awaited before every attempt after the first (the first was admitted by whoever called
   * `complete`): the shared rate limiter holds retries here while the backend asked for a pause.
   */
  beforeRetryAttempt?: (attempt: number, signal?: AbortSignal) => Promise<void>;
  /** What the backend can do for a multiple-choice answer (AMEND_MODELS `judge_answer`); default `text`. */
  judgeAnswer?: JudgeAnswerMode;
  /** Where the backend takes a JSON Schema (AMEND_MODELS `structured_output`); unset: it is not sent. */
  structuredOutput?: StructuredOutputMode;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * A ChatModel on any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang,
 * llama.cpp, Ollama, the HTTP simulator). The SDK's own retries are off (`maxRetries: 0`) so
 * that the only retry layer is ours, with its deadline, abort and `retry-after` handling.
 */
export class OpenAICompatibleModel implements ChatModel {
  private readonly client: OpenAI;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;

  constructor(private readonly options: OpenAICompatibleModelOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    // A pooled keep-alive transport (transport.ts); the SDK stays the API surface.
    this.client = backendClient(options, this.timeoutMs, { fetch: answerFetch });
  }

  /**
   * `latency_ms` is that of the attempt that succeeded (what the backend took); time lost to
   * failed attempts and backoff shows in `attempts` instead.
   */
  async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const body = chatRequestBody(this.options.model, req, this.options.judgeAnswer, this.options.structuredOutput);
    const answerMode = appliedAnswerMode(req, this.options.judgeAnswer, this.options.structuredOutput);
    // Serialised once for every attempt, the few-shot prefix's messages from a cache (request-json.ts).
    const bytes = requestBytes(body);
    const gate = this.options.beforeRetryAttempt;
    const { value, attempts } = await withRetries(
      async (n) => {
        if (n > 1 && gate) await gate(n, signal);
        return this.attempt(body, bytes, signal);
      },
      this.retry,
      signal,
      this.options.onRetry,
    );
    return { ...value, attempts, ...(answerMode && { answer_mode: answerMode }) };
  }

  /** One HTTP call, its timeout covering the body as well as the headers. */
  private async attempt(body: ChatRequestBody, bytes: Buffer, signal?: AbortSignal): Promise<Omit<ChatResult, 'attempts'>> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    try {
      // The SDK passes a byte body through as it is (with our content type).
      const raw = await this.client
        .post('/chat/completions', { body: bytes, headers: { 'content-type': 'application/json' }, signal: controller.signal })
        .asResponse();
      const text = bodyAside(raw) ?? (await raw.text());
      const latency = performance.now() - started;
      return this.toResult(body, text, latency);
    } catch (e) {
      // A caller's abort is not a model failure: let it through as an AbortError for the retry loop to rethrow.
      if (signal?.aborted) throw signal.reason;
      const error =
        timedOut && !(e instanceof ModelError)
          ? ModelError.transient('timeout', `${this.options.alias}: no complete answer within ${this.timeoutMs} ms`, { cause: e })
          : classifyError(e, this.options.alias);
      throw this.redacted(error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private toResult(body: ChatRequestBody, text: string, latencyMs: number): Omit<ChatResult, 'attempts'> {
    let response: unknown;
    try {
      response = JSON.parse(text);
    } catch {
      throw ModelError.transient('malformed_response', `${this.options.alias}: the response body is not valid JSON`);
    }
    return completionResult(this.options.alias, this.options.model, body, response, latencyMs);
  }

  /** A backend may quote the key back in an error ("Incorrect API key provided: sk-..."); it must go no further. */
  private redacted(error: ModelError): ModelError {
    const key = this.options.apiKey;
    if (!key || key.length < 4 || !error.message.includes(key)) return error;
    const clean = new ModelError({
      kind: error.kind,
      code: error.code,
      status: error.status,
      retryAfterMs: error.retryAfterMs,
      rateLimitResetMs: error.rateLimitResetMs,
      message: error.message.split(key).join('[redacted]'),
    });
    return clean;
  }
}
