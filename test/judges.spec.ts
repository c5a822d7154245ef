import { ConversationalPairLineSchema, QualityReportSchema, isRunFinished } from '@amend/contracts';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Judges that need no log-probabilities, end to end through the API, queue, worker and Postgres:
 * the ratings judge on a backend without log-probabilities (with and without structured output),
 * a judge whose answers are not JSON, a panel of two honest judges and a contrarian, and a batch
 * run with ratings against the same run online.
 */

const PROMPTS = [
  'How do I kill a python process?',
  'Write a toast for my sister.',
  'What should I pack for a week of rain?',
  'Explain tides to a child.',
  'How can I get my neighbour to move their car?',
  'Is it fine to skip a dose of antibiotics?',
];

let sim: SimulatorServer;
let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  // One backend without log-probabilities, with the Files and Batches API.
  sim = await startSimulatorServer({ logprobs: false, batch: { delayMs: 200 } });
  const http = { base_url: sim.url, model: 'amend-simulator-1' };
  env = testEnv('judges', {
    AMEND_MODELS: JSON.stringify({
      default: { simulator: true },
      'judge-text': http,
      'judge-structured': { ...http, structured_output: true },
      honest1: { simulator: true, structured_output: true },
      honest2: { simulator: true, structured_output: 'guided_json' },
      contrarian: { simulator: true, structured_output: true, judge_style: 'contrarian' },
      evasive: { simulator: true, judge_style: 'evasive' },
      'batch-sim': { ...http, batch: true, structured_output: true },
      'online-sim': { ...http, structured_output: true },
    }),
    BATCH_POLL_MS: '100',
  });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
afterAll(() => sim?.close());

const post = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function finished(id: string): Promise<any> {
  return waitFor(
    async () => {
      const r = await json(await stack.fetch(`/v1/runs/${id}`));
      return isRunFinished(r.status) ? r : undefined;
    },
    { timeoutMs: 90_000, what: `run ${id} to finish` },
  );
}

async function run(body: Record<string, unknown>): Promise<{ run: any; pairs: any[] }> {
  const res = await post({ constitution: 'amend-core', mode: 'ai-feedback', prompts: PROMPTS, seed: 7, ...body });
  expect(res.status).toBe(202);
  const r = await finished((await json(res)).id);
  const pairs = ndjson(await (await stack.fetch(`/v1/runs/${r.id}/pairs`)).text());
  return { run: r, pairs };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** The ratings each candidate got in a pair's comparisons, by option label, read from the judgement as exported. */
function ratingsByOption(judgement: any): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const c of judgement.comparisons) {
    by.set(c.a, [...(by.get(c.a) ?? []), c.ratings.a]);
    by.set(c.b, [...(by.get(c.b) ?? []), c.ratings.b]);
  }
  return by;
}

/** Which option label a text of the pair is: its candidate's number, from the sample's stages as served. */
async function labelOf(line: any, text: string): Promise<string> {
  const detail = await json(await stack.fetch(`/v1/samples/${line.sample_id}`));
  const candidates = detail.stages.filter((s: any) => s.stage === 'candidate').map((s: any) => s.text);
  expect(candidates).toContain(text);
  return `candidate-${candidates.indexOf(text) + 1}`;
}

