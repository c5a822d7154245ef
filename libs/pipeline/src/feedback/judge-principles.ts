import type { Principle } from '@amend/constitution';
import type { PrincipleSelector } from '@amend/contracts';
import { PipelineError, type RunProblem } from '../errors';
import { selectPrinciples } from '../principle-selection';
import { uniformFromKey } from '../seeded';

/** A principle that has a comparison question: the only kind a feedback model can be asked. */
export type ComparisonPrinciple = Principle & { comparison: string };

/** The principles of a run (after its selector) that carry a `comparison` question, in constitution order. */
export function comparisonPrinciples(principles: Principle[], selector: PrincipleSelector | null | undefined): ComparisonPrinciple[] {
  return selectPrinciples(principles, selector).filter((p): p is ComparisonPrinciple => typeof p.comparison === 'string' && p.comparison.trim() !== '');
}

/**
 * The feedback model can only be asked a principle's `comparison` question, so an ensemble needs
 * that many distinct principles with one. `where` names the constitution in the message.
 */
export function comparisonPoolProblem(pool: readonly ComparisonPrinciple[], ensemble: number, where: string): RunProblem | null {
  if (pool.length === 0) {
    return {
      code: 'no_comparison_principles',
      message:
        `the feedback model answers a principle's \`comparison\` question, and no principle of ${where} has one; ` +
        'use a constitution that has them (e.g. amend-core) or publish a version that adds them',
    };
  }
  if (ensemble > pool.length) {
    const ids = pool.map((p) => p.id);
    return {
      code: 'ensemble_too_large',
      message:
        `ensemble ${ensemble} is more than the ${pool.length} principles of ${where} with a comparison question ` +
        `(${ids.join(', ')}); ask for at most ${pool.length}`,
      details: { comparison_principles: ids },
    };
  }
  return null;
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
  const problem = comparisonPoolProblem(pool, ensemble, 'this run');
  if (problem) throw new PipelineError('invalid_run', problem.message);
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
