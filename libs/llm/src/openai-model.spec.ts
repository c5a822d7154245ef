import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatRequest } from '@amend/pipeline';
import { ModelError } from './errors';
import { OpenAICompatibleModel, type OpenAICompatibleModelOptions } from './openai-model';
import type { RetryEvent } from './retry';
import { FAIL_400_MARKER } from './simulator/markers';
import { SIMULATOR_MODEL } from './simulator/simulate';
import { startSimulatorServer, type SimulatorServer } from './simulator/server';

const request = (content = 'How do I keep basil alive on a windowsill?'): ChatRequest => ({
  alias: 'sim',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content },
  ],
  sampling: { temperature: 0.2, top_p: 0.9, max_tokens: 256 },
  seed: 42,
});

/** Fast backoff so retries cost milliseconds; the retry-after tests show the floor still holds. */
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };

async function rejection(p: Promise<unknown>): Promise<ModelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error('expected the call to fail');
}

/** Polls until `check` passes or the deadline passes (then the last failure is thrown). */
async function eventually(check: () => void, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setImmediate(r));
    }
  }
}

describe('OpenAICompatibleModel against the HTTP simulator', () => {
  let sim: SimulatorServer;
  const retries: RetryEvent[] = [];
  const model = (extra: Partial<OpenAICompatibleModelOptions> = {}) =>
    new OpenAICompatibleModel({
      alias: 'sim',
      baseURL: sim.url,
      model: 'served-model-name',
      timeoutMs: 5_000,
      retry: FAST,
      onRetry: (e) => retries.push(e),
      ...extra,
    });

  beforeAll(async () => {
    sim = await startSimulatorServer({ port: 0 });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.setScript([]);
    sim.resetStats();
    retries.length = 0;
  });

  it('returns the text, the reported model, usage, and the exact request and response bodies', async () => {
    const result = await model().complete(request());
    expect(result.text.length).toBeGreaterThan(100);
    expect(result.model).toBe(SIMULATOR_MODEL);
    expect(result.simulated).toBe(true);
    expect(result.finish_reason).toBe('stop');
    expect(result.attempts).toBe(1);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    expect(result.usage.completion_tokens).toBeGreaterThan(0);
    expect(result.latency_ms).toBeGreaterThan(0);
    expect(result.request).toEqual({
      model: 'served-model-name',
      messages: request().messages,
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 256,
      seed: 42,
    });
    expect(result.response).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: result.text } }] });
    expect(sim.stats()).toMatchObject({ calls: 1, by_status: { 200: 1 } });
  });

  it('leaves out seed when the pipeline gives none', async () => {
    const { seed: _seed, ...noSeed } = request();
    const result = await model().complete(noSeed);
    expect(result.request).not.toHaveProperty('seed');
  });

  it('waits at least the retry-after of a 429 before trying again, then succeeds', async () => {
    sim.setScript([{ status: 429, retryAfterS: 1 }]);
    const started = Date.now();
    const result = await model().complete(request());
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(retries).toHaveLength(1);
    expect(retries[0].delayMs).toBeGreaterThanOrEqual(1_000);
    expect(retries[0].error).toMatchObject({ kind: 'transient', code: 'rate_limited', status: 429, retryAfterMs: 1_000 });
    expect(result.attempts).toBe(2);
    expect(sim.stats()).toMatchObject({ calls: 2, by_status: { 429: 1, 200: 1 } });
  });

  it('honours retry-after-ms on a 503', async () => {
    sim.setScript([{ status: 503, retryAfterMs: 250 }]);
    const result = await model().complete(request());
    expect(retries[0].delayMs).toBeGreaterThanOrEqual(250);
    expect(result.attempts).toBe(2);
  });

  it('retries a 500 and succeeds on the next attempt', async () => {
    sim.setScript([{ status: 500 }]);
    const result = await model().complete(request());
    expect(result.attempts).toBe(2);
    expect(retries[0].error).toMatchObject({ kind: 'transient', code: 'server_error', status: 500 });
    expect(sim.stats()).toMatchObject({ calls: 2, by_status: { 500: 1, 200: 1 } });
  });

  it(`fails a prompt carrying ${FAIL_400_MARKER} permanently, after one call`, async () => {
    const err = await rejection(model().complete(request(`Tell me a joke ${FAIL_400_MARKER}`)));
    expect(err).toMatchObject({ kind: 'permanent', code: 'bad_request', status: 400, attempts: 1 });
    expect(err.message).toContain('sim: HTTP 400');
    expect(retries).toHaveLength(0);
    expect(sim.stats()).toMatchObject({ calls: 1, by_status: { 400: 1 } });
  });

  it('fails a too-long context permanently, whatever the backend calls its 400', async () => {
    sim.setScript([{ status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens." }]);
    const err = await rejection(model().complete(request()));
    expect(err).toMatchObject({ kind: 'permanent', code: 'context_length_exceeded', attempts: 1 });
    expect(sim.stats().calls).toBe(1);
  });

  it('fails permanently when the content filter stopped the answer', async () => {
    sim.setScript(['content_filter']);
    const err = await rejection(model().complete(request()));
    expect(err).toMatchObject({ kind: 'permanent', code: 'content_filter', attempts: 1 });
    expect(sim.stats().calls).toBe(1);
  });

  it('treats a body that is not JSON as transient and retries it', async () => {
    sim.setScript(['malformed']);
    const result = await model().complete(request());
    expect(result.attempts).toBe(2);
    expect(retries[0].error).toMatchObject({ kind: 'transient', code: 'malformed_response' });
    expect(sim.stats()).toMatchObject({ calls: 2, malformed: 1, by_status: { 200: 2 } });
  });

  it('gives up on a hung request at the timeout and retries it', async () => {
    sim.setScript(['hang']);
    const result = await model({ timeoutMs: 300 }).complete(request());
    expect(result.attempts).toBe(2);
    expect(retries[0].error).toMatchObject({ kind: 'transient', code: 'timeout' });
    expect(sim.stats()).toMatchObject({ calls: 2, hung: 1, by_status: { 200: 1 } });
    // The abandoned request is closed by the client, so the server no longer holds it.
    await eventually(() => expect(sim.stats().in_flight).toBe(0));
  });

  it('throws the last transient error once max attempts are used up', async () => {
    sim.setScript([{ status: 500 }, { status: 502 }, { status: 503 }, { status: 500 }]);
    const err = await rejection(model({ retry: { ...FAST, maxAttempts: 3 } }).complete(request()));
    expect(err).toMatchObject({ kind: 'transient', code: 'server_error', status: 503, attempts: 3 });
    expect(sim.stats()).toMatchObject({ calls: 3, by_status: { 500: 1, 502: 1, 503: 1 } });
  });

  it('gives up early rather than sleep past the overall deadline', async () => {
    sim.setScript([{ status: 429, retryAfterS: 5 }]);
    const err = await rejection(model({ retry: { ...FAST, deadlineMs: 1_000 } }).complete(request()));
    expect(err).toMatchObject({ kind: 'transient', code: 'rate_limited', attempts: 1 });
    expect(sim.stats().calls).toBe(1);
  });

  it('stops waiting when the caller aborts during a backoff, with the abort reason', async () => {
    sim.setScript([{ status: 429, retryAfterS: 60 }]);
    const controller = new AbortController();
    const call = model({
      onRetry: () => controller.abort(new Error('run cancelled')),
    }).complete(request(), controller.signal);
    await expect(call).rejects.toThrow('run cancelled');
    expect(sim.stats().calls).toBe(1);
  });

  it('stops a request in flight when the caller aborts', async () => {
    sim.setScript(['hang']);
    const controller = new AbortController();
    const call = model().complete(request(), controller.signal);
    await eventually(() => expect(sim.stats().hung).toBe(1));
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(sim.stats().calls).toBe(1);
  });

  it('retries a refused connection as transient', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await rejection(model({ baseURL: `http://127.0.0.1:${port}/v1`, retry: { ...FAST, maxAttempts: 2 } }).complete(request()));
    expect(err).toMatchObject({ kind: 'transient', code: 'connection_error', attempts: 2 });
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('retries an answer cut off in the middle of its body as transient', async () => {
    // Headers promise 4,096 bytes, 20 arrive, then the socket closes: every attempt.
    let calls = 0;
    const cut: Server = createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
      res.write('{"id":"chatcmpl-cut",');
      setImmediate(() => res.socket?.destroy());
    });
    await new Promise<void>((r) => cut.listen(0, '127.0.0.1', r));
    try {
      const port = (cut.address() as AddressInfo).port;
      const err = await rejection(model({ baseURL: `http://127.0.0.1:${port}/v1`, retry: { ...FAST, maxAttempts: 3 } }).complete(request()));
      expect(err).toMatchObject({ kind: 'transient', attempts: 3 });
      expect(calls).toBe(3);
    } finally {
      await new Promise((r) => cut.close(r));
    }
  });
});

