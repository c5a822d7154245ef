import { ErrorBodySchema, EvaluationSchema, SampleSchema, type Evaluation, type Sample } from '@amend/contracts';
import { json, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Evaluation dimensions from the constitution (`dimensions: "principles"` or `[{id, question}]`)
 * and arms (a constitution, a model alias and sampling per side), end to end on the simulator.
 */

const env = testEnv('evalarms', {
  AMEND_KEY_REQUESTS_PER_MINUTE: '100000',
  AMEND_MODELS: JSON.stringify({ default: { simulator: true }, other: { simulator: true } }),
});
let stack: Stack;
let author: string;
let auditor: string;

const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, author);

async function finished(id: string): Promise<Evaluation> {
  return waitFor(
    async () => {
      const e = EvaluationSchema.parse(await json(await stack.fetch(`/v1/evaluations/${id}`, {}, author)));
      return e.report ? e : undefined;
    },
    { timeoutMs: 120_000, what: `evaluation ${id}` },
  );
}

async function start(body: Record<string, unknown>): Promise<Evaluation> {
  const res = await post('/v1/evaluations', body);
  if (res.status !== 202) throw new Error(`evaluation refused (${res.status}): ${await res.text()}`);
  return finished(EvaluationSchema.parse(await json(res)).id);
}

