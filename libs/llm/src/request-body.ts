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

/** ChatResult.answer_mode for a request built with `mode`: set only where the request carried an `answer`. */
export function appliedAnswerMode(req: ChatRequest, mode: JudgeAnswerMode | undefined): 'prefill' | 'guided_choice' | undefined {
  if (!req.answer || !mode || mode === 'text') return undefined;
  return mode === 'prefill' ? 'prefill' : 'guided_choice';
}

/**
 * Builds the body from the pipeline's request. Messages are copied role and content only, so
 * nothing else a caller attached can leak to the backend or the audit trail.
 */
export function chatRequestBody(model: string, req: ChatRequest, judgeAnswer?: JudgeAnswerMode): ChatRequestBody {
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
  return body;
}