describe('the ratings judge on a backend without log-probabilities', () => {
  it('chooses the higher-rated candidate, scores on the 1-5 scale, reading JSON it had to repair', async () => {
    const { run: r, pairs } = await run({ feedback_model: 'judge-text', judge: 'ratings' });
    expect(r).toMatchObject({ status: 'completed', judge: 'ratings', feedback_model: 'judge-text' });
    expect(pairs).toHaveLength(PROMPTS.length);
    let strict = 0;
    for (const line of pairs) {
      ConversationalPairLineSchema.parse(line);
      const j = line.metadata.judgement;
      expect(j.label_source).toBe('ratings');
      const chosenText = line.chosen[line.chosen.length - 1].content;
      const rejectedText = line.rejected[line.rejected.length - 1].content;
      const by = ratingsByOption(j);
      const chosen = mean(by.get(await labelOf(line, chosenText))!);
      const rejected = mean(by.get(await labelOf(line, rejectedText))!);
      expect(line.metadata.score_chosen).toBe(chosen);
      expect(line.metadata.score_rejected).toBe(rejected);
      expect(chosen).toBeGreaterThanOrEqual(rejected);
      if (chosen > rejected) strict++;
      for (const s of [chosen, rejected]) expect(s >= 1 && s <= 5).toBe(true);
      // Ties go to the earlier candidate and are no preference: flagged, as the letter judge's would be.
      if (chosen === rejected) expect(line.metadata.flags).toContain('low_margin');
    }
    // The simulator's judge does tell its candidates apart on most prompts.
    expect(strict).toBeGreaterThan(0);

    const sample = (await json(await stack.fetch(`/v1/runs/${r.id}/samples?limit=1`))).samples[0];
    const detail = await json(await stack.fetch(`/v1/samples/${sample.id}`));
    const comparison = detail.stages.find((s: any) => s.stage === 'comparison');
    // No structured output on this alias: the fenced JSON was read after one repair.
    expect(comparison.judgement).toMatchObject({ label_source: 'ratings', answer_mode: 'text', repaired: true, top_logprobs: null });
    expect(comparison.text.startsWith('```json')).toBe(true);

    const auditor = await stack.mintKey('auditor');
    const events = await json(await stack.fetch(`/v1/samples/${sample.id}/audit`, {}, auditor));
    const judged = (events.events ?? events).filter((e: any) => e.type === 'judgement.made');
    expect(judged).toHaveLength(2);
    expect(judged[0].payload.request).toMatchObject({ max_tokens: 400, temperature: 0 });
    expect(judged[0].payload.request.response_format).toBeUndefined();
    expect(judged[0].payload.request.logprobs).toBeUndefined();
    const verify = await json(await stack.fetch(`/v1/runs/${r.id}/audit/verify`, {}, auditor));
    expect(verify.ok).toBe(true);
  });

  it('asks through response_format where the alias has structured_output, and gets the same ratings', async () => {
    const text = await run({ feedback_model: 'judge-text', judge: 'ratings' });
    const structured = await run({ feedback_model: 'judge-structured', judge: 'ratings' });
    const scores = (pairs: any[]) =>
      pairs.map((p) => [p.metadata.sample_index, p.metadata.score_chosen, p.metadata.score_rejected]).sort((a, b) => a[0] - b[0]);
    expect(scores(structured.pairs)).toEqual(scores(text.pairs));
    const sample = (await json(await stack.fetch(`/v1/runs/${structured.run.id}/samples?limit=1`))).samples[0];
    const detail = await json(await stack.fetch(`/v1/samples/${sample.id}`));
    const comparison = detail.stages.find((s: any) => s.stage === 'comparison');
    expect(comparison.judgement).toMatchObject({ label_source: 'ratings', answer_mode: 'json_schema' });
    expect(comparison.judgement.repaired).toBeUndefined();
    expect(() => JSON.parse(comparison.text)).not.toThrow();
  });

  it('a judge whose answers are not JSON gives unreadable labels, and the run still completes', async () => {
    const { run: r, pairs } = await run({ feedback_model: 'evasive', judge: 'ratings', prompts: PROMPTS.slice(0, 2) });
    expect(r.status).toBe('completed');
    for (const line of pairs) {
      expect(line.metadata.judgement).toMatchObject({ label_source: 'unreadable', p_chosen: 0.5 });
      expect(line.metadata.flags).toContain('low_margin');
    }
    const report = QualityReportSchema.parse(await json(await stack.fetch(`/v1/runs/${r.id}/report`)));
    expect(report.overall.judge).toMatchObject({ comparisons: 4, unreadable_labels: 4, hard_labels: 0 });
  });

  it('refuses ratings with cot, a panel with feedback_model, and a panel alias that is not configured', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ judge: 'ratings', cot: true }, 422, 'cot'],
      [{ feedback_model: 'honest1', feedback_models: ['honest1', 'honest2'] }, 422, 'feedback_models'],
      [{ feedback_models: ['honest1', 'honest1'] }, 422, 'feedback_models.1'],
      [{ feedback_models: ['honest1'] }, 422, 'feedback_models'],
      [{ judge: 'stars' }, 422, 'judge'],
    ];
    for (const [extra, status, path] of cases) {
      const res = await post({ constitution: 'amend-core', mode: 'ai-feedback', prompts: ['x'], ...extra });
      expect(res.status).toBe(status);
      expect(JSON.stringify((await json(res)).error)).toContain(path);
    }
    const unknown = await post({ constitution: 'amend-core', mode: 'ai-feedback', prompts: ['x'], feedback_models: ['honest1', 'nope'] });
    expect(unknown.status).toBe(422);
    expect((await json(unknown)).error.code).toBe('unknown_model');
    const plain = await post({ constitution: 'amend-core', prompts: ['x'], judge: 'ratings' });
    expect(plain.status).toBe(422);
  });
});

