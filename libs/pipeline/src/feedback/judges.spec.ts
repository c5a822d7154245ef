import type { FeedbackOptions, PairQuality } from '@amend/contracts';
import { assemblePair } from '../assemble-pair';
import { krippendorffAlphaNominal } from '../agreement';
import { callsPerSample, type PlannedCall } from '../plan';
import type { ChatResult } from '../ports';
import { QualityReportBuilder } from '../report/quality-report';
import type { RunSpec } from '../run-spec';
import { fakeResult, feedbackRun, judgedConstitution, makeRun, makeSample, runToEnd } from '../testing/fixtures';
import { RATINGS_INSTRUCTION, RATINGS_SCHEMA, ratingsLabel, readRatings } from './ratings';

/*
 * Judges that need no log-probabilities (the ratings judge) and panels of judges. Every expected
 * figure below is worked out by hand from the fake judges' answers, written next to it.
 */

const PAIR_ID = '5d1e8b7a-2c3f-4a6b-9d0e-1f2a3b4c5d6e';
/** The fixtures' ai-feedback run, with the ratings judge unless `feedback` names another. */
const ratingsRun = (feedback: Partial<FeedbackOptions> = {}, overrides: Partial<RunSpec> = {}): RunSpec =>
  feedbackRun({ judge: 'ratings', ...feedback }, overrides);

const candidateOf = (label: string) => Number(/candidate-(\d)/.exec(label)?.[1]);

/**
 * A fake ratings judge with no log-probabilities: it rates candidate i `rating(i)`, plus `lean` for
 * whatever is shown as (A) (clamped to 1-5), and answers as `wrap` says. `contrarian` aliases swap the two ratings.
 */
function ratingsJudge(opts: { rating: (candidate: number) => number; lean?: number; wrap?: (json: string) => string; contrarian?: string[] }) {
  const { rating, lean = 0, wrap = (j: string) => j, contrarian = [] } = opts;
  return (call: PlannedCall): ChatResult => {
    if (call.stage === 'candidate') return fakeResult(call, { text: `candidate ${call.round}` });
    if (call.stage !== 'comparison') return fakeResult(call);
    expect(call.request.logprobs).toBeUndefined();
    const [a, b] = call.comparison!.options.map(candidateOf);
    const clamp = (r: number) => Math.min(5, Math.max(1, r));
    let [ra, rb] = [clamp(rating(a) + lean), clamp(rating(b))];
    if (contrarian.includes(call.request.alias)) [ra, rb] = [rb, ra];
    const json = JSON.stringify({ a: { rating: ra, rationale: `(A) gets ${ra}` }, b: { rating: rb, rationale: `(B) gets ${rb}` } });
    return fakeResult(call, { text: wrap(json), model: `${call.request.alias}-v1`, logprobs: null });
  };
}

describe('reading the ratings judge', () => {
  const options = ['x', 'y'] as const;

  it('reads strict JSON as it is', () => {
    expect(readRatings('{"a": {"rating": 4, "rationale": "kind"}, "b": {"rating": 2, "rationale": "curt"}}')).toEqual({
      ratings: { a: 4, b: 2, rationale_a: 'kind', rationale_b: 'curt' },
      repaired: false,
    });
  });

  it('repairs once: a code fence, prose around the object, a trailing comma', () => {
    const text = 'Here are my ratings:\n```json\n{"a": {"rating": 3, "rationale": "ok",}, "b": {"rating": 5, "rationale": "best"},}\n```\nThanks.';
    expect(readRatings(text)).toEqual({ ratings: { a: 3, b: 5, rationale_a: 'ok', rationale_b: 'best' }, repaired: true });
    expect(ratingsLabel({ text }, options)).toMatchObject({ label_source: 'ratings', answer: 'B', p_a: 0.25, repaired: true });
  });

  it.each([
    ['prose', 'Response A is better, I would say 4 against 2.'],
    ['a rating off the scale', '{"a": {"rating": 6, "rationale": ""}, "b": {"rating": 2, "rationale": ""}}'],
    ['a rating that is not an integer', '{"a": {"rating": 3.5, "rationale": ""}, "b": {"rating": 2, "rationale": ""}}'],
    ['a side missing', '{"a": {"rating": 3, "rationale": ""}}'],
    ['JSON cut off at max_tokens', '{"a": {"rating": 3, "rationale": "it is fine but'],
    ['nothing', ''],
  ])('an answer that is %s is unreadable (p = 0.5, no ratings), never an error', (_, text) => {
    expect(readRatings(text)).toBeNull();
    expect(ratingsLabel({ text }, options)).toEqual({
      options: ['x', 'y'],
      p_a: 0.5,
      label_source: 'unreadable',
      answer: null,
      top_logprobs: null,
      answer_mode: 'text',
      answer_position: null,
    });
  });

  it('maps the ratings to p_a = 0.5 + (a - b) / 8: 5 against 1 is 1, equal ratings 0.5, 2 against 5 is 0.125', () => {
    const label = (a: number, b: number) =>
      ratingsLabel({ text: JSON.stringify({ a: { rating: a, rationale: '' }, b: { rating: b, rationale: '' } }) }, options).p_a;
    expect([label(5, 1), label(3, 3), label(2, 5)]).toEqual([1, 0.5, 0.125]);
  });
});

