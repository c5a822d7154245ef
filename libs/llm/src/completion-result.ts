import type OpenAI from 'openai';
import type { ChatResult } from '@amend/pipeline';
import { ModelError } from './errors';
import { readLogprobs } from './logprobs';
import type { ChatRequestBody } from './request-body';
import { SIMULATOR_FINGERPRINT } from './simulator/simulate';

/**
 * A chat-completions response body read into a ChatResult: the same reading for an online call
 * and for a line of a batch's output file, so both checkpoint the same record. `alias` names the
 * backend in errors; `model` is reported when the response names none.
 */
export function completionResult(alias: string, model: string, body: ChatRequestBody, response: unknown, latencyMs: number): Omit<ChatResult, 'attempts'> {
  const completion = response as Partial<OpenAI.Chat.Completions.ChatCompletion> | null;
  const choice = Array.isArray(completion?.choices) ? completion.choices[0] : undefined;
  if (!choice || typeof choice !== 'object' || !choice.message) {
    throw ModelError.transient('malformed_response', `${alias}: the response has no choices[0].message`);
  }
  if (choice.finish_reason === 'content_filter') {
    throw ModelError.permanent('content_filter', `${alias}: the backend's content filter stopped the response`);
  }
  const usage = completion?.usage;
  return {
    text: typeof choice.message.content === 'string' ? choice.message.content : '',
    model: typeof completion?.model === 'string' ? completion.model : model,
    usage: {
      prompt_tokens: usage?.prompt_tokens ?? 0,
      completion_tokens: usage?.completion_tokens ?? 0,
    },
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    // Only the simulator's own fingerprint counts: a real backend is never labelled simulated.
    simulated: completion?.system_fingerprint === SIMULATOR_FINGERPRINT,
    finish_reason: choice.finish_reason ?? null,
    request: body,
    response,
    logprobs: readLogprobs(choice.logprobs),
  };
}
