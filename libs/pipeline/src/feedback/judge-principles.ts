import type { Principle } from '@amend/constitution';
import type { PrincipleSelector } from '@amend/contracts';
import { PipelineError } from '../errors';
import { selectPrinciples } from '../principle-selection';
import { uniformFromKey } from '../seeded';

/** A principle that has a comparison question: the only kind a feedback model can be asked. */
export type ComparisonPrinciple = Principle & { comparison: string };

/** The principles of a run (after its selector) that carry a `comparison` question, in constitution order. */
export function comparisonPrinciples(principles: Principle[], selector: PrincipleSelector | null | undefined): ComparisonPrinciple[] {
  return selectPrinciples(principles, selector).filter((p): p is ComparisonPrinciple => typeof p.comparison === 'string' && p.comparison.trim() !== '');
}

/** The key whose hash decides ensemble draw `k`; distinct from revision rounds' keys, so the draws are independent. */
export function judgeKey(seed: number, sampleIndex: number, k: number): string {
  return `judge:${seed}:${sampleIndex}:${k}`;
}

/**
 * The `ensemble` comparison principles of one sample: distinct principles drawn in turn with
 * probability proportional to `weight` among those not drawn yet, each draw a function of
 * (run seed, sample index, draw index) only, like the revision principles. Every comparison of the
 * sample uses the same ensemble, so the scores of its candidates are comparable.
 */
export function judgePrinciples(
  principles: Principle[],
  selector: PrincipleSelector | null | undefined,
  ensemble: number,
  seed: number,
  sampleIndex: number,
): ComparisonPrinciple[] {
  const pool = comparisonPrinciples(principles, selector);
  if (pool.length === 0) {
    throw new PipelineError('invalid_run', 'no principle of this run has a `comparison` question, which the feedback model needs');
  }
  if (ensemble > pool.length) {
    throw new PipelineError('invalid_run', `ensemble ${ensemble} is more than the ${pool.length} principles with a comparison question`);
  }
  const remaining = [...pool];
  const drawn: ComparisonPrinciple[] = [];
  for (let k = 0; k < ensemble; k++) {
    const total = remaining.reduce((s, p) => s + p.weight, 0);
    const target = uniformFromKey(judgeKey(seed, sampleIndex, k)) * total;
    let at = remaining.length - 1;
    let cumulative = 0;
    for (let i = 0; i < remaining.length; i++) {
      cumulative += remaining[i].weight;
      if (target < cumulative) {
        at = i;
        break;
      }
    }
    drawn.push(remaining[at]);
    remaining.splice(at, 1);
  }
  return drawn;
}
