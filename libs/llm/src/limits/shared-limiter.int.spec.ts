import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import type { ChatRequest } from '@amend/pipeline';
import { ModelRegistry } from '../model-registry';
import { parseModelsConfig } from '../models-config';
import { OpenAICompatibleModel } from '../openai-model';
import { startSimulatorServer, type SimulatorServer } from '../simulator/server';
import { RateLimitedModel, type LimiterWait } from './rate-limited-model';
import { SharedLimiter, type SharedLimiterOptions } from './shared-limiter';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `t_limiter_${randomBytes(4).toString('hex')}`;
const clients: IORedis[] = [];
const limiters: SharedLimiter[] = [];

/** Each limiter on its own connection, as in separate worker processes. */
function limiter(alias: string, opts: Partial<SharedLimiterOptions> = {}): SharedLimiter {
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  clients.push(redis);
  const l = new SharedLimiter({ redis, prefix, alias, limits: {}, ...opts });
  limiters.push(l);
  return l;
}

afterAll(async () => {
  for (const l of limiters) l.close();
  const redis = new IORedis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  for (const c of clients) await c.quit();
});

const req: ChatRequest = {
  alias: 'sim',
  messages: [{ role: 'user', content: 'Name three hardy houseplants.' }],
  sampling: { temperature: 0.7, top_p: 1, max_tokens: 64 },
};

describe('SharedLimiter', () => {
  it('estimates a call as prompt characters / 4 plus max_tokens', () => {
    expect(SharedLimiter.estimateTokens(401, 512)).toBe(101 + 512);
  });

  it('caps calls in flight across processes: a third call waits until another process releases a slot', async () => {
    const a = limiter('inflight', { limits: { max_in_flight: 2 } });
    const b = limiter('inflight', { limits: { max_in_flight: 2 } });
    const first = await a.acquire(10);
    await b.acquire(10);
    let admitted = false;
    const third = a.acquire(10).then((l) => ((admitted = true), l));
    await waitUntil(async () => (await a.state()).inFlight === 2);
    expect(admitted).toBe(false);
    await a.release(first, { ok: true, tokensUsed: 10 });
    const lease = await third;
    expect(lease.reason).toBe('in_flight');
    expect((await b.state()).inFlight).toBe(2);
  });

  it('spaces requests out once the requests-per-minute bucket is spent', async () => {
    // 600 rpm with a bucket of one request: one every 100 ms.
    const l = limiter('rpm', { limits: { rpm: 600 }, tuning: { burstFraction: 1 / 600 } });
    const leases = [await l.acquire(1), await l.acquire(1), await l.acquire(1)];
    expect(leases.map((x) => x.reason)).toEqual([undefined, 'requests', 'requests']);
  });

  it('settles tokens with the real usage, so an overestimate is given back to the next call', async () => {
    // A bucket of 100 tokens refilling at 1 token per 10 s: only settlement can make room.
    const l = limiter('tpm', { limits: { tpm: 6 }, tuning: { burstFraction: 100 / 6 } });
    const first = await l.acquire(100);
    await l.release(first, { ok: true, tokensUsed: 10 });
    const second = await l.acquire(90);
    expect(second.reason).toBeUndefined();
    const controller = new AbortController();
    const third = l.acquire(50, controller.signal);
    await waitUntil(async () => true);
    controller.abort(new Error('gave up'));
    await expect(third).rejects.toThrow('gave up');
  });

  it('a 429 pauses every process for the retry-after it carried, and halves the rate once however many arrive together', async () => {
    const a = limiter('pause', { limits: { max_in_flight: 8 } });
    const b = limiter('pause', { limits: { max_in_flight: 8 } });
    const reported = Date.now();
    const factors = await Promise.all([a.rateLimited(1000), b.rateLimited(1000), a.rateLimited(1000)]);
    expect(factors).toEqual([0.5, 0.5, 0.5]);
    const lease = await b.acquire(1);
    const since = Date.now() - reported;
    expect(lease.reason).toBe('paused');
    expect(since).toBeGreaterThanOrEqual(1000);
    expect((await a.state()).factor).toBe(0.5);
  });

  it('shrinks the in-flight cap with the factor and grows it back as calls pass', async () => {
    const l = limiter('aimd', { limits: { max_in_flight: 4 }, tuning: { increaseStep: 0.25 } });
    await l.rateLimited(0);
    expect((await l.state()).factor).toBe(0.5);
    const [x, y] = [await l.acquire(1), await l.acquire(1)];
    let third = false;
    const pending = l.acquire(1).then((lease) => ((third = true), lease));
    await waitUntil(async () => (await l.state()).inFlight === 2);
    expect(third).toBe(false); // 4 x 0.5 = 2 slots
    await l.release(x, { ok: true, tokensUsed: 1 });
    await l.release(await pending, { ok: true, tokensUsed: 1 });
    await l.release(y, { ok: true, tokensUsed: 1 });
    expect((await l.state()).factor).toBe(1);
  });

  it('frees the slots of a process that died holding them once their leases lapse', async () => {
    const tuning = { leaseTtlMs: 300, renewEveryMs: 100 };
    const dead = limiter('lapse', { limits: { max_in_flight: 1 }, tuning });
    await dead.acquire(1);
    dead.close(); // as SIGKILL would: no release, no more renewals
    const survivor = limiter('lapse', { limits: { max_in_flight: 1 }, tuning });
    const lease = await survivor.acquire(1);
    expect(lease.reason).toBe('in_flight');
  });
});

describe('RateLimitedModel', () => {
  let sim: SimulatorServer;
  beforeAll(async () => {
    sim = await startSimulatorServer({});
  });
  afterAll(() => sim.close());

  it('honours a 429 retry-after before the retry and pauses the alias for everyone', async () => {
    sim.setScript([{ status: 429, retryAfterS: 1 }, 'ok']);
    sim.resetStats();
    const l = limiter('model429', { limits: { max_in_flight: 4 } });
    const waits: LimiterWait[] = [];
    const adapter: OpenAICompatibleModel = new OpenAICompatibleModel({
      alias: 'model429',
      baseURL: sim.url,
      model: 'sim',
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      onRetry: (e) => void model.onRetry(e),
      beforeRetryAttempt: (n, s) => model.beforeRetryAttempt(n, s),
    });
    const model: RateLimitedModel = new RateLimitedModel(adapter, l, (w) => waits.push(w));
    const started = Date.now();
    const result = await model.complete(req);
    expect(result.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sim.stats().by_status).toEqual({ 200: 1, 429: 1 });
    const state = await l.state();
    expect(state.factor).toBe(0.5 + 0.02);
    expect(state.inFlight).toBe(0);
    expect(waits.map((w) => w.retry)).toEqual([false, true]);
  });

  it('is what the registry serves for an alias with limits when given Redis, and not without', () => {
    const config = parseModelsConfig(
      JSON.stringify({ limited: { base_url: sim.url, model: 'sim', rpm: 100, tpm: 10_000, max_in_flight: 4 }, free: { base_url: sim.url, model: 'sim' } }),
    );
    const redis = new IORedis(REDIS_URL, { lazyConnect: true });
    clients.push(redis);
    const withRedis = new ModelRegistry(config, { redis, limitsPrefix: prefix });
    expect(withRedis.get('limited')).toBeInstanceOf(RateLimitedModel);
    expect(withRedis.get('free')).toBeInstanceOf(OpenAICompatibleModel);
    expect(new ModelRegistry(config).get('limited')).toBeInstanceOf(OpenAICompatibleModel);
    withRedis.close();
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
