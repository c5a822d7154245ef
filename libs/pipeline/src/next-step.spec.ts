import type { FeedbackOptions, StageName, StageRecord } from '@amend/contracts';
import { nextStep, type NextStep } from './next-step';
import { recordCall } from './plan';
import type { PlannedCall } from './planned-call';
import type { ChatResult } from './ports';
import type { RunSpec, SampleSpec } from './run-spec';
import { constitution, fakeResult, makeRun, makeSample } from './testing/fixtures';

/**
 * The stage machine (docs/architecture.md#stage-machine), step by step: each table row is a run's
 * options and the calls its sample makes, written out by hand from the design (draft -> (critique
 * -> revision) x rounds -> [judgement] -> pair; ai-feedback: candidates, then every two candidates
 * compared in both orders per ensemble principle), then the pair.
 */

const PAIR_ID = '3f6c2a10-5b7d-4e8f-9a1b-2c3d4e5f6a7b';

/** The fixture constitution with comparison questions, so its runs can be judged. */
const judged = { ...constitution, principles: constitution.principles.map((p) => ({ ...p, comparison: `Which response is better on ${p.id}?` })) };
const FEEDBACK: FeedbackOptions = { candidates: 2, ensemble: 1, cot: false, verify: false, min_margin: 0 };

/**
 * Answers `<stage> <round>`; the judge prefers the revision to the draft, the higher-numbered
 * candidate, and the candidate constitution's answer to the baseline's, with probability 0.8 in
 * either order.
 */
function answer(call: PlannedCall): ChatResult {
  if (call.stage !== 'comparison') return fakeResult(call, { text: `${call.stage} ${call.round}` });
  const rank = (label: string) => (label === 'revision' || label === 'candidate' ? 9 : Number(/candidate-(\d)/.exec(label)?.[1] ?? 0));
  const [a, b] = call.comparison!.options;
  const pA = rank(a) > rank(b) ? 0.8 : 0.2;
  const letter = pA > 0.5 ? 'A' : 'B';
  return fakeResult(call, {
    text: letter,
    logprobs: [
      {
        token: letter,
        logprob: Math.log(Math.max(pA, 1 - pA)),
        top_logprobs: [
          { token: 'A', logprob: Math.log(pA) },
          { token: 'B', logprob: Math.log(1 - pA) },
        ],
      },
    ],
  });
}

type Step = [StageName, number, string];

interface Case {
  name: string;
  run: RunSpec;
  sample?: SampleSpec;
  /** Each call: stage, round, and the model alias it is asked of. */
  calls: Step[];
  /** Comparisons' principle ids, where the design fixes them (an evaluation's rubric dimensions). */
  comparisonPrinciples?: string[];
  pair: { chosen: string; rejected: string; p_chosen: number | null };
}

const dimensionsOf = (...names: string[]) => names.flatMap((n) => [n, n]);

