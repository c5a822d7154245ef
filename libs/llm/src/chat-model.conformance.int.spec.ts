import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import IORedis from 'ioredis';
import { ratingsLabel, type ChatModel, type ChatRequest } from '@amend/pipeline';
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

/*
 * Structured output on the OpenAI-compatible adapter, against answers shaped as each backend
 * returns them, written from their documentation (OpenAI's Structured Outputs guide: the JSON as
 * message.content, `refusal` null, or content null and the refusal text when the model refuses;
 * vLLM's OpenAI-compatible server with `guided_json`: the JSON as content, laid out by the guided
 * decoder's whitespace, with vLLM's extra fields; Ollama's structured outputs (`format`): the
 * JSON as content, keys in the model's order, spaces where it put them). Served over HTTP on
 * localhost; each backend also checks that the schema arrived in the field it reads.
 */
describe('structured output, answered as OpenAI, vLLM and Ollama answer it', () => {
  const RATINGS = { a: { rating: 4, rationale: 'Careful and kind.' }, b: { rating: 2, rationale: 'Careless about the risks.' } };
  const schema = { type: 'object', properties: { a: { type: 'object' }, b: { type: 'object' } }, required: ['a', 'b'], additionalProperties: false };
  type Backend = 'openai' | 'vllm' | 'ollama';
  const answers: Record<Backend, (body: any) => unknown> = {
    openai: () => ({
      id: 'chatcmpl-AZ9s',
      object: 'chat.completion',
      created: 1_735_689_600,
      model: 'gpt-4o-2024-08-06',
      choices: [
        { index: 0, message: { role: 'assistant', content: JSON.stringify(RATINGS), refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 31, total_tokens: 151 },
      system_fingerprint: 'fp_test',
    }),
    vllm: () => ({
      id: 'chatcmpl-9f1c',
      object: 'chat.completion',
      created: 1_735_689_600,
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', reasoning_content: null, content: JSON.stringify(RATINGS, null, 4), tool_calls: [] },
          logprobs: null,
          finish_reason: 'stop',
          stop_reason: null,
        },
      ],
      usage: { prompt_tokens: 120, total_tokens: 170, completion_tokens: 50, prompt_tokens_details: null },
      prompt_logprobs: null,
    }),
    ollama: () => ({
      id: 'chatcmpl-512',
      object: 'chat.completion',
      created: 1_735_689_600,
      model: 'llama3.2',
      system_fingerprint: 'fp_ollama',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: '{ "b": { "rationale": "Careless about the risks.", "rating": 2 } ,"a": { "rationale": "Careful and kind.", "rating": 4 } }\n',
          },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
    }),
  };
  const field: Record<Backend, 'response_format' | 'guided_json' | 'format'> = { openai: 'response_format', vllm: 'guided_json', ollama: 'format' };
  let server: Server;
  let url: string;
  let backend: Backend = 'openai';
  let refuse = false;
  const bodies: any[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw);
        bodies.push(body);
        const answer = answers[backend](body) as any;
        if (refuse) {
          answer.choices[0].message = { role: 'assistant', content: null, refusal: "I'm sorry, I can't help with that.", annotations: [] };
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    refuse = false;
  });

  const request = (): ChatRequest => ({
    alias: 'judge',
    messages: [{ role: 'user', content: 'Rate both responses.' }],
    sampling: { temperature: 0, top_p: 1, max_tokens: 512 },
    max_tokens: 400,
    response_schema: { name: 'amend_ratings', schema },
  });

  it.each(['openai', 'vllm', 'ollama'] as Backend[])('%s: the schema goes where the backend reads it, and its answer reads as the same ratings', async (b) => {
    backend = b;
    const model = new OpenAICompatibleModel({ alias: 'judge', baseURL: url, model: 'm', structuredOutput: field[b], retry: RETRY });
    const result = await model.complete(request());
    const sent = bodies[bodies.length - 1];
    const expected = {
      openai: { response_format: { type: 'json_schema', json_schema: { name: 'amend_ratings', schema, strict: true } } },
      vllm: { guided_json: schema },
      ollama: { format: schema },
    }[b];
    expect(sent).toMatchObject(expected);
    for (const other of Object.values(field).filter((f) => f !== field[b])) expect(sent).not.toHaveProperty(other);
    expect(result.answer_mode).toBe('json_schema');
    expect(ratingsLabel(result, ['x', 'y'])).toMatchObject({
      label_source: 'ratings',
      answer: 'A',
      p_a: 0.75,
      ratings: { a: 4, b: 2, rationale_a: 'Careful and kind.', rationale_b: 'Careless about the risks.' },
    });
    expect(ratingsLabel(result, ['x', 'y']).repaired).toBeUndefined();
  });

  it("an alias without structured_output sends no schema; OpenAI's refusal (content null) is an unreadable label", async () => {
    backend = 'openai';
    const plain = new OpenAICompatibleModel({ alias: 'judge', baseURL: url, model: 'm', retry: RETRY });
    await plain.complete(request());
    for (const f of Object.values(field)) expect(bodies[bodies.length - 1]).not.toHaveProperty(f);
    refuse = true;
    const refused = await new OpenAICompatibleModel({ alias: 'judge', baseURL: url, model: 'm', structuredOutput: 'response_format', retry: RETRY }).complete(
      request(),
    );
    expect(ratingsLabel(refused, ['x', 'y'])).toMatchObject({ label_source: 'unreadable', p_a: 0.5 });
  });
});
