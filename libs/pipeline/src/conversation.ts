import type { Constitution } from '@amend/constitution';
import type { ChatMessage } from '@amend/contracts';

/**
 * The messages of the draft call: the constitution's system message, then every few-shot
 * example's messages in order, then the sample's conversation (promptConversation: the prompt as
 * one user message, or a multi-turn prompt's turns as given, its own system message included),
 * whose last user turn the draft answers. The constitution's prefix stays first, the same for every prompt, so serving
 * engines reuse it. The prompt is data and is never spliced into an instruction string, so
 * instruction-like text in it stays the user's.
 */
export function openingMessages(constitution: Pick<Constitution, 'system' | 'examples'>, conversation: readonly ChatMessage[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (constitution.system !== undefined) messages.push({ role: 'system', content: constitution.system });
  for (const example of constitution.examples) {
    for (const m of example.messages) messages.push({ role: m.role, content: m.content });
  }
  for (const m of conversation) messages.push({ role: m.role, content: m.content });
  return messages;
}

/** The conversation a sample's draft answers: its multi-turn prompt, or its prompt as one user message. */
export function promptConversation(sample: { prompt: string; messages?: readonly ChatMessage[] | null }): ChatMessage[] {
  return sample.messages?.length ? sample.messages.map((m) => ({ role: m.role, content: m.content })) : [{ role: 'user', content: sample.prompt }];
}

/** A pair's prompt fields: the prompt text, and the conversation when the prompt is multi-turn. */
export function pairPrompt(sample: { prompt: string; messages?: readonly ChatMessage[] | null }): { prompt: string; prompt_messages?: ChatMessage[] } {
  return sample.messages?.length ? { prompt: sample.prompt, prompt_messages: promptConversation(sample) } : { prompt: sample.prompt };
}

/**
 * The next call's messages: the previous call's messages, the answer it got, and the next request.
 * Every call extends the previous one, so serving engines can reuse the shared prefix's KV cache.
 */
export function continueConversation(previous: readonly ChatMessage[], answer: string, request: string): ChatMessage[] {
  return [...previous.map((m) => ({ ...m })), { role: 'assistant', content: answer }, { role: 'user', content: request }];
}