const cases: Case[] = [
  {
    name: 'critique-revise, 1 round: draft, critique, revision, pair (chosen the revision, rejected the draft)',
    run: makeRun({ rounds: 1 }),
    calls: [
      ['draft', 0, 'default'],
      ['critique', 1, 'default'],
      ['revision', 1, 'default'],
    ],
    pair: { chosen: 'revision 1', rejected: 'draft 0', p_chosen: null },
  },
  {
    name: 'critique-revise, 3 rounds: a critique and a revision per round, the last revision chosen',
    run: makeRun({ rounds: 3 }),
    calls: [
      ['draft', 0, 'default'],
      ['critique', 1, 'default'],
      ['revision', 1, 'default'],
      ['critique', 2, 'default'],
      ['revision', 2, 'default'],
      ['critique', 3, 'default'],
      ['revision', 3, 'default'],
    ],
    pair: { chosen: 'revision 3', rejected: 'draft 0', p_chosen: null },
  },
  {
    name: 'critique-revise with verify: the feedback model compares draft and revision in both orders before the pair',
    run: makeRun({ rounds: 1, constitution: judged, feedback_model: 'judge', feedback: { ...FEEDBACK, verify: true } }),
    calls: [
      ['draft', 0, 'default'],
      ['critique', 1, 'default'],
      ['revision', 1, 'default'],
      ['comparison', 1, 'judge'],
      ['comparison', 1, 'judge'],
    ],
    pair: { chosen: 'revision 1', rejected: 'draft 0', p_chosen: 0.8 },
  },
  {
    name: 'critique-revise with verify and an ensemble of 2: both orders for each ensemble principle',
    run: makeRun({ rounds: 2, constitution: judged, feedback_model: 'judge', feedback: { ...FEEDBACK, verify: true, ensemble: 2 } }),
    calls: [
      ['draft', 0, 'default'],
      ['critique', 1, 'default'],
      ['revision', 1, 'default'],
      ['critique', 2, 'default'],
      ['revision', 2, 'default'],
      ['comparison', 1, 'judge'],
      ['comparison', 1, 'judge'],
      ['comparison', 2, 'judge'],
      ['comparison', 2, 'judge'],
    ],
    pair: { chosen: 'revision 2', rejected: 'draft 0', p_chosen: 0.8 },
  },
  {
    name: "an evaluation's candidate: its revisions, then its final answer against the baseline's, both orders per rubric dimension",
    run: makeRun({ rounds: 1, feedback_model: 'judge', evaluation: { role: 'candidate' } }),
    // Marked not benign: every dimension but over-refusal.
    sample: makeSample({ metadata: { benign: false }, baseline: { final: 'the baseline answer' } }),
    calls: [
      ['draft', 0, 'default'],
      ['critique', 1, 'default'],
      ['revision', 1, 'default'],
      ...Array.from({ length: 12 }, (_, i): Step => ['comparison', i + 1, 'judge']),
    ],
    comparisonPrinciples: dimensionsOf('helpfulness', 'honesty', 'harmlessness', 'fairness', 'privacy', 'robustness'),
    pair: { chosen: 'revision 1', rejected: 'draft 0', p_chosen: null },
  },
  {
    name: 'ai-feedback, 2 candidates: both candidates, then their comparison in both orders, the preferred one chosen',
    run: makeRun({ mode: 'ai-feedback', constitution: judged, feedback_model: 'judge', feedback: FEEDBACK }),
    calls: [
      ['candidate', 1, 'default'],
      ['candidate', 2, 'default'],
      ['comparison', 1, 'judge'],
      ['comparison', 1, 'judge'],
    ],
    pair: { chosen: 'candidate 2', rejected: 'candidate 1', p_chosen: 0.8 },
  },
  {
    name: 'ai-feedback, 3 candidates: every two of them compared in both orders (6 comparisons), the best chosen and the worst rejected',
    run: makeRun({ mode: 'ai-feedback', constitution: judged, feedback_model: 'judge', feedback: { ...FEEDBACK, candidates: 3 } }),
    calls: [
      ['candidate', 1, 'default'],
      ['candidate', 2, 'default'],
      ['candidate', 3, 'default'],
      ...Array.from({ length: 6 }, (): Step => ['comparison', 1, 'judge']),
    ],
    pair: { chosen: 'candidate 3', rejected: 'candidate 1', p_chosen: 0.8 },
  },
  {
    name: 'ai-feedback with an ensemble of 2: both orders for each ensemble principle',
    run: makeRun({ mode: 'ai-feedback', constitution: judged, feedback_model: 'judge', feedback: { ...FEEDBACK, ensemble: 2 } }),
    calls: [
      ['candidate', 1, 'default'],
      ['candidate', 2, 'default'],
      ['comparison', 1, 'judge'],
      ['comparison', 1, 'judge'],
      ['comparison', 2, 'judge'],
      ['comparison', 2, 'judge'],
    ],
    pair: { chosen: 'candidate 2', rejected: 'candidate 1', p_chosen: 0.8 },
  },
];

describe('the next step of a sample', () => {
  it.each(cases)('$name', (c) => {
    const sample = c.sample ?? makeSample();
    const records: StageRecord[] = [];
    const steps: NextStep[] = [];
    let ids = 0;
    const newPairId = () => (ids++, PAIR_ID);
    // As the worker goes: a step, its call answered and recorded, the next step from the records so far.
    for (let step = nextStep(c.run, sample, records, newPairId); ; step = nextStep(c.run, sample, records, newPairId)) {
      steps.push(step);
      if (step.kind === 'pair' || steps.length > 50) break;
      records.push(recordCall(step.call, answer(step.call)));
    }
    const calls = steps.flatMap((s) => (s.kind === 'call' ? [s.call] : []));
    expect(calls.map((call): Step => [call.stage, call.round, call.request.alias])).toEqual(c.calls);
    expect(calls.map((call) => call.seq)).toEqual(c.calls.map((_, i) => i));
    if (c.comparisonPrinciples) expect(calls.filter((call) => call.stage === 'comparison').map((call) => call.principle_id)).toEqual(c.comparisonPrinciples);
    // A round's critique and revision use one principle.
    for (const call of calls.filter((x) => x.stage === 'revision')) expect(call.principle_id).toBe(calls[call.seq - 1].principle_id);

    const last = steps[steps.length - 1];
    expect(last.kind).toBe('pair');
    const pair = last.kind === 'pair' ? last.pair : undefined;
    expect({ chosen: pair?.chosen, rejected: pair?.rejected, p_chosen: pair?.metadata.judgement?.p_chosen ?? null }).toEqual(c.pair);
    expect([pair?.id, pair?.sample_id, pair?.metadata.usage.calls]).toEqual([PAIR_ID, sample.id, c.calls.length]);
    // A pair id is drawn only for the pair.
    expect(ids).toBe(1);

    // A resumed sample continues from any prefix of its records at the call a fresh one would make.
    for (let k = 0; k < calls.length; k++) expect(nextStep(c.run, sample, records.slice(0, k), newPairId)).toEqual({ kind: 'call', call: calls[k] });
  });
});
