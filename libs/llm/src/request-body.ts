import type { ChatRequest } from '@amend/pipeline';

/** The JSON body of a chat-completions call, exactly as sent (and as echoed in ChatResult.request). */
export interface ChatRequestBody {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  temperature: number;
  top_p: number;
  max_tokens: number;
  seed?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  /** vLLM: continue the final (assistant) message instead of starting a new one. */
  continue_final_message?: boolean;
  add_generation_prompt?: boolean;
  /** vLLM before 0.11: the output is one of these strings. */
  guided_choice?: string[];
  /** vLLM 0.10.2 and later: the same constraint under its new name. */
  structured_outputs?: { choice: string[] };
  /** OpenAI's structured output (and every server that copies it): the answer follows this JSON Schema. */
  response_format?: { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown>; strict: true } };
  /** vLLM's guided decoding by JSON Schema (an extra parameter of its OpenAI-compatible server). */
  guided_json?: Record<string, unknown>;
  /** Ollama's structured output: the JSON Schema in `format`. */
  format?: Record<string, unknown>;
}

/**
 * Where an alias's backend takes the JSON Schema of a structured answer (AMEND_MODELS
 * `structured_output`; `true` is `response_format`):
 * - `response_format`: OpenAI's `{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`;
 * - `guided_json`: vLLM's extra parameter, the schema itself;
 * - `format`: Ollama's, the schema itself.
 */
export const STRUCTURED_OUTPUT_MODES = ['response_format', 'guided_json', 'format'] as const;
export type StructuredOutputMode = (typeof STRUCTURED_OUTPUT_MODES)[number];

/** The mode an alias's `structured_output` setting stands for; undefined when the backend has none. */
export function structuredOutputMode(setting: boolean | StructuredOutputMode | undefined): StructuredOutputMode | undefined {
  if (setting === true) return 'response_format';
  return setting || undefined;
}

/**
 * What an alias's backend can do for a multiple-choice answer (AMEND_MODELS `judge_answer`):
 * - `text` (default): nothing; the letter is read from the reply wherever it stands;
 * - `prefill`: the reply is prefilled with "The answer is: (" and continued (vLLM's
 *   `continue_final_message`), so the letter is the first token;
 * - `guided_choice` / `structured_outputs`: the reply is constrained to "A" or "B" (vLLM's
 *   guided decoding under its old and its new parameter name).
 */
export const JUDGE_ANSWER_MODES = ['text', 'prefill', 'guided_choice', 'structured_outputs'] as const;
export type JudgeAnswerMode = (typeof JUDGE_ANSWER_MODES)[number];

/**
 * ChatResult.answer_mode for a request built with `mode` and `structured`: set only where the
 * request carried an `answer` the alias pins down, or a `response_schema` its backend enforces.
 */
export function appliedAnswerMode(
  req: ChatRequest,
  mode: JudgeAnswerMode | undefined,
  structured?: StructuredOutputMode,
): 'prefill' | 'guided_choice' | 'json_schema' | undefined {
  if (req.response_schema && structured) return 'json_schema';
  if (!req.answer || !mode || mode === 'text') return undefined;
  return mode === 'prefill' ? 'prefill' : 'guided_choice';
}

/**
 * Builds the body from the pipeline's request. Messages are copied role and content only, so
 * nothing else a caller attached can leak to the backend or the audit trail.
 */
export function chatRequestBody(model: string, req: ChatRequest, judgeAnswer?: JudgeAnswerMode, structured?: StructuredOutputMode): ChatRequestBody {
  const body: ChatRequestBody = {
    model,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: req.sampling.temperature,
    top_p: req.sampling.top_p,
    max_tokens: req.max_tokens ?? req.sampling.max_tokens,
  };
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.logprobs) {
    body.logprobs = true;
    if (req.top_logprobs !== undefined) body.top_logprobs = req.top_logprobs;
  }
  if (req.answer && judgeAnswer === 'prefill') {
    body.messages.push({ role: 'assistant', content: req.answer.prefix });
    body.continue_final_message = true;
    body.add_generation_prompt = false;
  } else if (req.answer && judgeAnswer === 'guided_choice') {
    body.guided_choice = [...req.answer.choices];
  } else if (req.answer && judgeAnswer === 'structured_outputs') {
    body.structured_outputs = { choice: [...req.answer.choices] };
  }
  if (req.response_schema && structured === 'response_format') {
    body.response_format = { type: 'json_schema', json_schema: { name: req.response_schema.name, schema: req.response_schema.schema, strict: true } };
  } else if (req.response_schema && structured === 'guided_json') {
    body.guided_json = req.response_schema.schema;
  } else if (req.response_schema && structured === 'format') {
    body.format = req.response_schema.schema;
  }
  return body;
}
