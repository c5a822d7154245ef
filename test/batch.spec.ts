import { isRunFinished } from '@amend/contracts';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

const PRICE = { price_per_1k_prompt: 0.2, price_per_1k_completion: 0.6 };
const PROMPTS = ['How do I kill a python process?', 'Write a toast for my sister.', 'What should I pack for a week of rain?', 'Explain tides to a child.'];

let sim: SimulatorServer;
let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  sim = await startSimulatorServer({ batch: { delayMs: 300 } });
  const backend = { base_url: sim.url, model: 'amend-simulator-1', ...PRICE };
  env = testEnv('batch', {
    // The same backend twice: `default` through the Batch API, `online` call by call.
    AMEND_MODELS: JSON.stringify({ default: { ...backend, batch: true }, online: backend }),
    BATCH_POLL_MS: '100',
  });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
afterAll(() => sim?.close());

function post(body: unknown) {
  return stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function finished(id: string): Promise<any> {
  return waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${id}`));
      return isRunFinished(r.status) ? r : undefined;
    },
    { timeoutMs: 60_000, what: `run ${id} to finish` },
  );
}

const texts = (pairs: any[]) => pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, principles: p.metadata.principle_ids }));

it('a batch run goes in waves (draft, critique, revision), one batch per wave, and makes the same pairs as the same run online at batch prices', async () => {
  const before = sim.batchLog().length;
  const batchRun = await json(await post({ constitution: 'amend-core', prompts: PROMPTS, seed: 11, batch: true }));
  expect(batchRun.batch).toEqual({ wave: null, pending: 0, batches: [], totals: { batches: 0, requests: 0, completed: 0, failed: 0 } });
  const onlineRun = await json(await post({ constitution: 'amend-core', prompts: PROMPTS, seed: 11, model: 'online' }));
  const [b, o] = [await finished(batchRun.id), await finished(onlineRun.id)];

  expect(b.status).toBe('completed');
  expect(b.counts.completed).toBe(PROMPTS.length);
  // 1 draft + 1 critique + 1 revision per sample: three waves of one batch each.
  expect(b.batch.wave).toBe(2);
  expect(b.batch.totals).toEqual({ batches: 3, requests: 3 * PROMPTS.length, completed: 3 * PROMPTS.length, failed: 0 });
  expect(b.batch.batches).toEqual([
    expect.objectContaining({ wave: 2, status: 'completed', applied: true, request_counts: { total: 4, completed: 4, failed: 0 } }),
  ]);
  const lines = sim.batchLog().slice(before);
  expect(lines).toHaveLength(3 * PROMPTS.length);
  expect(new Set(lines.map((l) => l.batch_id)).size).toBe(3);

  const batchPairs = ndjson(await (await stack.fetch(`/v1/runs/${batchRun.id}/pairs?format=standard`)).text());
  const onlinePairs = ndjson(await (await stack.fetch(`/v1/runs/${onlineRun.id}/pairs?format=standard`)).text());
  const byPrompt = (a: any, z: any) => a.prompt.localeCompare(z.prompt);
  expect(texts(batchPairs).sort(byPrompt)).toEqual(texts(onlinePairs).sort(byPrompt));

  // Same tokens as online, at half the price (the Batch API discount, the default batch price).
  expect(b.usage.prompt_tokens).toBe(o.usage.prompt_tokens);
  expect(b.usage.completion_tokens).toBe(o.usage.completion_tokens);
  const online = (o.usage.prompt_tokens * PRICE.price_per_1k_prompt + o.usage.completion_tokens * PRICE.price_per_1k_completion) / 1000;
  expect(o.usage.cost_usd).toBeCloseTo(online, 6);
  expect(b.usage.cost_usd).toBeCloseTo(online / 2, 6);
});

it('a batch run writes the same audit events as an online run, and its trail verifies', async () => {
  const run = await json(await post({ constitution: 'amend-core', prompts: PROMPTS.slice(0, 2), seed: 3, batch: true }));
  await finished(run.id);
  const auditor = await stack.mintKey('auditor');
  const events = await json(await stack.fetch(`/v1/runs/${run.id}/audit?limit=1000`, {}, auditor));
  const list: any[] = events.events ?? events;
  const perSample = new Map<string, string[]>();
  for (const e of list) if (e.sample_id) perSample.set(e.sample_id, [...(perSample.get(e.sample_id) ?? []), e.type]);
  expect([...perSample.values()]).toEqual([
    ['draft.generated', 'critique.generated', 'revision.generated', 'pair.emitted'],
    ['draft.generated', 'critique.generated', 'revision.generated', 'pair.emitted'],
  ]);
  const draft = list.find((e) => e.type === 'draft.generated');
  expect(draft.payload.batch).toEqual({ id: expect.stringMatching(/^batch_/), custom_id: `${draft.sample_id}:0`, request_id: expect.stringMatching(/^req_/) });
  // The payload names the messages by hash; the event carries them (stored once, content-addressed).
  expect(draft.payload.request).toMatchObject({ model: 'amend-simulator-1', messages_sha256: expect.any(Array) });
  expect(draft.messages).toEqual(expect.arrayContaining([expect.objectContaining({ role: 'user' })]));
  const verify = await json(await stack.fetch(`/v1/runs/${run.id}/audit/verify`, {}, auditor));
  expect(verify.ok).toBe(true);
});

it('a batch run on an alias without batch support, or with a budget, is refused with 422', async () => {
  const a = await post({ constitution: 'amend-core', prompts: ['x'], model: 'online', batch: true });
  expect(a.status).toBe(422);
  expect((await json(a)).error).toMatchObject({ code: 'batch_unsupported', details: { unsupported: ['online'], batch_aliases: ['default'] } });
  const b = await post({ constitution: 'amend-core', prompts: ['x'], batch: true, budget: { tokens: 1000 } });
  expect(b.status).toBe(422);
  expect((await json(b)).error.code).toBe('batch_budget_unsupported');
});

/** The (sample, stage) custom ids the simulator was sent for this run, with how often, from its own log. */
async function submitted(runId: string, since: number): Promise<Map<string, number>> {
  const samples = await json(await stack.fetch(`/v1/runs/${runId}/samples?limit=1000`));
  const ids = new Set<string>(samples.samples.map((s: any) => s.id));
  const counts = new Map<string, number>();
  for (const l of sim.batchLog().slice(since)) if (ids.has(l.custom_id.split(':')[0])) counts.set(l.custom_id, (counts.get(l.custom_id) ?? 0) + 1);
  return counts;
}

it('failed lines are asked again in the next wave when transient (a 500, a timeout) and fail their sample when permanent (a 400), as online', async () => {
  const since = sim.batchLog().length;
  // The first batch: its first line answered 500, its second timed out.
  sim.setBatchScript([{ status: { lines: 1, status: 500 }, error: { lines: 1, code: 'request_timeout' } }]);
  const prompts = ['Name a fruit.', 'Name a colour.', 'Name a bird.', 'Name a tree. [[amend:fail400]]'];
  const run = await finished((await json(await post({ constitution: 'amend-core', prompts, batch: true }))).id);
  const counts = await submitted(run.id, since);
  const failedSample = (await json(await stack.fetch(`/v1/runs/${run.id}/samples?status=failed`))).samples;

  expect(run.status).toBe('completed');
  expect(run.counts).toMatchObject({ completed: 3, failed: 1 });
  expect(failedSample).toHaveLength(1);
  expect(failedSample[0].failure_reason).toMatch(/^bad_request: default \(batch\): HTTP 400/);
  // The 400 is not asked again; the two transient drafts are asked twice (unless the 400 sat on one of the first two lines).
  expect(counts.get(`${failedSample[0].id}:0`)).toBe(1);
  const twice = [...counts].filter(([, n]) => n === 2).map(([id]) => id);
  expect(twice.every((id) => id.endsWith(':0'))).toBe(true);
  expect(twice.length).toBeGreaterThanOrEqual(1);
  expect([...counts.values()].every((n) => n <= 2)).toBe(true);
  expect(counts.size).toBe(3 * 3 + 1);
  expect(run.batch.totals.failed).toBeGreaterThanOrEqual(2);
});

it('an expired batch is resubmitted for exactly what it left unanswered', async () => {
  const since = sim.batchLog().length;
  sim.setBatchScript([{ expire: { after: 1 } }]);
  const run = await finished((await json(await post({ constitution: 'amend-core', prompts: PROMPTS.slice(0, 3), batch: true }))).id);
  const counts = await submitted(run.id, since);
  expect(run.status).toBe('completed');
  expect(run.counts.completed).toBe(3);
  expect([...counts].filter(([, n]) => n === 2).map(([id]) => id.split(':')[1])).toEqual(['0', '0']);
  expect(counts.size).toBe(9);
  const first = sim.batches().find((b: any) => b.status === 'expired' && b.request_counts.completed === 1);
  expect(first).toBeDefined();
});

it('cancelling a batch run cancels its pending batch at the provider and submits nothing more', async () => {
  sim.setBatchScript([{ delayMs: 120_000 }]);
  const created = await json(await post({ constitution: 'amend-core', prompts: PROMPTS, batch: true }));
  const pending = await waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${created.id}`));
      return r.batch.batches[0]?.id && r.batch.batches[0].status === 'in_progress' ? r.batch.batches[0] : undefined;
    },
    { timeoutMs: 30_000, what: 'the first wave to be pending' },
  );
  expect(pending.request_counts.total).toBe(PROMPTS.length);
  const res = await stack.fetch(`/v1/runs/${created.id}/cancel`, { method: 'POST' });
  expect(res.status).toBe(200);
  const settled = await waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${created.id}`));
      return r.batch.pending === 0 ? r : undefined;
    },
    { timeoutMs: 30_000, what: 'the cancelled batch to settle' },
  );
  expect(sim.batches().find((b) => b.id === pending.id)).toMatchObject({ status: 'cancelled', cancelled_at: expect.any(Number) });
  expect(settled.status).toBe('cancelled');
  expect(settled.counts.cancelled).toBe(PROMPTS.length);
  expect(settled.batch.batches).toEqual([expect.objectContaining({ id: pending.id, status: 'cancelled', applied: true })]);
  expect(settled.batch.totals.batches).toBe(1);
});

it('ai-feedback and verify runs add their candidate and comparison waves and make the same pairs and judgements as online', async () => {
  const prompts = PROMPTS.slice(0, 2);
  const pairsOf = async (body: Record<string, unknown>) => {
    const run = await finished((await json(await post({ constitution: 'amend-core', prompts, seed: 5, ...body }))).id);
    expect(run.status).toBe('completed');
    const pairs = ndjson(await (await stack.fetch(`/v1/runs/${run.id}/pairs?format=standard`)).text());
    return { run, pairs: pairs.map((p) => ({ ...texts([p])[0], judgement: p.metadata.judgement })).sort((a, z) => a.prompt.localeCompare(z.prompt)) };
  };
  for (const options of [{ mode: 'ai-feedback', candidates: 2 }, { verify: true }]) {
    const batch = await pairsOf({ ...options, batch: true });
    const online = await pairsOf({ ...options, model: 'online' });
    expect(batch.pairs).toEqual(online.pairs);
    expect(batch.pairs[0].judgement).toEqual(expect.objectContaining({ label_source: 'logprobs' }));
    // One wave per call of a sample: ai-feedback 2 candidates + 2 comparisons; verify 3 + 2 comparisons.
    expect(batch.run.batch.totals.batches).toBe(online.run.usage.calls / prompts.length);
  }
});

it('a multi-turn prompt goes through the waves with its conversation and makes the same pair as online', async () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What does ps do?' },
    { role: 'assistant', content: 'It lists processes.' },
    { role: 'user', content: 'How do I stop one of them?' },
  ];
  const body = { constitution: 'amend-core', prompts: [{ id: 'mt', messages }], seed: 5 };
  const [b, o] = [await json(await post({ ...body, batch: true })), await json(await post({ ...body, model: 'online' }))];
  expect((await finished(b.id)).status).toBe('completed');
  expect((await finished(o.id)).status).toBe('completed');
  const [batchPair] = ndjson(await (await stack.fetch(`/v1/runs/${b.id}/pairs`)).text());
  const [onlinePair] = ndjson(await (await stack.fetch(`/v1/runs/${o.id}/pairs`)).text());
  expect(batchPair.prompt).toEqual(messages);
  expect([batchPair.chosen, batchPair.rejected]).toEqual([onlinePair.chosen, onlinePair.rejected]);
});

it('a batch run saves the same stage records and pairs as the same run online, stage for stage', async () => {
  // Two rounds and a verified pair: every kind of critique-revise stage, the comparisons included.
  const body = { constitution: 'amend-core', prompts: PROMPTS.slice(0, 2), seed: 17, rounds: 2, verify: true };
  const [b, o] = [await json(await post({ ...body, batch: true })), await json(await post({ ...body, model: 'online' }))];
  expect((await finished(b.id)).status).toBe('completed');
  expect((await finished(o.id)).status).toBe('completed');
  /** Each sample's saved stages in prompt order, without what differs by how the answer came (the call's latency, the row's time). */
  const stagesOf = async (runId: string) => {
    const { samples } = await json(await stack.fetch(`/v1/runs/${runId}/samples?limit=100`));
    const out = [];
    for (const s of samples.sort((x: any, z: any) => x.index - z.index)) {
      const detail = await json(await stack.fetch(`/v1/samples/${s.id}`));
      out.push({
        status: detail.status,
        stage: detail.stage,
        usage: detail.usage,
        stages: detail.stages.map(({ latency_ms: _l, created_at: _c, ...rest }: any) => rest),
      });
    }
    return out;
  };
  /** Pairs in prompt order, without their own ids and their run's and samples'. */
  const pairsOf = async (runId: string) =>
    ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs`)).text())
      .map(({ id: _i, run_id: _r, sample_id: _s, ...rest }) => rest)
      .sort((x, z) => x.metadata.sample_index - z.metadata.sample_index);
  const [batchStages, onlineStages] = [await stagesOf(b.id), await stagesOf(o.id)];
  // 1 draft + 2 x (critique, revision) + 2 comparisons per sample.
  expect(batchStages.map((s) => s.stages.map((r: any) => `${r.stage} ${r.round}`))).toEqual(
    Array(2).fill(['draft 0', 'critique 1', 'revision 1', 'critique 2', 'revision 2', 'comparison 1', 'comparison 1']),
  );
  expect(batchStages).toEqual(onlineStages);
  const [batchPairs, onlinePairs] = [await pairsOf(b.id), await pairsOf(o.id)];
  expect(batchPairs).toHaveLength(2);
  expect(batchPairs).toEqual(onlinePairs);
});
