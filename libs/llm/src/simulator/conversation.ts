/** A chat message as it arrives in a request body; content may be a string or OpenAI content parts. */
export interface IncomingMessage {
  role: string;
  content?: unknown;
}

export interface Turn {
  role: string;
  text: string;
}

/** Flattens OpenAI content parts (`[{type: 'text', text}]`) to plain text; other parts are ignored. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
  }
  return '';
}

export function toTurns(messages: readonly IncomingMessage[]): Turn[] {
  return messages.map((m) => ({ role: String(m.role), text: messageText(m.content) }));
}
