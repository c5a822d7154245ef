import { PairRecordSchema, type FeedbackOptions } from '@amend/contracts';
import { PipelineError } from '../errors';
import { assemblePair } from '../assemble-pair';
import { callsPerSample, isLastCall, planNextCall, type PlannedCall } from '../plan';
import type { ChatResult } from '../ports';
import { constitution, fakeResult, feedbackRun, judgedConstitution, makeRun, makeSample, runToEnd } from '../testing/fixtures';
import { COMPARISON_OPENING, TOP_LOGPROBS } from './comparison-prompt';
import { judgePrinciples } from './judge-principles';

const PAIR_ID = '5d1e8b7a-2c3f-4a6b-9d0e-1f2a3b4c5d6e';

/**
 * A fake policy and judge: candidate i answers "candidate i ...", the judge prefers the candidate
 * whose number is higher by `strength`, and leans `lean` towards (A).
 */
function answers(opts: { strength?: number; lean?: number; logprobs?: boolean } = {}) {
  const { strength = 0.3, lean = 0.1, logprobs = true } = opts;
  return (call: PlannedCall): ChatResult => {
    if (call.stage === 'candidate') return fakeResult(call, { text: `candidate ${call.round}: an answer of quality ${call.round}` });
    if (call.stage !== 'comparison') return fakeResult(call);
    const content = call.request.messages[0].content;
    const quality = (label: string) => Number(/candidate-(\d)/.exec(label)?.[1] ?? (label === 'revision' ? 2 : 1));
    const [a, b] = call.comparison!.options;
    const pA = Math.min(0.99, Math.max(0.01, 0.5 + strength * Math.sign(quality(a) - quality(b)) + lean));
    expect(content.startsWith(COMPARISON_OPENING)).toBe(true);
    const letter = pA >= 0.5 ? 'A' : 'B';
    return fakeResult(call, {
      text: letter,
      model: 'judge-model-v1',
      logprobs: logprobs
        ? [
            {
              token: letter,
              logprob: Math.log(letter === 'A' ? pA : 1 - pA),
              top_logprobs: [
                { token: 'A', logprob: Math.log(pA) },
                { token: 'B', logprob: Math.log(1 - pA) },
              ],
            },
          ]
        : null,
    });
  };
}

describe('planning an ai-feedback sample', () => {
  const run = feedbackRun();
  const sample = makeSample();
  const { calls, records } = runToEnd(run, sample, answers());

  it('samples the candidates, then asks the feedback model each comparison in both orders', () => {
    expect(calls.map((c) => [c.stage, c.round, c.comparison?.options ?? null])).toEqual([
      ['candidate', 1, null],
      ['candidate', 2, null],
      ['comparison', 1, ['candidate-1', 'candidate-2']],
      ['comparison', 1, ['candidate-2', 'candidate-1']],
    ]);
    expect(callsPerSample(run)).toBe(4);
    expect(callsPerSample(feedbackRun({ candidates: 4, ensemble: 2 }))).toBe(4 + 6 * 2 * 2);
    expect(isLastCall(run, calls[3])).toBe(true);
  });

  it('asks every candidate the same conversation with its own seed, at the run temperature, on the policy model', () => {
    const [one, two] = calls;
    expect(one.request.messages).toEqual(two.request.messages);
    expect(one.request.messages[one.request.messages.length - 1]).toEqual({ role: 'user', content: sample.prompt });
    expect(one.request.seed).not.toBe(two.request.seed);
    expect(one.request).toMatchObject({ alias: 'default', sampling: run.sampling });
    expect(one.request.logprobs).toBeUndefined();
  });

  it('asks the feedback model for a short answer with its log-probabilities, quoting prompt, question and both candidates', () => {
    const [, , first, second] = calls;
    expect(first.request).toMatchObject({
      alias: 'judge',
      logprobs: true,
      top_logprobs: TOP_LOGPROBS,
      max_tokens: 16,
      sampling: { temperature: 0 },
      answer: { prefix: 'The answer is: (', choices: ['A', 'B'] },
    });
    const text = first.request.messages[0].content;
    expect(first.request.messages).toHaveLength(1);
    expect(text).toContain(`Human: ${sample.prompt}`);
    expect(text).toContain(`(A) ${records[0].text}\n(B) ${records[1].text}`);
    expect(text.endsWith('The answer is:')).toBe(true);
    expect(second.request.messages[0].content).toContain(`(A) ${records[1].text}\n(B) ${records[0].text}`);
    expect(first.principle_id).toBe(second.principle_id);
    expect(judgedConstitution.principles.find((p) => p.id === first.principle_id)?.comparison).toBeDefined();
  });

  it('resumes from any prefix of records at exactly the call a fresh run would make', () => {
    for (let k = 0; k < records.length; k++) expect(planNextCall(run, sample, records.slice(0, k))).toEqual(calls[k]);
    expect(planNextCall(run, sample, records)).toBeNull();
  });

  it('keeps the label of each comparison on its record', () => {
    expect(records[2].judgement).toMatchObject({ options: ['candidate-1', 'candidate-2'], label_source: 'logprobs', answer: 'B' });
    expect(records[2].judgement!.p_a).toBeCloseTo(0.3, 12);
    expect(records[0].judgement).toBeUndefined();
  });

  it('refuses a constitution without comparison questions, and an ensemble larger than its questions', () => {
    const none = feedbackRun({}, { constitution });
    expect(() => planNextCall(none, sample, [])).toThrow(PipelineError);
    expect(() => planNextCall(none, sample, [])).toThrow(/comparison/);
    expect(() => planNextCall(feedbackRun({ ensemble: 4 }), sample, [])).toThrow(/ensemble 4 is more than the 3/);
  });
});

