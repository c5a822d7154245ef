import type { ChatRequestBody } from './request-body';

/**
 * UTF-8 JSON of each long message, by its content. Every call of a run opens with the
 * constitution's few-shot prefix (11 KB in the paper's constitution), the same strings each time,
 * and every later call of a sample repeats the earlier calls' messages: each is serialised and
 * encoded once, and its bytes are spliced into the body. Keyed by the content string itself (V8
 * keeps a string's hash with it, so the prefix's strings, the same instances call after call, are
 * found without being read again). Bounded: cleared when full, which costs only a re-serialisation.
 */
const cache = new Map<string, { role: string; bytes: Buffer }>();
const CACHE_ENTRIES = 4_096;
/** Shorter messages are cheaper to serialise again than to look up. */
const CACHE_FROM_CHARS = 256;

function cachedMessage(m: ChatRequestBody['messages'][number]): Buffer | undefined {
  if (m.content.length < CACHE_FROM_CHARS) return undefined;
  const hit = cache.get(m.content);
  if (hit?.role === m.role) return hit.bytes;
  if (cache.size >= CACHE_ENTRIES) cache.clear();
  const bytes = Buffer.from(JSON.stringify({ role: m.role, content: m.content }), 'utf8');
  cache.set(m.content, { role: m.role, bytes });
  return bytes;
}

/**
 * The body as UTF-8 JSON bytes, byte for byte `Buffer.from(JSON.stringify(body))`
 * (request-json.spec.ts holds it to that). Sent as bytes, the body is neither flattened into one
 * string nor encoded again by the HTTP client: the long messages are copied from their cached
 * bytes, only the short rest is serialised per call.
 */
export function requestBytes(body: ChatRequestBody): Buffer {
  const chunks: Buffer[] = [];
  let text = '{';
  const flush = () => {
    if (text.length > 0) chunks.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  let first = true;
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    if (!first) text += ',';
    first = false;
    if (key !== 'messages') {
      text += `${JSON.stringify(key)}:${JSON.stringify(value)}`;
      continue;
    }
    text += '"messages":[';
    body.messages.forEach((m, i) => {
      if (i > 0) text += ',';
      const bytes = cachedMessage(m);
      if (bytes === undefined) {
        text += JSON.stringify({ role: m.role, content: m.content });
        return;
      }
      flush();
      chunks.push(bytes);
    });
    text += ']';
  }
  text += '}';
  flush();
  return Buffer.concat(chunks);
}
