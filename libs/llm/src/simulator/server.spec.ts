import { FAIL_400_MARKER } from './markers';
import { startSimulatorServer, type SimulatorServer } from './server';

const chat = (content: string) => JSON.stringify({ model: 'any', messages: [{ role: 'user', content }], temperature: 0.7, max_tokens: 256 });

async function post(sim: SimulatorServer, body: string, signal?: AbortSignal) {
  const res = await fetch(`${sim.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function eventually(check: () => void, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

describe('startSimulatorServer', () => {
  let sim: SimulatorServer;
  afterEach(() => sim?.close());

  it('listens on a free port on 127.0.0.1 and serves OpenAI-shaped completions', async () => {
    sim = await startSimulatorServer();
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/v1`);
    const res = await post(sim, chat('How should I water a cactus?'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(res.text)).toMatchObject({ object: 'chat.completion', system_fingerprint: 'amend-simulator' });
  });

  it('gives the same bytes for the same request', async () => {
    sim = await startSimulatorServer();
    const a = await post(sim, chat('Name three rivers in Africa.'));
    const b = await post(sim, chat('Name three rivers in Africa.'));
    expect(a.text).toBe(b.text);
  });

  it('lists its model and counts calls by status at /stats, without counting itself', async () => {
    sim = await startSimulatorServer();
    const models = await (await fetch(`${sim.url}/models`)).json();
    expect(models).toEqual({ object: 'list', data: [expect.objectContaining({ id: 'amend-simulator-1', object: 'model' })] });
    await post(sim, chat('hello'));
    await post(sim, '{not json');
    const base = sim.url.replace(/\/v1$/, '');
    const first = await (await fetch(`${base}/stats`)).json();
    const second = await (await fetch(`${base}/stats`)).json();
    // message_chars: 'hello' (5); the malformed body has none.
    expect(first).toEqual({ calls: 3, by_status: { 200: 2, 400: 1 }, hung: 0, malformed: 0, in_flight: 0, max_in_flight: 1, message_chars: 5 });
    expect(second).toEqual(first);
  });

  it(`answers 400 invalid_request_error to a prompt containing ${FAIL_400_MARKER}`, async () => {
    sim = await startSimulatorServer({ script: ['ok'] });
    const res = await post(sim, chat(`Write a poem. ${FAIL_400_MARKER}`));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('answers 400 to bodies it cannot read, and keeps serving', async () => {
    sim = await startSimulatorServer();
    for (const bad of ['{not json', '{}', '{"messages": []}', '{"messages": [null]}', '{"messages": [{"content": "no role"}]}']) {
      const res = await post(sim, bad);
      expect([bad, res.status]).toEqual([bad, 400]);
      expect(JSON.parse(res.text)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.any(String) } });
    }
    expect((await post(sim, chat('still there?'))).status).toBe(200);
  });

  it('sends a 429 with retry-after and an OpenAI error body', async () => {
    sim = await startSimulatorServer({ rate429: 1, retryAfterS: 2 });
    const res = await post(sim, chat('hi'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(JSON.parse(res.text)).toEqual({ error: expect.objectContaining({ code: 'rate_limit_exceeded', message: expect.any(String) }) });
  });

  it('replays the same fault sequence for the same seed', async () => {
    const statuses = async (seed: number) => {
      sim = await startSimulatorServer({ seed, rate429: 0.3, rate500: 0.2, rateMalformed: 0.1 });
      const out: string[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await post(sim, chat(`q${i}`));
        out.push(r.status === 200 && !r.text.endsWith('}') ? 'malformed' : String(r.status));
      }
      await sim.close();
      return out;
    };
    const a = await statuses(7);
    expect(await statuses(7)).toEqual(a);
    expect(new Set(a)).toEqual(new Set(['200', '429', '500', 'malformed']));
  });

  it('holds a hung request open until the client gives up', async () => {
    sim = await startSimulatorServer({ rateHang: 1 });
    const controller = new AbortController();
    const call = post(sim, chat('hello'), controller.signal);
    await eventually(() => expect(sim.stats()).toMatchObject({ hung: 1, in_flight: 1 }));
    controller.abort();
    await expect(call).rejects.toThrow();
    await eventually(() => expect(sim.stats().in_flight).toBe(0));
    expect(sim.stats().by_status).toEqual({});
  });

  it('closes with hung requests still open', async () => {
    sim = await startSimulatorServer({ rateHang: 1 });
    const call = post(sim, chat('hello')).then(
      () => 'answered',
      () => 'connection closed',
    );
    await eventually(() => expect(sim.stats().hung).toBe(1));
    await sim.close();
    expect(await call).toBe('connection closed');
  });

  it('refuses invalid rates', async () => {
    await expect(startSimulatorServer({ rate429: 1.5 })).rejects.toThrow('rate429 must be between 0 and 1');
    await expect(startSimulatorServer({ rate429: 0.6, rate500: 0.6 })).rejects.toThrow('must be at most 1');
  });

  it.each([300, 600])('answers %i concurrent requests with 50 ms latency, all 200', async (n) => {
    sim = await startSimulatorServer({ latencyMs: 50 });
    const results = await Promise.all(Array.from({ length: n }, (_, i) => post(sim, chat(`question ${i}`))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(n);
    const stats = sim.stats();
    expect(stats).toMatchObject({ calls: n, by_status: { 200: n }, in_flight: 0 });
    // How many overlap here depends on how fast this process sends (a loaded machine sends slowly):
    // that requests are served concurrently is the next test's, with hung requests and no timing.
  });

  it('holds 600 requests open at once on 600 connections', async () => {
    // Hung requests stay open, so all of them must be in flight together: no timing involved.
    sim = await startSimulatorServer({ rateHang: 1 });
    const controller = new AbortController();
    const calls = Array.from({ length: 600 }, (_, i) => post(sim, chat(`q${i}`), controller.signal).catch(() => 'aborted'));
    await eventually(() => expect(sim.stats()).toMatchObject({ in_flight: 600, hung: 600 }), 30_000);
    controller.abort();
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['aborted']));
    await eventually(() => expect(sim.stats().in_flight).toBe(0));
    expect(sim.stats().max_in_flight).toBe(600);
  });
});