describe('the ai-feedback pair', () => {
  const sample = makeSample();

  it('chooses the candidate with the higher probability, with both orders, their average and the scores in metadata', () => {
    const run = feedbackRun();
    const pair = assemblePair(run, sample, runToEnd(run, sample, answers()).records, PAIR_ID);
    expect(pair.chosen).toBe('candidate 2: an answer of quality 2');
    expect(pair.rejected).toBe('candidate 1: an answer of quality 1');
    expect(pair.candidates).toEqual([pair.rejected, pair.chosen]);
    const j = pair.metadata.judgement!;
    // The judge leans 0.1 to (A): chosen as (A) gets 0.9, chosen as (B) 1 - 0.3 = 0.7.
    expect(j.orders.chosen_first).toBeCloseTo(0.9, 12);
    expect(j.orders.chosen_second).toBeCloseTo(0.7, 12);
    expect(j.p_chosen).toBeCloseTo(0.8, 12);
    expect(j.margin).toBeCloseTo(0.6, 12);
    expect(j).toMatchObject({ kind: 'ai-feedback', label_source: 'logprobs', chain_of_thought: false });
    expect(j.comparisons).toHaveLength(2);
    expect(pair.metadata.score_chosen).toBeCloseTo(0.8, 12);
    expect(pair.metadata.score_rejected).toBeCloseTo(0.2, 12);
    expect(pair.metadata.principle_ids).toEqual(j.principle_ids);
    expect(pair.metadata.models).toEqual({ policy: 'policy-model-v1-b', feedback: 'judge-model-v1' });
    expect(pair.metadata.usage.calls).toBe(4);
    expect(pair.metadata.flags).toBeUndefined();
    expect(pair.rounds).toEqual([]);
    expect(PairRecordSchema.parse(pair)).toEqual(pair);
  });

  it('ranks more than two candidates by their mean probability of beating the others', () => {
    const run = feedbackRun({ candidates: 3, ensemble: 2 });
    const pair = assemblePair(run, sample, runToEnd(run, sample, answers()).records, PAIR_ID);
    expect(pair.chosen).toMatch(/^candidate 3/);
    expect(pair.rejected).toMatch(/^candidate 1/);
    expect(pair.metadata.judgement!.comparisons).toHaveLength(4);
    expect(pair.metadata.judgement!.principle_ids).toHaveLength(2);
    expect(pair.metadata.score_chosen!).toBeGreaterThan(pair.metadata.score_rejected!);
  });

  it('keeps a pair under min_margin but flags it low_margin', () => {
    const run = feedbackRun({ min_margin: 0.7 });
    const pair = assemblePair(run, sample, runToEnd(run, sample, answers()).records, PAIR_ID);
    expect(pair.metadata.flags).toEqual(['low_margin']);
    const tie = feedbackRun();
    const even = assemblePair(tie, sample, runToEnd(tie, sample, answers({ strength: 0 })).records, PAIR_ID);
    expect(even.metadata.judgement!.p_chosen).toBeCloseTo(0.5, 12);
    expect(even.metadata.flags).toEqual(['low_margin']);
    expect(even.chosen).not.toBe(even.rejected);
  });

  it('marks the judgement hard when the backend gave no log-probabilities', () => {
    const run = feedbackRun();
    const pair = assemblePair(run, sample, runToEnd(run, sample, answers({ logprobs: false })).records, PAIR_ID);
    expect(pair.metadata.judgement).toMatchObject({ label_source: 'hard', p_chosen: 1 });
    expect(pair.metadata.judgement!.comparisons.every((c) => c.label_source === 'hard')).toBe(true);
  });

  it('clamps chain-of-thought labels, whose reasoning becomes the reason', () => {
    const run = feedbackRun({ cot: true });
    const { calls } = runToEnd(run, sample, answers());
    expect(calls[2].request.max_tokens).toBeUndefined();
    expect(calls[2].request.sampling).toEqual(run.sampling);
    expect(calls[2].request.messages[0].content).toMatch(/step by step/);
    const pair = assemblePair(
      run,
      sample,
      runToEnd(run, sample, (c) => {
        const r = answers()(c);
        return c.stage === 'comparison' ? { ...r, text: `Thinking. The answer is: (${r.text})` } : r;
      }).records,
      PAIR_ID,
    );
    expect(pair.metadata.judgement!.p_chosen).toBeCloseTo(0.6, 12);
    expect(pair.reason).toMatch(/^Thinking/);
  });
});

