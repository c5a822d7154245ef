import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

const N = 10;
const PRICE = { price_per_1k_prompt: 0.5, price_per_1k_completion: 1.5 };

const env = testEnv('budget', {
  AMEND_MODELS: JSON.stringify({ default: { simulator: true, ...PRICE }, unpriced: { simulator: true } }),
  // One sample at a time, so the run overshoots its budget by at most the one call in flight.
  WORKER_CONCURRENCY: '1',
});
let stack: Stack;
stackForFile(env, {}, (s) => (stack = s));

function post(body: unknown) {
  return stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

it('a run that reaches its token budget stops its remaining samples as budget_exhausted, keeps its pairs exportable and reports tokens and cost', async () => {
  const prompts = Array.from({ length: N }, (_, i) => `Give me a packing list for trip ${i}.`);
  const res = await post({ constitution: 'anthropic-cai', prompts, budget: { tokens: 20_000 } });
  expect(res.status).toBe(202);
  const created = await json(res);
  expect(created.budget).toEqual({ tokens: 20_000 });
  const run = await waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${created.id}`));
      return ['completed', 'failed'].includes(r.status) ? r : undefined;
    },
    { timeoutMs: 60_000, what: 'the run to stop' },
  );
  const pairs = ndjson(await (await stack.fetch(`/v1/runs/${created.id}/pairs`)).text());
  const stopped = await json(await stack.fetch(`/v1/runs/${created.id}/samples?status=budget_exhausted`));
  const tokens = run.usage.prompt_tokens + run.usage.completion_tokens;
  const expectedCost = (run.usage.prompt_tokens * PRICE.price_per_1k_prompt + run.usage.completion_tokens * PRICE.price_per_1k_completion) / 1000;

  expect(run.status).toBe('completed');
  expect(run.counts.completed).toBeGreaterThan(0);
  expect(run.counts.budget_exhausted).toBeGreaterThan(0);
  expect(run.counts.completed + run.counts.budget_exhausted).toBe(N);
  expect(run.counts.failed).toBe(0);
  expect(pairs).toHaveLength(run.counts.completed);
  expect(stopped.samples).toHaveLength(run.counts.budget_exhausted);
  expect(stopped.samples[0].failure_reason).toMatch(/^budget_exhausted: the run spent \d+ tokens/);
  expect(tokens).toBeGreaterThanOrEqual(20_000);
  expect(tokens).toBeLessThan(20_000 + 4_000); // one call past the budget at most (the longest call is under 4,000 tokens)
  expect(run.usage.cost_usd).toBeCloseTo(expectedCost, 6);
});

it('a run without a budget reports its cost when its model has prices, and has no budget count', async () => {
  const res = await post({ constitution: 'anthropic-cai', prompts: ['Name a quiet houseplant.'] });
  const created = await json(res);
  const run = await waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${created.id}`));
      return r.status === 'completed' ? r : undefined;
    },
    { timeoutMs: 30_000 },
  );
  expect(run.budget).toBeNull();
  expect(run.counts.budget_exhausted).toBeUndefined();
  expect(run.usage.cost_usd).toBeGreaterThan(0);
});

it('a cost budget on a model without prices is refused with 422 naming the alias and the fix', async () => {
  const res = await post({ constitution: 'anthropic-cai', prompts: ['x'], model: 'unpriced', budget: { cost_usd: 1 } });
  expect(res.status).toBe(422);
  const body = await json(res);
  expect(body.error.code).toBe('budget_without_prices');
  expect(body.error.message).toContain('"unpriced"');
  expect(body.error.message).toContain('price_per_1k_prompt');
});

it('a budget with neither tokens nor cost_usd is refused with 422', async () => {
  const res = await post({ constitution: 'anthropic-cai', prompts: ['x'], budget: {} });
  expect(res.status).toBe(422);
  expect((await json(res)).error.message).toContain('budget');
});
