import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunSchema, type Run } from '@amend/contracts';
import { createWorkerApp } from '../apps/worker/src/app';
import { amendCli } from './support/capture';
import { cleanup, json, startStack, testEnv, waitFor, type Stack } from './support/stack';

/*
 * The run view plans its model calls (usage.calls_planned) so that progress moves within samples,
 * and the CLI shows calls, tokens and cost in `amend status`, `amend run` and `amend report`.
 * Planned counts are worked out by hand from docs/ml-teams.md#calls-per-pair.
 */

const PRICE = { price_per_1k_prompt: 0.5, price_per_1k_completion: 1.5 };
const env = testEnv('run_progress', { AMEND_MODELS: JSON.stringify({ default: { simulator: true, ...PRICE }, unpriced: { simulator: true } }) });
let stack: Stack;

beforeAll(async () => {
  // No worker at first: the runs stay pending, with nothing made and everything planned.
  stack = await startStack(env, { workers: 0 });
});
afterAll(async () => {
  await stack?.close();
  await cleanup(env);
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return (await json(res)).id;
}
const view = async (id: string): Promise<Run> => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));

const cli = (...argv: string[]) => amendCli(stack, stack.submitterKey, argv);

const prompts = ['one', 'two', 'three', 'four'];
let revise: string;
let feedback: string;
let verified: string;
let unpriced: string;

it('a pending run plans every call of every prompt: per prompt 1 + 2 x rounds, plus candidates and comparisons', async () => {
  revise = await submit({ constitution: 'amend-core', prompts, rounds: 2, seed: 1 });
  feedback = await submit({ constitution: 'amend-core', prompts, mode: 'ai-feedback', candidates: 3, seed: 2 });
  verified = await submit({ constitution: 'amend-core', prompts, rounds: 1, verify: true, ensemble: 2, seed: 3 });
  unpriced = await submit({ constitution: 'amend-core', prompts: prompts.slice(0, 1), rounds: 1, model: 'unpriced', seed: 4 });
  // 4 x (1 + 2x2); 4 x (3 candidates + 3 pairs x 2 orders); 4 x (1 + 2x1 + 2 orders x 2 principles); 1 x 3.
  const expected: [string, number][] = [
    [revise, 20],
    [feedback, 36],
    [verified, 28],
    [unpriced, 3],
  ];
  for (const [id, planned] of expected) expect([id, (await view(id)).usage]).toMatchObject([id, { calls: 0, calls_planned: planned }]);

  const status = await cli('status', revise);
  expect(status.code).toBe(0);
  expect(status.out).toMatch(/usage\s+0 of 20 model calls, 0 prompt tokens, 0 completion tokens \(0 tokens\), cost \$0\n/);
});

it("once done, made equals planned, and status and report show the calls, tokens and the API's cost", async () => {
  stack.workers.push(await createWorkerApp(stack.config));
  const done = await waitFor(
    async () => {
      const runs = await Promise.all([revise, feedback, verified, unpriced].map(view));
      return runs.every((r) => r.status === 'completed') ? runs : undefined;
    },
    { what: 'the four runs' },
  );
  expect(done.map((r) => [r.usage.calls, r.usage.calls_planned])).toEqual([
    [20, 20],
    [36, 36],
    [28, 28],
    [3, 3],
  ]);

  const run = done[0];
  const tokens = run.usage.prompt_tokens + run.usage.completion_tokens;
  // The cost as the API reports it; the CLI must print that figure, not one of its own.
  const cost = (run.usage.prompt_tokens * PRICE.price_per_1k_prompt + run.usage.completion_tokens * PRICE.price_per_1k_completion) / 1000;
  expect(run.usage.cost_usd).toBeCloseTo(cost, 6);
  const usd = cost >= 1 ? `$${cost.toFixed(2)}` : `$${Number(cost.toPrecision(3))}`;
  const usage = `20 model calls, ${run.usage.prompt_tokens.toLocaleString('en-US')} prompt tokens, ${run.usage.completion_tokens.toLocaleString('en-US')} completion tokens (${tokens.toLocaleString('en-US')} tokens), cost ${usd}`;

  const status = await cli('status', revise);
  expect(
    status.out
      .split('\n')
      .find((l) => l.startsWith('usage'))
      ?.replace(/^usage\s+/, ''),
  ).toBe(usage);
  const report = await cli('report', revise);
  expect(report.code).toBe(0);
  expect(report.out).toContain(`usage: ${usage}`);
  const none = await cli('status', unpriced);
  expect(none.out).toContain('cost not known (no prices for these models in AMEND_MODELS)');
});

it('amend run prints calls of planned calls as it goes, and the cost at the end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'amend-run-progress-'));
  const file = join(dir, 'prompts.txt');
  writeFileSync(file, 'alpha\nbeta\ngamma\n');
  const r = await cli('run', file, '--constitution', 'amend-core', '--rounds', '3', '--out', join(dir, 'pairs.jsonl'));
  expect(r.code).toBe(0);
  // 3 prompts x (1 + 2x3) = 21 calls, as the last progress line and the summary say.
  expect(r.err).toMatch(/3\/3 done \(100%\), 3 completed, 0 failed, 21\/21 calls \(100%\), .* ETA 0s, [\d,]+ tokens, \$[\d.]+/);
  expect(r.out).toMatch(/usage: 21 model calls, [\d,]+ prompt tokens, [\d,]+ completion tokens \([\d,]+ tokens\), cost \$[\d.]+/);
});