describe('OpenAICompatibleModel with an API key', () => {
  const KEY = 'sk-amend-test-7f3a9c1e5b';
  let sim: SimulatorServer;
  beforeAll(async () => {
    sim = await startSimulatorServer({ apiKey: KEY });
  });
  afterAll(() => sim.close());

  it('sends the key as a bearer token, and echoes it nowhere in the result', async () => {
    const m = new OpenAICompatibleModel({ alias: 'keyed', baseURL: sim.url, model: 'm', apiKey: KEY });
    const result = await m.complete(request());
    expect(result.simulated).toBe(true);
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it('fails permanently on 401 after one call, without the key in the error', async () => {
    sim.resetStats();
    const wrong = 'sk-wrong-key-0d9e8f7a6b';
    const m = new OpenAICompatibleModel({ alias: 'keyed', baseURL: sim.url, model: 'm', apiKey: wrong, retry: FAST });
    const err = await rejection(m.complete(request()));
    expect(err).toMatchObject({ kind: 'permanent', code: 'unauthorized', status: 401, attempts: 1 });
    expect(`${err.message} ${err.stack} ${JSON.stringify(err)}`).not.toContain(wrong);
    expect(sim.stats()).toMatchObject({ calls: 1, by_status: { 401: 1 } });
  });

  it('redacts a key that the backend quotes back in its error message', async () => {
    const key = 'sk-quoted-back-1234abcd';
    const echo: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/v1`;
      const err = await rejection(new OpenAICompatibleModel({ alias: 'echo', baseURL: url, model: 'm', apiKey: key }).complete(request()));
      expect(err.code).toBe('unauthorized');
      expect(err.message).toContain('[redacted]');
      expect(`${err.message} ${err.stack} ${JSON.stringify(err)} ${String(err.cause)}`).not.toContain(key);
    } finally {
      echo.closeAllConnections();
      await new Promise((r) => echo.close(r));
    }
  });

  it('labels a real backend honestly: no simulator fingerprint, not simulated', async () => {
    const plain: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          created: 1,
          model: 'real-model-2',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        }),
      );
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/v1`;
      const result = await new OpenAICompatibleModel({ alias: 'real', baseURL: url, model: 'm' }).complete(request());
      expect(result).toMatchObject({ text: 'hi', model: 'real-model-2', simulated: false, usage: { prompt_tokens: 0, completion_tokens: 0 } });
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });
});
