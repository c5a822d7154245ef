/**
 * Whether a failed model call can succeed if asked again. The pipeline fails a sample on a
 * permanent error (its reason is recorded and the run goes on) and lets the retry layer
 * absorb transient ones; docs/architecture.md#errors-and-retries.
 */
export type ModelErrorKind = 'permanent' | 'transient';

export interface ModelErrorInit {
  kind: ModelErrorKind;
  code: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  rateLimitResetMs?: number;
  cause?: unknown;
}

/**
 * A failed chat-model call. `code` is stable and meant for machines (`rate_limited`,
 * `context_length_exceeded`, `unknown_model`, ...); `message` is for people and never
 * carries an API key.
 */
export class ModelError extends Error {
  readonly kind: ModelErrorKind;
  readonly code: string;
  /** HTTP status the backend answered with, when there was an answer. */
  readonly status?: number;
  /** How long the backend asked us to wait (`retry-after` / `retry-after-ms`). */
  readonly retryAfterMs?: number;
  /** On a 429, when the exhausted rate-limit window refills (`x-ratelimit-reset-*`), in ms from then. */
  readonly rateLimitResetMs?: number;
  /** Attempts made before this error was thrown; set by the retry layer. */
  attempts?: number;

  constructor(init: ModelErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ModelError';
    this.kind = init.kind;
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.rateLimitResetMs !== undefined) this.rateLimitResetMs = init.rateLimitResetMs;
  }

  get transient(): boolean {
    return this.kind === 'transient';
  }

  static permanent(code: string, message: string, extra: Partial<ModelErrorInit> = {}): ModelError {
    return new ModelError({ ...extra, kind: 'permanent', code, message });
  }

  static transient(code: string, message: string, extra: Partial<ModelErrorInit> = {}): ModelError {
    return new ModelError({ ...extra, kind: 'transient', code, message });
  }
}
