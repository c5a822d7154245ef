/**
 * Limits that the request schemas enforce. Read from the environment at call time so the
 * operator (and each test) can set them; the defaults are the documented ones.
 */
export function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

export const LIMITS = {
  promptsPerRun: () => intEnv('AMEND_MAX_PROMPTS', 100_000),
  promptChars: () => intEnv('AMEND_MAX_PROMPT_CHARS', 32_000),
  /** Messages of a multi-turn prompt; each message is held to promptChars as well. */
  promptMessages: () => intEnv('AMEND_MAX_PROMPT_MESSAGES', 64),
  /**
   * Characters of a multi-turn prompt, all messages together: twice a single prompt's limit by
   * default, so a conversation and the constitution's few-shot prefix still fit a 32k context.
   */
  conversationChars: () => intEnv('AMEND_MAX_CONVERSATION_CHARS', 2 * intEnv('AMEND_MAX_PROMPT_CHARS', 32_000)),
  /**
   * A JSON body in bytes, read into memory only after the key was checked: a few thousand
   * prompts. Larger runs stream as JSON Lines (`Content-Type: application/x-ndjson`), which is
   * never held whole.
   */
  bodyBytes: () => intEnv('AMEND_MAX_BODY_BYTES', 4 * 1024 * 1024),
  /** A streamed (JSON Lines) run upload in bytes: bounded by prompts per run and prompt size anyway. */
  streamedBodyBytes: () => intEnv('AMEND_MAX_STREAMED_BODY_BYTES', 1024 * 1024 * 1024),
  /** A constitution body (YAML or JSON); the bundled ones are 10-20 KB. */
  constitutionBytes: () => intEnv('AMEND_MAX_CONSTITUTION_BYTES', 1024 * 1024),
};

/** Critique-revise rounds per sample: the paper used 4, and past 8 the revisions stop changing. */
export const ROUNDS = { min: 1, max: 8 } as const;
