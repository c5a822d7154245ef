import type { Principle } from '@amend/constitution';
import { PipelineError } from './errors';
import { planNextCall } from './plan';
import { samplePrinciple } from './principle-sampler';
import { checkSelector, selectPrinciples } from './principle-selection';
import { makeRun, makeSample, runToEnd } from './testing/fixtures';

const p = (id: string, tags: string[], weight = 1): Principle => ({ id, critique: `c ${id}`, revision: `r ${id}`, tags, weight });
const sampleId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

describe('restricting a run to some principles', () => {
  const all = [p('a', ['harm']), p('b', ['honesty'], 3), p('c', ['harm', 'privacy']), p('d', ['fairness'], 2)];

  it('keeps every principle when the run names none', () => {
    expect(selectPrinciples(all, null)).toBe(all);
    expect(selectPrinciples(all, undefined)).toBe(all);
  });

  it('selects by id, in constitution order whatever the order asked', () => {
    expect(selectPrinciples(all, { ids: ['d', 'a'] }).map((q) => q.id)).toEqual(['a', 'd']);
  });

  it('selects the principles that carry any of the tags', () => {
    expect(selectPrinciples(all, { tags: ['privacy', 'fairness'] }).map((q) => q.id)).toEqual(['c', 'd']);
    expect(selectPrinciples(all, { tags: ['harm'] }).map((q) => q.id)).toEqual(['a', 'c']);
  });

  it('names unknown ids or tags together with the valid ones', () => {
    expect(checkSelector(all, { ids: ['a', 'zz', 'zz'] })).toEqual({ kind: 'ids', unknown: ['zz'], valid: ['a', 'b', 'c', 'd'] });
    expect(checkSelector(all, { tags: ['nope'] })).toEqual({ kind: 'tags', unknown: ['nope'], valid: ['fairness', 'harm', 'honesty', 'privacy'] });
    expect(checkSelector(all, { tags: ['harm'] })).toBeUndefined();
    expect(() => selectPrinciples(all, { ids: ['zz'] })).toThrow(PipelineError);
    expect(() => selectPrinciples(all, { ids: ['zz'] })).toThrow('the run has no principle ids "zz"; valid ids: a, b, c, d');
  });

  it('samples only selected principles and still follows their weights', () => {
    const selected = selectPrinciples(all, { ids: ['b', 'd'] });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const id = samplePrinciple(selected, 11, i, 1).id;
      counts[id] = (counts[id] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['b', 'd']);
    // b weighs 3 and d 2: 60% and 40%, within four binomial standard deviations.
    expect(Math.abs(counts.b / 10_000 - 0.6)).toBeLessThan(0.02);
  });

  it('plans every critique and revision of a restricted run with a selected principle', () => {
    const run = makeRun({ rounds: 8, principles: { tags: ['privacy'] } });
    for (let i = 0; i < 20; i++) {
      const { calls } = runToEnd(run, makeSample({ id: sampleId(i), index: i }));
      expect(new Set(calls.slice(1).map((c) => c.principle_id))).toEqual(new Set(['private']));
    }
  });

  it('plans an unrestricted run exactly as before selection existed', () => {
    const sample = makeSample();
    const plain = runToEnd(makeRun(), sample).calls.map((c) => c.principle_id);
    const explicitAll = runToEnd(makeRun({ principles: null }), sample).calls.map((c) => c.principle_id);
    expect(explicitAll).toEqual(plain);
  });

  it('refuses to plan even the draft of a run that selects an unknown principle', () => {
    expect(() => planNextCall(makeRun({ principles: { ids: ['missing'] } }), makeSample(), [])).toThrow(/valid ids: harm, honest, fair, private/);
  });
});