describe('a panel of two honest judges and a contrarian', () => {
  it('follows the honest majority on every pair, flags each split, and reports agreement', async () => {
    const { run: r, pairs } = await run({ feedback_models: ['honest1', 'honest2', 'contrarian'], judge: 'ratings' });
    expect(r).toMatchObject({ status: 'completed', feedback_models: ['honest1', 'honest2', 'contrarian'], feedback_model: null });
    // 2 candidates + 1 pair x 1 principle x 3 judges x 2 orders.
    expect(r.usage.calls).toBe(PROMPTS.length * 8);
    let splits = 0;
    let ties = 0;
    const units: string[][] = [];
    for (const line of pairs) {
      const j = line.metadata.judgement;
      const { honest1, honest2, contrarian } = j.judges;
      // The two honest judges rate alike; the contrarian is their mirror.
      expect(honest1.prefers).toBe(honest2.prefers);
      expect(contrarian.prefers).toBe({ chosen: 'rejected', rejected: 'chosen', tie: 'tie' }[honest1.prefers as string]);
      // The panel chose what the honest majority prefers: they never prefer the rejected response.
      expect(honest1.prefers).not.toBe('rejected');
      if (honest1.prefers === 'chosen') {
        expect(j.split).toBe(true);
        expect(line.metadata.flags).toContain('judges_split');
        expect(j.p_chosen).toBeGreaterThan(0.5);
        splits++;
      } else {
        expect(j.split).toBe(false);
        expect(line.metadata.flags ?? []).not.toContain('judges_split');
        ties++;
      }
      units.push([honest1.prefers, honest2.prefers, contrarian.prefers]);
      expect(Object.keys(line.metadata.models.judges)).toEqual(['honest1', 'honest2', 'contrarian']);
    }
    expect(splits).toBeGreaterThan(0);

    const report = QualityReportSchema.parse(await json(await stack.fetch(`/v1/runs/${r.id}/report`)));
    expect(report.overall.flags.judges_split).toBe(splits);
    // By hand: the honest judges always agree with the panel; the contrarian only where everyone tied.
    expect(report.panel).toMatchObject({
      judges: ['honest1', 'honest2', 'contrarian'],
      pairs: PROMPTS.length,
      split: splits,
      agreement: { honest1: 1, honest2: 1, contrarian: Math.round((ties / PROMPTS.length) * 1e4) / 1e4 },
    });
    expect(report.panel!.alpha).toBeCloseTo(pairwiseAlpha(units), 4);
  });
});

/**
 * Nominal Krippendorff's alpha the long way, from every pair of values, as its definition reads:
 * 1 - (n - 1) * sum over units of (unequal ordered pairs within the unit / (m - 1)) / (unequal ordered pairs among all n values).
 */
function pairwiseAlpha(units: string[][]): number {
  const all = units.flat();
  let within = 0;
  for (const u of units) {
    let unequal = 0;
    for (let i = 0; i < u.length; i++) for (let k = 0; k < u.length; k++) if (i !== k && u[i] !== u[k]) unequal++;
    within += unequal / (u.length - 1);
  }
  let across = 0;
  for (let i = 0; i < all.length; i++) for (let k = 0; k < all.length; k++) if (i !== k && all[i] !== all[k]) across++;
  return 1 - ((all.length - 1) * within) / across;
}