async function samplesOf(runId: string): Promise<Sample[]> {
  const list = await json(await stack.fetch(`/v1/runs/${runId}/samples?limit=100`, {}, auditor));
  return Promise.all(list.samples.map(async (s: { id: string }) => SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${s.id}`, {}, auditor)))));
}

const TUTOR = [
  'name: tutor',
  'version: 1.0.0',
  'principles:',
  '  - id: encouragement',
  '    critique: Does the response make the learner feel small?',
  '    revision: Rewrite it so that it encourages the learner.',
  '    comparison: Which of these responses encourages the learner more?',
  '  - id: steps',
  '    critique: Identify steps of the explanation that are skipped.',
  '    revision: Rewrite it with every step shown.',
  '',
].join('\n');
const PROMPTS = ['How do I add fractions?', 'I failed my maths test.', 'What is a prime number?'];

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  author = await stack.mintKey('author', 'alpha');
  auditor = await stack.mintKey('auditor', 'audit');
  const put = await stack.fetch('/v1/constitutions/tutor/drafts/idea', { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: TUTOR }, author);
  expect(put.status).toBe(201);
  const pub = await stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: TUTOR }, author);
  expect(pub.status).toBe(201);
});

describe('dimensions from the constitution', () => {
  let evaluation: Evaluation;
  beforeAll(async () => {
    evaluation = await start({ baseline: 'tutor@1.0.0', candidate: 'tutor#idea', prompts: PROMPTS, dimensions: 'principles', seed: 5 });
  });

  it('judges each principle by its comparison question, or its critique made into one', async () => {
    const report = evaluation.report!;
    // Written out by hand from the constitution above and the rule of dimensions.ts.
    expect(report.dimensions.map((d) => [d.dimension, d.question])).toEqual([
      ['encouragement', 'Which of these responses encourages the learner more?'],
      [
        'steps',
        'A critic was asked: "Identify steps of the explanation that are skipped." Which of these assistant responses would that critic find fewer problems with?',
      ],
    ]);
    expect(report.rubric.name).toBe('principles');
    expect(report.dimensions.every((d) => d.n === 3)).toBe(true);
    // The candidate's samples asked exactly these questions, each in both orders.
    for (const s of await samplesOf(evaluation.candidate.run_id)) {
      const comparisons = s.stages.filter((st) => st.stage === 'comparison');
      expect(comparisons.map((c) => c.principle_id)).toEqual(['encouragement', 'encouragement', 'steps', 'steps']);
      expect(comparisons[0].messages.at(-1)?.content).toContain('Which of these responses encourages the learner more?');
    }
    expect(evaluation.estimate.calls_per_prompt).toMatchObject({ judge_benign: 4, judge_red_team: 4 });
    expect(evaluation.usage.calls).toBe(evaluation.estimate.calls);
  });

  it('is deterministic on the simulator: the same body and seed give the same report', async () => {
    const again = await start({ baseline: 'tutor@1.0.0', candidate: 'tutor#idea', prompts: PROMPTS, dimensions: 'principles', seed: 5 });
    expect(again.report!.dimensions).toEqual(evaluation.report!.dimensions);
    expect(again.report!.rubric).toEqual(evaluation.report!.rubric);
  });

  it('takes custom dimensions [{id, question}], asked of every prompt', async () => {
    const custom = await start({
      baseline: 'tutor@1.0.0',
      candidate: 'tutor@1.0.0',
      prompts: PROMPTS,
      dimensions: [{ id: 'warmth', question: 'Which of these responses is warmer?' }],
      seed: 5,
    });
    expect(custom.report!.dimensions).toEqual([
      expect.objectContaining({ dimension: 'warmth', question: 'Which of these responses is warmer?', n: 3, ties: 3, win_rate: 0.5 }),
    ]);
    expect(custom.report!.rubric.name).toBe('custom');
  });

  it('refuses dimensions it cannot ask (422)', async () => {
    for (const dimensions of [
      'everything',
      [],
      [
        { id: 'a', question: 'Q?' },
        { id: 'a', question: 'Q2?' },
      ],
      [{ id: 'Bad Id', question: 'Q?' }],
    ]) {
      const res = await post('/v1/evaluations/estimate', { baseline: 'tutor@1.0.0', candidate: 'tutor@1.0.0', prompts: PROMPTS, dimensions });
      expect(res.status).toBe(422);
      expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('invalid_request');
    }
  });
});

describe('arms: a constitution, a model alias and sampling per side', () => {
  it('finds no difference between two identical arms (A/A), sharing the draft', async () => {
    const arm = { constitution: 'tutor@1.0.0', model: 'other', sampling: { temperature: 0.3, top_p: 0.9, max_tokens: 256 } };
    const aa = await start({ baseline: arm, candidate: arm, prompts: PROMPTS, seed: 9 });
    expect(aa.baseline).toMatchObject({ model: 'other', sampling: arm.sampling });
    expect(aa.candidate).toMatchObject({ model: 'other', sampling: arm.sampling });
    for (const d of aa.report!.dimensions) expect(d).toMatchObject({ ties: d.n, win_rate: 0.5 });
    expect(aa.report!.most_different).toEqual([]);
    const candidate = await samplesOf(aa.candidate.run_id);
    expect(candidate.every((s) => s.stages[0].usage.prompt_tokens === 0)).toBe(true);
    expect(aa.usage.calls).toBe(aa.estimate.calls);
  });

  it('lets the arms differ in model and sampling: then the candidate makes its own draft with its own model', async () => {
    const ab = await start({
      baseline: 'tutor@1.0.0',
      candidate: { constitution: 'tutor@1.0.0', model: 'other', sampling: { temperature: 0.9, top_p: 1, max_tokens: 128 } },
      prompts: PROMPTS,
      seed: 9,
    });
    expect(ab.baseline.model).toBe('default');
    expect(ab.candidate).toMatchObject({ model: 'other', sampling: { temperature: 0.9, max_tokens: 128 } });
    const candidate = await samplesOf(ab.candidate.run_id);
    for (const s of candidate) {
      expect(s.stages[0].stage).toBe('draft');
      expect(s.stages[0].usage.prompt_tokens).toBeGreaterThan(0);
    }
    // One more call per prompt than a shared draft: 1 + 2 rounds on each side, plus the judge's.
    expect(ab.estimate.calls_per_prompt).toMatchObject({ baseline: 3, candidate: 3 });
    expect(ab.usage.calls).toBe(ab.estimate.calls);
    const events = (await json(await stack.fetch(`/v1/runs/${ab.candidate.run_id}/audit?limit=1000`, {}, auditor))).events as { type: string }[];
    expect(events.filter((e) => e.type === 'draft.shared')).toEqual([]);
    expect(events.filter((e) => e.type === 'draft.generated')).toHaveLength(3);
  });

  it('refuses an arm with an unknown model alias', async () => {
    const res = await post('/v1/evaluations/estimate', {
      baseline: 'tutor@1.0.0',
      candidate: { constitution: 'tutor@1.0.0', model: 'nope' },
      prompts: PROMPTS,
    });
    expect(res.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('unknown_model');
  });
});
