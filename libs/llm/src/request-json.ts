import type { ChatRequestBody } from './request-body';

/**
 * JSON of each message, by its content. Every call of a run opens with the constitution's few-shot
 * prefix (11 KB in the paper's constitution), the same strings each time, and every later call of
 * a sample repeats the earlier calls' messages: each is serialised once and spliced into the body.
 * Keyed by the content string itself (V8 keeps a string's hash with it, so the prefix's strings,
 * the same instances call after call, are found without being read again). Bounded: cleared when
 * full, which costs only a re-serialisation.
 */
const cache = new Map<string, { role: string; json: string }>();
const CACHE_ENTRIES = 4_096;
/** Shorter messages are cheaper to serialise again than to look up. */
const CACHE_FROM_CHARS = 256;

function messageJson(m: ChatRequestBody['messages'][number]): string {
  if (m.content.length < CACHE_FROM_CHARS) return JSON.stringify({ role: m.role, content: m.content });
  const hit = cache.get(m.content);
  if (hit?.role === m.role) return hit.json;
  if (cache.size >= CACHE_ENTRIES) cache.clear();
  const json = JSON.stringify({ role: m.role, content: m.content });
  cache.set(m.content, { role: m.role, json });
  return json;
}

/** The body as JSON text, byte for byte JSON.stringify(body) (request-json.spec.ts holds it to that). */
export function requestJson(body: ChatRequestBody): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    parts.push(key === 'messages' ? `"messages":[${body.messages.map(messageJson).join(',')}]` : `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}