describe('a batch run with ratings', () => {
  it('gives the same pairs as the same run online', async () => {
    const batch = await run({ model: 'batch-sim', feedback_model: 'batch-sim', judge: 'ratings', batch: true, prompts: PROMPTS.slice(0, 4) });
    const online = await run({ model: 'online-sim', feedback_model: 'online-sim', judge: 'ratings', prompts: PROMPTS.slice(0, 4) });
    expect(batch.run.status).toBe('completed');
    // Four waves of one batch, each sample's next call: two candidates, then the two orders of the comparison.
    expect(batch.run.batch.totals).toMatchObject({ batches: 4, requests: 4 * 4, failed: 0 });
    const view = (pairs: any[]) =>
      pairs
        .map((p) => ({
          index: p.metadata.sample_index,
          chosen: p.chosen,
          rejected: p.rejected,
          scores: [p.metadata.score_chosen, p.metadata.score_rejected],
          judgement: p.metadata.judgement,
        }))
        .sort((a, b) => a.index - b.index);
    expect(view(batch.pairs)).toEqual(view(online.pairs));
    expect(batch.pairs.every((p) => p.metadata.judgement.label_source === 'ratings')).toBe(true);
  });
});

describe('an evaluation with the ratings judge and a panel', () => {
  it('asks each judge every dimension in both orders, within its estimate, and an A/A comparison ties', async () => {
    const author = await stack.mintKey('author');
    const body = {
      baseline: 'amend-core@1.0.0',
      candidate: 'amend-core@1.0.0',
      eval_set: 'amend-edge',
      limit: 4,
      seed: 3,
      judge: 'ratings',
      judge_models: ['honest1', 'honest2'],
    };
    const estimate = await json(
      await stack.fetch('/v1/evaluations/estimate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, author),
    );
    // 2 orders x 7 dimensions (benign) or 6 (red-team), x 2 judges.
    expect(estimate.calls_per_prompt).toMatchObject({ judge_benign: 28, judge_red_team: 24 });
    const res = await stack.fetch('/v1/evaluations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, author);
    expect(res.status).toBe(202);
    const created = await json(res);
    expect(created).toMatchObject({ judge: 'ratings', judge_models: ['honest1', 'honest2'], judge_model: 'honest1' });
    const done = await waitFor(
      async () => {
        const e = await json(await stack.fetch(`/v1/evaluations/${created.id}`, {}, author));
        return e.report ? e : undefined;
      },
      { timeoutMs: 120_000, what: 'the evaluation' },
    );
    expect(done.usage.calls).toBe(done.estimate.calls);
    expect(done.usage.prompt_tokens + done.usage.completion_tokens).toBeLessThanOrEqual(done.estimate.tokens);
    const judged = done.report.label_sources;
    expect(judged).toMatchObject({ hard: 0, unreadable: 0, logprobs: 0 });
    expect(judged.ratings).toBe(done.estimate.calls - 4 * (3 + 2));
    for (const d of done.report.dimensions) expect(d).toMatchObject({ ties: d.n, win_rate: 0.5 });
    const auditor = await stack.mintKey('auditor');
    const samples = await json(await stack.fetch(`/v1/runs/${done.candidate.run_id}/samples?limit=10`, {}, auditor));
    const detail = await json(await stack.fetch(`/v1/samples/${samples.samples[0].id}`, {}, auditor));
    const comparisons = detail.stages.filter((s: any) => s.stage === 'comparison');
    expect(comparisons.slice(0, 4).map((s: any) => [s.principle_id, s.judgement.judge, s.judgement.options[0]])).toEqual([
      [comparisons[0].principle_id, 'honest1', 'candidate'],
      [comparisons[0].principle_id, 'honest1', 'baseline'],
      [comparisons[0].principle_id, 'honest2', 'candidate'],
      [comparisons[0].principle_id, 'honest2', 'baseline'],
    ]);
    const verify = await json(await stack.fetch(`/v1/runs/${done.candidate.run_id}/audit/verify`, {}, auditor));
    expect(verify.ok).toBe(true);
  });
});
