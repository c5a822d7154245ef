import type { ChatMessage, Sampling, Usage } from '@amend/contracts';

/** What the pipeline asks of a chat model. Implemented in libs/llm (adapter, simulator). */
export interface ChatRequest {
  /** Operator-configured model alias (AMEND_MODELS), never a URL. */
  alias: string;
  messages: ChatMessage[];
  sampling: Sampling;
  /** Passed to backends that accept it, for reproducibility. */
  seed?: number;
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
}

export interface ChatModel {
  complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
}