describe('the ratings judge on a backend without log-probabilities', () => {
  const sample = makeSample();

  it('asks for JSON by schema, greedy, without log-probabilities, closing with the ratings instruction', () => {
    const run = ratingsRun();
    const { calls } = runToEnd(run, sample, ratingsJudge({ rating: (i) => i }));
    const comparison = calls[2];
    expect(comparison.request).toMatchObject({ alias: 'judge', sampling: { temperature: 0, top_p: 1 }, response_schema: { schema: RATINGS_SCHEMA } });
    expect(comparison.request.logprobs).toBeUndefined();
    expect(comparison.request.answer).toBeUndefined();
    expect(comparison.request.messages[0].content.endsWith(RATINGS_INSTRUCTION)).toBe(true);
    expect(callsPerSample(run)).toBe(4);
  });

  it('chooses the higher-rated candidate, whichever position it had, with the mean ratings as scores', () => {
    // Candidate 1 rated 2, candidate 2 rated 4, (A) leans +1. Order 1: (A) c1 = 3, (B) c2 = 4;
    // order 2: (A) c2 = 5, (B) c1 = 2. Means: c1 (3 + 2) / 2 = 2.5, c2 (4 + 5) / 2 = 4.5.
    const run = ratingsRun({ min_margin: 0.6 });
    const pair = assemblePair(run, sample, runToEnd(run, sample, ratingsJudge({ rating: (i) => 2 * i, lean: 1 })).records, PAIR_ID);
    expect(pair.chosen).toBe('candidate 2');
    expect(pair.rejected).toBe('candidate 1');
    expect(pair.metadata.score_chosen).toBe(4.5);
    expect(pair.metadata.score_rejected).toBe(2.5);
    const j = pair.metadata.judgement!;
    // P(chosen): shown first 0.5 + (5 - 2) / 8 = 0.875; shown second 1 - (0.5 + (3 - 4) / 8) = 0.625; mean 0.75.
    expect(j).toMatchObject({ label_source: 'ratings', p_chosen: 0.75, margin: 0.5, orders: { chosen_first: 0.875, chosen_second: 0.625 } });
    expect(j.mean_ratings).toEqual({ chosen: 4.5, rejected: 2.5 });
    expect(j.comparisons.map((c) => c.ratings)).toEqual([
      { a: 3, b: 4, rationale_a: '(A) gets 3', rationale_b: '(B) gets 4' },
      { a: 5, b: 2, rationale_a: '(A) gets 5', rationale_b: '(B) gets 2' },
    ]);
    // Margin 0.5 is below min_margin 0.6: kept, flagged as the letter judge's would be.
    expect(pair.metadata.flags).toEqual(['low_margin']);

    const reversed = assemblePair(run, sample, runToEnd(run, sample, ratingsJudge({ rating: (i) => 6 - 2 * i })).records, PAIR_ID);
    expect([reversed.chosen, reversed.metadata.score_chosen, reversed.metadata.score_rejected]).toEqual(['candidate 1', 4, 2]);
  });

  it('an answer that is not JSON makes unreadable labels and a pair with no preference, not a failed sample', () => {
    const run = ratingsRun();
    const { records } = runToEnd(run, sample, (call) =>
      call.stage === 'comparison'
        ? fakeResult(call, { text: 'Both are fine, honestly.', logprobs: null })
        : fakeResult(call, { text: `candidate ${call.round}` }),
    );
    expect(records.slice(2).map((r) => r.judgement?.label_source)).toEqual(['unreadable', 'unreadable']);
    const pair = assemblePair(run, sample, records, PAIR_ID);
    // No ratings: both candidates at the midpoint 3, the earlier one chosen on the tie, p = 0.5.
    expect(pair.metadata).toMatchObject({ score_chosen: 3, score_rejected: 3, flags: ['low_margin'] });
    expect(pair.metadata.judgement).toMatchObject({ label_source: 'unreadable', p_chosen: 0.5 });
  });

  it('verify with ratings: revision and draft rated, scores are their mean ratings', () => {
    const run = makeRun({
      rounds: 1,
      constitution: judgedConstitution,
      feedback_model: 'judge',
      feedback: { candidates: 2, ensemble: 1, cot: false, verify: true, min_margin: 0, judge: 'ratings' },
    });
    const { records } = runToEnd(run, sample, (call) => {
      if (call.stage !== 'comparison') return fakeResult(call);
      const r = (label: string) => (label === 'revision' ? 4 : 3);
      const [a, b] = call.comparison!.options.map(r);
      return fakeResult(call, { text: JSON.stringify({ a: { rating: a, rationale: '' }, b: { rating: b, rationale: '' } }) });
    });
    const pair = assemblePair(run, sample, records, PAIR_ID);
    expect(pair.metadata).toMatchObject({ score_chosen: 4, score_rejected: 3 });
    expect(pair.metadata.judgement).toMatchObject({ kind: 'verify', label_source: 'ratings', p_chosen: 0.625 });
    expect(pair.metadata.flags).toBeUndefined();
  });
});

