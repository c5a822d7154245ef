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
}

/**
 * Builds the body from the pipeline's request. Messages are copied role and content only, so
 * nothing else a caller attached can leak to the backend or the audit trail.
 */
export function chatRequestBody(model: string, req: ChatRequest): ChatRequestBody {
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
  return body;
}
