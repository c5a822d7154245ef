import { Agent, fetch as undiciFetch, request } from 'undici';

/**
 * The HTTP transport under the `openai` client: one pooled keep-alive Agent per process, so a
 * call reuses a warm connection, and undici's plain `request` instead of its WHATWG `fetch`,
 * whose streams, abort plumbing and body cloning cost more CPU per call than the JSON itself
 * (about 0.5 ms of a 1.5 ms call with the paper's 11 KB few-shot prefix, measured in-process
 * against the simulator). The SDK still builds requests and raises its typed errors (retry-after
 * and redaction read those) from the `Response` handed back.
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

/** Statuses whose Response may not carry a body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

const bodiesAside = new WeakMap<Response, string>();

/**
 * The text of a 2xx answer that `answerFetch` read whole and kept beside its Response (which then
 * has no body: building a web stream over bytes already in hand, only to read it back, cost more
 * CPU per call than parsing the answer). Undefined for any other Response.
 */
export function bodyAside(res: Response): string | undefined {
  return bodiesAside.get(res);
}

/**
 * A `fetch` for `new OpenAI({ fetch })`: a string or byte body goes through `request` and the
 * whole answer is read before the Response is built (a chat completion is one JSON document;
 * the adapter reads it whole anyway, within its own timer). Anything else (a stream or form
 * upload) falls back to undici's fetch over the same agent.
 */
export function pooledFetch(url: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  return fetchWhole(url, init, false);
}

/**
 * `pooledFetch` for a caller that reads a successful answer with `bodyAside` (OpenAICompatibleModel,
 * through the SDK's `asResponse()`): its 2xx Responses carry no body. Errors keep theirs, for the
 * SDK to read into its typed errors.
 */
export function answerFetch(url: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  return fetchWhole(url, init, true);
}

async function fetchWhole(url: string | URL | Request, init: RequestInit, aside: boolean): Promise<Response> {
  // The SDK passes a URL string; a Request object (never seen from it) goes to Node's own fetch.
  if (url instanceof Request) return fetch(url, init);
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    // eslint-disable-next-line no-restricted-syntax -- undici's fetch and the DOM `fetch` type differ in their Request/Response classes, not in behaviour.
    return undiciFetch(url, { ...(init as object), dispatcher: modelAgent() }) as unknown as Promise<Response>;
  }
  const res = await request(url, {
    method: (init.method ?? 'GET').toUpperCase() as Method,
    // The SDK passes a Headers object: iterable as [name, value] pairs, which undici takes.
    headers: init.headers as Iterable<[string, string]> | Record<string, string> | undefined,
    body: body ?? undefined,
    signal: init.signal ?? undefined,
    dispatcher: modelAgent(),
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  if (aside && res.statusCode >= 200 && res.statusCode < 300 && !NULL_BODY_STATUS.has(res.statusCode)) {
    const text = await res.body.text();
    const response = new Response(null, { status: res.statusCode, headers });
    bodiesAside.set(response, text);
    return response;
  }
  const bytes = await res.body.arrayBuffer();
  return new Response(NULL_BODY_STATUS.has(res.statusCode) ? null : bytes, { status: res.statusCode, headers });
}

/** Closes the pool (at shutdown, so no socket keeps the process alive). */
export async function closeModelAgent(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close();
}
