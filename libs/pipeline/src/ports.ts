import type { ChatMessage, Sampling, Usage } from '@amend/contracts';

/** What the pipeline asks of a chat model. Implemented in libs/llm (adapter, simulator). */
export interface ChatRequest {
  /** Operator-configured model alias (AMEND_MODELS), never a URL. */
  alias: string;
  messages: ChatMessage[];
  sampling: Sampling;
  /** Passed to backends that accept it, for reproducibility. */
  seed?: number;
  /**
   * Comparisons (RL-CAI labels) ask for the log-probabilities of the answer token: `logprobs`
   * with `top_logprobs` alternatives per position, and usually `max_tokens: 1`, which overrides
   * `sampling.max_tokens`. Absent on every other call.
   */
  logprobs?: boolean;
  top_logprobs?: number;
  max_tokens?: number;
  /**
   * Comparisons without chain-of-thought: the answer is one of `choices`, written after `prefix`.
   * An alias configured for it (AMEND_MODELS `judge_answer`) prefills the assistant's reply with
   * `prefix` or constrains the output to `choices`, and says so in ChatResult.answer_mode; any
   * other backend gets the request as is and the letter is read from the text.
   */
  answer?: { prefix: string; choices: [string, string] };
  /**
   * The ratings judge: the JSON Schema its answer must follow. An alias configured with
   * `structured_output` (AMEND_MODELS) sends it in the field its backend reads (`response_format`,
   * vLLM's `guided_json`, Ollama's `format`) and says so in ChatResult.answer_mode; any other
   * backend gets the request as is (its text asks for the same JSON) and the answer is parsed.
   */
  response_schema?: { name: string; schema: Record<string, unknown> };
}

/** One position of the answer with its most likely alternatives (OpenAI `choices[0].logprobs.content[]`). */
export interface TokenLogprobs {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

export interface ChatResult {
  text: string;
  /** The model id the backend reported. */
  model: string;
  usage: Usage;
  latency_ms: number;
  /** True when the built-in simulator answered (in-process or over HTTP). */
  simulated: boolean;
  finish_reason: string | null;
  /** The exact request body sent and response body received, for the audit trail. */
  request: unknown;
  response: unknown;
  /** Attempts made, 1 when the first call succeeded. */
  attempts: number;
  /** Per answer position, when log-probabilities were asked for and the backend returned them; else null or absent. */
  logprobs?: TokenLogprobs[] | null;
  /**
   * Set when the backend applied the request's `answer`: `prefill` (text and logprobs continue
   * after `answer.prefix`) or `guided_choice` (text is one of `answer.choices`); or its
   * `response_schema` (`json_schema`). Absent otherwise.
   */
  answer_mode?: 'prefill' | 'guided_choice' | 'json_schema';
}

export interface ChatModel {
  complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
}
