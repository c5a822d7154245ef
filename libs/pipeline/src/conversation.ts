import type { Constitution } from '@amend/constitution';
import type { ChatMessage } from '@amend/contracts';

/**
 * The messages of the draft call: the constitution's system message, then every few-shot
 * example's messages in order, then the user's prompt as its own message. The prompt is data and
 * is never spliced into an instruction string, so instruction-like text in it stays the user's.
 */
export function openingMessages(constitution: Pick<Constitution, 'system' | 'examples'>, prompt: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (constitution.system !== undefined) messages.push({ role: 'system', content: constitution.system });
  for (const example of constitution.examples) {
    for (const m of example.messages) messages.push({ role: m.role, content: m.content });
  }
  messages.push({ role: 'user', content: prompt });
  return messages;
}

/**
 * The next call's messages: the previous call's messages, the answer it got, and the next request.
 * Every call extends the previous one, so serving engines can reuse the shared prefix's KV cache.
 */
export function continueConversation(previous: readonly ChatMessage[], answer: string, request: string): ChatMessage[] {
  return [...previous.map((m) => ({ ...m })), { role: 'assistant', content: answer }, { role: 'user', content: request }];
}