describe('a panel of judges', () => {
  const sample = makeSample();
  const panel = ['honest-1', 'honest-2', 'contrarian'];

  it('asks every comparison of each judge, in slot order (pair, principle, judge, then both orders)', () => {
    const run = ratingsRun({ panel, ensemble: 2 }, { feedback_model: null });
    const { calls } = runToEnd(run, sample, ratingsJudge({ rating: (i) => i + 2 }));
    // 2 candidates + 1 pair x 2 principles x 3 judges x 2 orders.
    expect(callsPerSample(run)).toBe(2 + 12);
    expect(calls.slice(2, 8).map((c) => [c.request.alias, c.comparison!.options[0], c.round])).toEqual([
      ['honest-1', 'candidate-1', 1],
      ['honest-1', 'candidate-2', 1],
      ['honest-2', 'candidate-1', 1],
      ['honest-2', 'candidate-2', 1],
      ['contrarian', 'candidate-1', 1],
      ['contrarian', 'candidate-2', 1],
    ]);
  });

  it('two honest judges and a contrarian: the panel follows the honest majority, keeps each label by alias, and flags the split', () => {
    // Honest: c1 rated 2, c2 rated 4 in both orders; the contrarian swaps them (c1 4, c2 2).
    // Panel means: c2 (4 + 4 + 2) / 3 = 10/3, c1 (2 + 2 + 4) / 3 = 8/3.
    const run = ratingsRun({ panel }, { feedback_model: null });
    const pair = assemblePair(run, sample, runToEnd(run, sample, ratingsJudge({ rating: (i) => 2 * i, contrarian: ['contrarian'] })).records, PAIR_ID);
    expect(pair.chosen).toBe('candidate 2');
    expect(pair.metadata.score_chosen).toBeCloseTo(10 / 3, 12);
    expect(pair.metadata.score_rejected).toBeCloseTo(8 / 3, 12);
    const j = pair.metadata.judgement!;
    // Each honest judge: P(chosen) = 0.5 + (4 - 2) / 8 = 0.75 in both orders; the contrarian 0.25. Mean (0.75 + 0.75 + 0.25) / 3.
    expect(j.p_chosen).toBeCloseTo(1.75 / 3, 12);
    expect(j.judges).toEqual({
      'honest-1': { p_chosen: 0.75, label_source: 'ratings', prefers: 'chosen', mean_ratings: { chosen: 4, rejected: 2 } },
      'honest-2': { p_chosen: 0.75, label_source: 'ratings', prefers: 'chosen', mean_ratings: { chosen: 4, rejected: 2 } },
      contrarian: { p_chosen: 0.25, label_source: 'ratings', prefers: 'rejected', mean_ratings: { chosen: 2, rejected: 4 } },
    });
    expect(j.split).toBe(true);
    expect(pair.metadata.flags).toEqual(['judges_split']);
    expect(j.comparisons.map((c) => c.judge)).toEqual(['honest-1', 'honest-1', 'honest-2', 'honest-2', 'contrarian', 'contrarian']);
    expect(pair.metadata.models.judges).toEqual({ 'honest-1': 'honest-1-v1', 'honest-2': 'honest-2-v1', contrarian: 'contrarian-v1' });
  });

  it('letter judges: soft labels are averaged, hard ones go by majority', () => {
    // Each judge answers the letter of the candidate it prefers; soft: P = 0.9 for it, from logprobs.
    const letterJudge =
      (soft: boolean) =>
      (call: PlannedCall): ChatResult => {
        if (call.stage !== 'comparison') return fakeResult(call, { text: `candidate ${call.round}` });
        const prefersTwo = call.request.alias !== 'contrarian';
        const twoIsA = call.comparison!.options[0] === 'candidate-2';
        const letter = prefersTwo === twoIsA ? 'A' : 'B';
        const pA = letter === 'A' ? 0.9 : 0.1;
        const top = [
          { token: 'A', logprob: Math.log(pA) },
          { token: 'B', logprob: Math.log(1 - pA) },
        ];
        return fakeResult(call, { text: letter, logprobs: soft ? [{ token: letter, logprob: Math.log(Math.max(pA, 1 - pA)), top_logprobs: top }] : null });
      };
    const run = ratingsRun({ panel, judge: undefined }, { feedback_model: null });
    const soft = assemblePair(run, sample, runToEnd(run, sample, letterJudge(true)).records, PAIR_ID);
    // Mean of 0.9, 0.9, 0.1.
    expect(soft.chosen).toBe('candidate 2');
    expect(soft.metadata.judgement!.p_chosen).toBeCloseTo(1.9 / 3, 12);
    expect(soft.metadata.judgement!.label_source).toBe('logprobs');
    const hard = assemblePair(run, sample, runToEnd(run, sample, letterJudge(false)).records, PAIR_ID);
    // Hard: votes 1, 1, 0: the majority share 2/3 (the mean of the 0/1 labels would say the same here; it is the rule that differs).
    expect(hard.chosen).toBe('candidate 2');
    expect(hard.metadata.judgement).toMatchObject({ label_source: 'hard', split: true });
    expect(hard.metadata.judgement!.p_chosen).toBeCloseTo(2 / 3, 12);
    expect(hard.metadata.flags).toEqual(['judges_split']);
  });
});