describe('verified revisions', () => {
  const sample = makeSample();
  const verified = (feedback: Partial<FeedbackOptions> = {}) =>
    makeRun({ rounds: 1, constitution: judgedConstitution, feedback: { candidates: 2, ensemble: 1, cot: false, verify: true, min_margin: 0, ...feedback } });

  it('adds two comparisons of draft and final revision after the last revision', () => {
    const run = verified({ ensemble: 2 });
    const { calls } = runToEnd(run, sample, answers());
    expect(calls.map((c) => c.stage)).toEqual(['draft', 'critique', 'revision', 'comparison', 'comparison', 'comparison', 'comparison']);
    expect(calls[3].comparison!.options).toEqual(['draft', 'revision']);
    expect(calls[4].comparison!.options).toEqual(['revision', 'draft']);
    expect(calls[3].request.messages[0].content).toContain('(B) revision 1 (seq 2)');
    expect(calls[3].request.alias).toBe('default');
  });

  it('records the judge backing the revision and flags nothing', () => {
    const run = verified();
    const pair = assemblePair(run, sample, runToEnd(run, sample, answers()).records, PAIR_ID);
    expect(pair.chosen).toBe('revision 1 (seq 2)');
    expect(pair.metadata.judgement).toMatchObject({ kind: 'verify', label_source: 'logprobs' });
    expect(pair.metadata.judgement!.p_chosen).toBeCloseTo(0.8, 12);
    expect(pair.metadata.flags).toBeUndefined();
    expect(pair.metadata.usage.calls).toBe(5);
  });

  it('flags rejected_by_judge when the judge prefers the draft or backs the revision by less than min_margin', () => {
    const run = verified();
    const prefersDraft = assemblePair(run, sample, runToEnd(run, sample, answers({ strength: -0.3 })).records, PAIR_ID);
    expect(prefersDraft.chosen).toBe('revision 1 (seq 2)');
    expect(prefersDraft.metadata.flags).toEqual(['rejected_by_judge']);
    const strict = verified({ min_margin: 0.8 });
    expect(assemblePair(strict, sample, runToEnd(strict, sample, answers()).records, PAIR_ID).metadata.flags).toEqual(['rejected_by_judge']);
  });
});

describe('ensemble principles', () => {
  it('are distinct principles with a comparison question, drawn the same way every time', () => {
    const a = judgePrinciples(judgedConstitution.principles, null, 3, 42, 1);
    expect(new Set(a.map((p) => p.id)).size).toBe(3);
    expect(a.every((p) => p.id !== 'private')).toBe(true);
    expect(judgePrinciples(judgedConstitution.principles, null, 3, 42, 1)).toEqual(a);
    const firsts = new Set(Array.from({ length: 40 }, (_, i) => judgePrinciples(judgedConstitution.principles, null, 1, 42, i)[0].id));
    expect(firsts.size).toBe(3);
  });

  it('and the candidates and comparisons depend on the prompt position, not on the sample id', () => {
    const run = feedbackRun({ candidates: 3, ensemble: 2 });
    const plan = (id: string) => runToEnd(run, makeSample({ id }), answers()).calls;
    expect(plan('99999999-8888-4777-8666-555555555555')).toEqual(plan('7c2f0e9a-1b3d-4e5f-8a6b-9c0d1e2f3a4b'));
  });

  it('respect the run principle selector', () => {
    expect(judgePrinciples(judgedConstitution.principles, { tags: ['honesty'] }, 1, 1, 0).map((p) => p.id)).toEqual(['honest']);
  });
});
