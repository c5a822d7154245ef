import { Agent, fetch as undiciFetch } from 'undici';

/**
 * The HTTP transport under the `openai` client: undici's fetch over one pooled keep-alive Agent
 * per process, so a call reuses a warm connection instead of paying for a socket, and the
 * client's own work per call (headers, body, errors, types) is all that is left on top. The SDK
 * still builds requests and raises its typed errors (retry-after and redaction read those).
 */
let agent: Agent | undefined;

/** The process's pooled agent: keep-alive, no cap on sockets per origin (the worker's concurrency caps calls). */
export function modelAgent(): Agent {
  agent ??= new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    // Connect and header timeouts are the adapter's own (its per-attempt timer); none here.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return agent;
}

/** A `fetch` for `new OpenAI({ fetch })` that sends over the pooled agent. */
// eslint-disable-next-line no-restricted-syntax -- undici's fetch and the DOM `fetch` type differ in their Request/Response classes, not in behaviour.
export const pooledFetch = ((url: string | URL, init?: Record<string, unknown>) =>
  undiciFetch(url, { ...(init as object), dispatcher: modelAgent() })) as unknown as typeof fetch;

/** Closes the pool (at shutdown, so no socket keeps the process alive). */
export async function closeModelAgent(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close();
}