describe("Krippendorff's alpha of a panel (agreement.ts, shared with reviewers)", () => {
  it('is 0.6 for three judges on [1,1,1], [2,2,2], [1,1,2] (by hand)', () => {
    // n = 9 values, 5 ones and 4 twos. Observed: only unit 3 disagrees: (3^2 - (2^2 + 1^2)) / (3 - 1) = 2.
    // Expected pairs of unequal values: 9^2 - (5^2 + 4^2) = 40. alpha = 1 - 2 (9 - 1) / 40 = 0.6.
    expect(
      krippendorffAlphaNominal([
        ['1', '1', '1'],
        ['2', '2', '2'],
        ['1', '1', '2'],
      ]),
    ).toBeCloseTo(0.6, 12);
  });

  it('is (1 - N) / (2N) for N pairs each judged chosen, chosen, rejected: -0.375 for 4', () => {
    // Per unit observed (9 - 5) / 2 = 2; n = 3N with 2N chosen and N rejected: expected 9N^2 - 5N^2 = 4N^2.
    // alpha = 1 - 2N (3N - 1) / (4N^2) = (1 - N) / (2N).
    const units = Array.from({ length: 4 }, () => ['chosen', 'chosen', 'rejected']);
    expect(krippendorffAlphaNominal(units)).toBeCloseTo(-0.375, 12);
  });
});

describe('the report of a panel', () => {
  it("gives alpha over the judges and each judge's agreement with the panel, worked out by hand", () => {
    const quality = (judges: Record<string, number>, p: number): PairQuality => ({
      chosen_chars: 10,
      rejected_chars: 10,
      chosen_refuses: false,
      rejected_refuses: false,
      p_chosen: p,
      principle_ids: ['kind'],
      comparisons: [],
      judges,
    });
    const builder = new QualityReportBuilder();
    // Three pairs with two honest judges and a contrarian, one where all three agree.
    builder.addQuality(quality({ a: 0.8, b: 0.7, c: 0.2 }, 0.5667), ['judges_split']);
    builder.addQuality(quality({ a: 0.75, b: 0.75, c: 0.25 }, 0.5833), ['judges_split']);
    builder.addQuality(quality({ a: 0.9, b: 0.6, c: 0.3 }, 0.6), ['judges_split']);
    builder.addQuality(quality({ a: 0.9, b: 0.8, c: 0.7 }, 0.8), []);
    const report = builder.build({ id: PAIR_ID, mode: 'ai-feedback', status: 'completed', min_margin: 0 });
    // Units 1-3 are (C, C, R), unit 4 (C, C, C): n = 12 values, 9 C and 3 R.
    // Observed: 3 units x (9 - 5) / 2 = 6; expected 144 - (81 + 9) = 54; alpha = 1 - 6 * 11 / 54 = -2/9.
    expect(report.panel).toEqual({ judges: ['a', 'b', 'c'], pairs: 4, alpha: Math.round((-2 / 9) * 1e4) / 1e4, agreement: { a: 1, b: 1, c: 0.25 }, split: 3 });
  });
});
