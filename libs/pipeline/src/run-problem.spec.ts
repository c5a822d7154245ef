import type { FeedbackOptions } from '@amend/contracts';
import { planNextCall } from './plan';
import { runProblem, type RunSpec } from './run-spec';
import { PipelineError, type RunProblemCode } from './errors';
import { constitution, makeRun, makeSample } from './testing/fixtures';

/** The fixture with comparison questions on harm, honest and fair (not private). */
const judged = {
  ...constitution,
  principles: constitution.principles.map((p) => (p.id === 'private' ? p : { ...p, comparison: `Which is better on ${p.id}?` })),
};
const feedback = (f: Partial<FeedbackOptions> = {}): FeedbackOptions => ({ candidates: 2, ensemble: 1, cot: false, verify: false, min_margin: 0, ...f });

// Expected codes by hand, from the rules as the API documents them (docs/ml-teams.md#errors: 422 codes).
const cases: { name: string; run: Partial<RunSpec>; code: RunProblemCode | null }[] = [
  { name: 'a plain critique-revise run', run: {}, code: null },
  { name: 'an unknown mode', run: { mode: 'debate' as RunSpec['mode'] }, code: 'invalid_mode' },
  { name: 'zero rounds', run: { rounds: 0 }, code: 'invalid_rounds' },
  { name: 'nine rounds', run: { rounds: 9 }, code: 'invalid_rounds' },
  { name: 'eight rounds', run: { rounds: 8 }, code: null },
  {
    name: 'another constitution version than the run cites',
    run: { constitutionRef: { name: 'test-core', version: '2.0.0', sha256: 'a'.repeat(64) } },
    code: 'constitution_mismatch',
  },
  { name: 'a constitution without principles', run: { constitution: { ...constitution, principles: [] } }, code: 'no_principles' },
  { name: 'a selector naming an unknown id', run: { principles: { ids: ['harm', 'telepathy'] } }, code: 'unknown_principles' },
  { name: 'a selector naming an unknown tag', run: { principles: { tags: ['nope'] } }, code: 'unknown_principles' },
  { name: 'ai-feedback without comparison questions', run: { mode: 'ai-feedback', feedback: feedback() }, code: 'no_comparison_principles' },
  { name: 'verify without comparison questions', run: { feedback: feedback({ verify: true }) }, code: 'no_comparison_principles' },
  { name: 'critique-revise without verify needs no comparison questions', run: { feedback: feedback() }, code: null },
  {
    name: 'ai-feedback with three questions and an ensemble of 3',
    run: { mode: 'ai-feedback', constitution: judged, feedback: feedback({ ensemble: 3 }) },
    code: null,
  },
  {
    name: 'an ensemble of 4 over three questions',
    run: { mode: 'ai-feedback', constitution: judged, feedback: feedback({ ensemble: 4 }) },
    code: 'ensemble_too_large',
  },
  {
    name: 'selected down to the one principle without a question',
    run: { mode: 'ai-feedback', constitution: judged, principles: { ids: ['private'] }, feedback: feedback() },
    code: 'no_comparison_principles',
  },
  { name: 'one candidate', run: { mode: 'ai-feedback', constitution: judged, feedback: feedback({ candidates: 1 }) }, code: 'invalid_feedback_options' },
  { name: 'a margin above 1', run: { mode: 'ai-feedback', constitution: judged, feedback: feedback({ min_margin: 1.5 }) }, code: 'invalid_feedback_options' },
];

describe('runProblem, the one check the API (422) and the plan (PipelineError) share', () => {
  it.each(cases)('$name: $code', ({ run, code }) => {
    const spec = makeRun(run);
    expect(runProblem(spec)?.code ?? null).toBe(code);
    if (code === null) expect(() => planNextCall(spec, makeSample(), [])).not.toThrow();
    else expect(() => planNextCall(spec, makeSample(), [])).toThrow(new PipelineError('invalid_run', runProblem(spec)!.message));
  });

  it('names what is wrong and what would do in the message and details', () => {
    const unknown = runProblem(makeRun({ principles: { ids: ['harm', 'telepathy'] } }))!;
    expect(unknown.message).toBe('test-core@1.0.0 has no principle ids "telepathy"; valid ids: harm, honest, fair, private');
    expect(unknown.details).toEqual({ unknown: ['telepathy'], valid_ids: ['harm', 'honest', 'fair', 'private'] });
    const tooMany = runProblem(makeRun({ mode: 'ai-feedback', constitution: judged, feedback: feedback({ ensemble: 4 }) }))!;
    expect(tooMany.message).toContain('ensemble 4 is more than the 3 principles of test-core@1.0.0');
    expect(tooMany.details).toEqual({ comparison_principles: ['harm', 'honest', 'fair'] });
    const selected = runProblem(makeRun({ mode: 'ai-feedback', constitution: judged, principles: { ids: ['private'] }, feedback: feedback() }))!;
    expect(selected.message).toContain('test-core@1.0.0 (as selected)');
  });
});
