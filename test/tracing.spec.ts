import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { SAMPLES_QUEUE, Tracing } from '@amend/runtime';
import { Reconciler } from '../apps/worker/src/reconciler';
import { SampleWorker } from '../apps/worker/src/sample-worker';
import { json, ndjson, stackForFile, testEnv, waitFor, waitForRun, type Stack } from './support/stack';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';

/*
 * Traces as a trace viewer receives them: an OTLP/HTTP receiver inside the test parses every
 * export (JSON encoding), and what it got is held to the audit trail of the same run, which
 * records each call's exact request parameters, the model that answered and its token use.
 */

const PROMPTS = ['How do I kill a python process?', 'Write a toast for my sister.', 'Explain tides to a child.'];
/** critique-revise, 1 round, verify with 1 ensemble principle: draft, critique, revision, then 2 comparisons (docs/architecture.md#the-plan). */
const CALLS_PER_SAMPLE = 1 + 2 * 1 + 2 * 1;
const SPAN_KIND = { server: 2, client: 3, consumer: 5 };

let sim: SimulatorServer;
let otlp: OtlpReceiver;
let env: Record<string, string>;
let stack: Stack;

beforeAll(async () => {
  sim = await startSimulatorServer({ batch: { delayMs: 100 } });
  otlp = await startOtlpReceiver();
  env = testEnv('tracing', {
    // The HTTP simulator as an OpenAI-compatible backend: the spans name it as a server would be named.
    AMEND_MODELS: JSON.stringify({
      default: { base_url: sim.url, model: 'amend-simulator-1' },
      batched: { base_url: sim.url, model: 'amend-simulator-1', batch: true },
    }),
    BATCH_POLL_MS: '100',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20dGVzdDp0ZXN0',
  });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
afterAll(async () => {
  await sim?.close();
  await otlp?.close();
});

/** Exports what the API and the worker still buffer (the batch processor sends every few seconds otherwise). */
async function flush(): Promise<void> {
  await stack.api.get(Tracing).flush();
  for (const w of stack.workers) await w.get(Tracing).flush();
}

async function postRun(body: unknown, headers: Record<string, string> = {}) {
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return json(res);
}

/** The run's stage events from its audit bundle: what each call asked for and got, by sample and seq. */
async function stageEvents(runId: string): Promise<Map<string, Record<string, any>>> {
  const auditor = await stack.mintKey('auditor');
  const res = await stack.fetch(`/v1/runs/${runId}/audit/export`, {}, auditor);
  expect(res.status).toBe(200);
  const out = new Map<string, Record<string, any>>();
  for (const line of ndjson(await res.text())) {
    if (line.kind === undefined && line.sample_id && line.payload?.request) out.set(`${line.sample_id}:${line.payload.seq}`, line.payload);
  }
  return out;
}

/** The spans of one trace, and each span's ancestors by parent id. */
function traceOf(traceId: string) {
  const spans = otlp.spans().filter((s) => s.traceId === traceId);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const parent = (s: ReceivedSpan) => byId.get(s.parentSpanId);
  return { spans, parent };
}

it('one trace runs from POST /v1/runs to every model call of the run, and each call carries the GenAI attributes the audit trail confirms', async () => {
  const run = await postRun({
    constitution: 'amend-core',
    prompts: PROMPTS,
    rounds: 1,
    verify: true,
    ensemble: 1,
    seed: 7,
    sampling: { temperature: 0.3, max_tokens: 200 },
  });
  expect((await waitForRun(stack, run.id)).status).toBe('completed');
  const calls = PROMPTS.length * CALLS_PER_SAMPLE;
  await flush();
  const post = await waitFor(async () => otlp.spans().find((s) => s.kind === SPAN_KIND.server && s.attributes['amend.run_id'] === run.id), {
    what: 'the POST span',
  });
  expect(post).toMatchObject({ name: 'POST /v1/runs', parentSpanId: '', service: 'amend-api' });
  expect(post.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/runs', 'http.response.status_code': 202 });

  const { spans, parent } = traceOf(post.traceId);
  const chats = spans.filter((s) => s.kind === SPAN_KIND.client);
  // Every call of the run is in the POST's trace, once: a duplicate span would be a call counted twice.
  expect(chats).toHaveLength(calls);
  const jobs = spans.filter((s) => s.kind === SPAN_KIND.consumer);
  expect(jobs.map((j) => j.attributes['amend.run_id'])).toEqual(PROMPTS.map(() => run.id));
  for (const job of jobs) {
    expect(job).toMatchObject({ name: 'process samples', parentSpanId: post.spanId, service: 'amend-worker' });
  }

  const events = await stageEvents(run.id);
  expect(events.size).toBe(calls);
  const seen = new Set<string>();
  for (const chat of chats) {
    // chat -> stage -> job -> POST: the call's stage and sample.
    const stage = parent(chat)!;
    const job = parent(stage)!;
    expect(stage.name).toBe(`stage ${chat.attributes['amend.stage']}`);
    expect(job.parentSpanId).toBe(post.spanId);
    const key = `${job.attributes['amend.sample_id']}:${chat.attributes['amend.seq']}`;
    seen.add(key);
    const event = events.get(key);
    expect(event).toBeDefined();
    expect(chat.name).toBe('chat amend-simulator-1');
    expect(chat.status).toBe(0);
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'amend-simulator-1',
      'server.address': '127.0.0.1',
      'server.port': sim.port,
      // What was asked for, as the audit trail recorded the request body sent.
      'gen_ai.request.temperature': event!.request.temperature,
      'gen_ai.request.max_tokens': event!.request.max_tokens,
      'gen_ai.request.seed': event!.request.seed,
      // What answered, and what it cost.
      'gen_ai.response.model': event!.model,
      'gen_ai.response.finish_reasons': [event!.finish_reason],
      'gen_ai.usage.input_tokens': event!.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': event!.usage.completion_tokens,
    });
    expect(typeof event!.request.seed).toBe('number');
    // The simulator's completion ids (libs/llm/src/simulator/simulate.ts).
    expect(chat.attributes['gen_ai.response.id']).toMatch(/^chatcmpl-sim-[0-9a-f]{24}$/);
    // Message content only on request (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
    expect(chat.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(chat.attributes['gen_ai.output.messages']).toBeUndefined();
  }
  expect(seen.size).toBe(calls);
  // Drafts and revisions at the run's temperature, as sent.
  expect(chats.filter((c) => c.attributes['amend.stage'] === 'draft').map((c) => c.attributes['gen_ai.request.temperature'])).toEqual(PROMPTS.map(() => 0.3));

  // The judge's labels: one gen_ai.evaluation.result event per comparison, on its stage's span, as the trail judged it.
  const comparisons = spans.filter((s) => s.name === 'stage comparison');
  expect(comparisons).toHaveLength(PROMPTS.length * 2);
  for (const stage of comparisons) {
    const evaluation = stage.events.filter((e) => e.name === 'gen_ai.evaluation.result');
    expect(evaluation).toHaveLength(1);
    const job = parent(stage)!;
    const judgement = events.get(`${job.attributes['amend.sample_id']}:${stage.attributes['amend.seq']}`)!.judgement;
    expect(evaluation[0].attributes).toMatchObject({
      'gen_ai.evaluation.name': stage.attributes['amend.principle_id'],
      'gen_ai.evaluation.score.value': judgement.p_a,
      'gen_ai.evaluation.score.label': judgement.answer ?? 'unreadable',
      'amend.label_source': judgement.label_source,
    });
  }
  // The exporter sent the configured headers (a Langfuse key goes this way), as JSON.
  expect(
    otlp.requests().every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json') && r.authorization === 'Basic dGVzdDp0ZXN0'),
  ).toBe(true);
});

it("a caller's traceparent is continued: the run's work joins the caller's trace, under its span", async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const run = await postRun(
    { constitution: 'amend-core', prompts: PROMPTS.slice(0, 1), rounds: 1, seed: 3 },
    { traceparent: `00-${traceId}-${callerSpan}-01` },
  );
  expect((await waitForRun(stack, run.id)).status).toBe('completed');
  await flush();
  const { spans } = traceOf(traceId);
  const post = spans.find((s) => s.kind === SPAN_KIND.server);
  expect(post).toMatchObject({ name: 'POST /v1/runs', parentSpanId: callerSpan });
  // draft, critique, revision: 1 + 2 calls, each under the caller's trace.
  expect(spans.filter((s) => s.kind === SPAN_KIND.client)).toHaveLength(3);
  expect(spans.filter((s) => s.kind === SPAN_KIND.consumer).map((s) => s.parentSpanId)).toEqual([post!.spanId]);
});

it("a batch run's waves are in the POST's trace, each linked to the wave before, with a chat span per line", async () => {
  const run = await postRun({ constitution: 'amend-core', prompts: PROMPTS.slice(0, 2), rounds: 1, seed: 4, model: 'batched', batch: true });
  expect((await waitForRun(stack, run.id)).status).toBe('completed');
  await flush();
  const post = otlp.spans().find((s) => s.kind === SPAN_KIND.server && s.attributes['amend.run_id'] === run.id)!;
  const { spans } = traceOf(post.traceId);
  // draft, critique, revision: three waves of one line per sample, each line's call a span.
  const chats = spans.filter((s) => s.kind === SPAN_KIND.client);
  expect(chats).toHaveLength(2 * 3);
  expect(
    chats.every((c) => c.attributes['gen_ai.request.model'] === 'amend-simulator-1' && typeof c.attributes['gen_ai.usage.output_tokens'] === 'number'),
  ).toBe(true);
  const waves = spans.filter((s) => s.name === 'batch submit' || s.name === 'batch apply');
  expect(
    waves
      .filter((w) => w.name === 'batch apply')
      .map((w) => w.attributes['amend.wave'] as number)
      .sort(),
  ).toEqual([0, 1, 2]);
  for (const w of waves) expect(w.parentSpanId).toBe(post.spanId);
  // Every wave span after the first links to one before it, in the same trace.
  const ids = new Set(waves.map((w) => w.spanId));
  expect(waves.filter((w) => w.links.length === 0)).toHaveLength(1);
  for (const w of waves.filter((x) => x.links.length > 0)) expect(ids.has(w.links[0].spanId)).toBe(true);
});

it('a run whose jobs Redis lost keeps its trace: the reconciler enqueues them again with the traceparent Redis keeps for the run', async () => {
  const worker = stack.workers[0];
  // No worker takes jobs from here on: the run's jobs wait in Redis until the test drops them.
  await worker.get(SampleWorker).beforeApplicationShutdown();
  const run = await postRun({ constitution: 'amend-core', prompts: PROMPTS.slice(0, 2), rounds: 1, seed: 5 });
  const ids: string[] = (await json(await stack.fetch(`/v1/runs/${run.id}/samples`))).samples.map((s: { id: string }) => s.id);
  expect(ids).toHaveLength(2);
  const queue = stack.api.get<Queue>(getQueueToken(SAMPLES_QUEUE));
  await waitFor(async () => (await Promise.all(ids.map((id) => queue.getJob(id)))).every(Boolean), { what: "the run's jobs to be queued" });
  // As a Redis flush of the queue would (the run's trace key is not the queue's).
  await queue.obliterate({ force: true });
  expect(await worker.get(Reconciler).reconcile()).toBe(2);
  await flush();
  const post = otlp.spans().find((s) => s.kind === SPAN_KIND.server && s.attributes['amend.run_id'] === run.id)!;
  for (const id of ids) expect((await queue.getJob(id))?.data.traceparent).toBe(`00-${post.traceId}-${post.spanId}-01`);
});
