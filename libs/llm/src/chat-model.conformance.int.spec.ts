import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import type { ChatModel } from '@amend/pipeline';
import { describeChatModelConformance, type ConformanceSubject } from './chat-model.conformance';
import { RateLimitedModel } from './limits/rate-limited-model';
import { SharedLimiter } from './limits/shared-limiter';
import { ModelRegistry } from './model-registry';
import { parseModelsConfig } from './models-config';
import { OpenAICompatibleModel } from './openai-model';
import { SIMULATOR_MODEL } from './simulator/simulate';
import { startSimulatorServer } from './simulator/server';
import { SimulatorModel } from './simulator/simulator-model';

/** Every ChatModel implementation through the one suite (chat-model.conformance.ts). */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Fast backoff: a retry costs milliseconds; two attempts, so a fault scripted twice surfaces. */
const RETRY = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 };
/** Per attempt: short, so an unanswered request (the `hang` fault) costs two of these; long enough for a busy machine to answer. */
const ATTEMPT_MS = 2_000;
/** Limits a test never reaches: the wrapper's admission and release run on every call. */
const LIMITS = { rpm: 60_000, tpm: 100_000_000, max_in_flight: 8 };

/** A limiter on its own Redis connection and key prefix, removed with the subject. */
async function limiterFor(alias: string): Promise<{ limiter: SharedLimiter; redis: IORedis; prefix: string; close: () => Promise<void> }> {
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `t_conformance_${randomBytes(4).toString('hex')}`;
  const limiter = new SharedLimiter({ redis, prefix, alias, limits: LIMITS });
  return {
    limiter,
    redis,
    prefix,
    close: async () => {
      limiter.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    },
  };
}

/** The simulator in process: a stalled call is one with a minute of latency. */
const inProcess = async (wrap: (m: ChatModel) => ChatModel = (m) => m, close: () => Promise<void> = async () => undefined): Promise<ConformanceSubject> => ({
  model: wrap(new SimulatorModel()),
  stalled: () => wrap(new SimulatorModel({ latencyMs: 60_000 })),
  close,
});

describeChatModelConformance('SimulatorModel (in process)', () => inProcess(), { transport: false });

describeChatModelConformance(
  'RateLimitedModel around the in-process simulator',
  async () => {
    const { limiter, close } = await limiterFor('conformance-sim');
    return inProcess((m) => new RateLimitedModel(m, limiter), close);
  },
  { transport: false },
);

describeChatModelConformance(
  'OpenAICompatibleModel over HTTP to the simulator',
  async () => {
    const sim = await startSimulatorServer({ port: 0 });
    const model = new OpenAICompatibleModel({ alias: 'conformance', baseURL: sim.url, model: SIMULATOR_MODEL, timeoutMs: ATTEMPT_MS, retry: RETRY });
    return {
      model,
      stalled: () => (sim.setScript(['hang']), model),
      faults: { script: (f) => sim.setScript(f), calls: () => sim.stats().calls, maxAttempts: RETRY.maxAttempts },
      close: () => sim.close(),
    };
  },
  { transport: true },
);

describeChatModelConformance(
  'RateLimitedModel around the HTTP adapter, as the registry wires an alias with limits',
  async () => {
    const sim = await startSimulatorServer({ port: 0 });
    const { redis, prefix, close } = await limiterFor('conformance');
    const registry = new ModelRegistry(
      parseModelsConfig(JSON.stringify({ conformance: { base_url: sim.url, model: SIMULATOR_MODEL, timeout_ms: ATTEMPT_MS, ...LIMITS } })),
      { redis, limitsPrefix: prefix, retry: RETRY },
    );
    const model = registry.get('conformance');
    if (!(model instanceof RateLimitedModel)) throw new Error('an alias with limits should be wrapped in RateLimitedModel');
    return {
      model,
      stalled: () => (sim.setScript(['hang']), model),
      faults: { script: (f) => sim.setScript(f), calls: () => sim.stats().calls, maxAttempts: RETRY.maxAttempts },
      close: async () => {
        registry.close();
        await close();
        await sim.close();
      },
    };
  },
  { transport: true },
);
