import type { Principle } from '@amend/constitution';
import { uniformFromKey } from './seeded';

/**
 * The key whose hash decides a round's principle; documented so a run can be reproduced outside
 * Amend. Keyed by the sample's index (its prompt's position in the run), not its random id, so
 * the same prompts with the same seed get the same principles in every run (ablations, replay).
 */
export function principleKey(seed: number, sampleIndex: number, round: number): string {
  return `${seed}:${sampleIndex}:${round}`;
}

/**
 * The principle for one round of one sample: drawn independently per round (as in the CAI paper
 * and the H4 recipe), with probability proportional to `weight`, from a uniform number that is a
 * function of (run seed, sample index, round) only. Same inputs, same principle, on any machine and
 * after any number of retries.
 */
export function samplePrinciple(principles: Principle[], seed: number, sampleIndex: number, round: number): Principle {
  if (principles.length === 0) throw new RangeError('cannot sample a principle from an empty list');
  const total = principles.reduce((sum, p) => sum + p.weight, 0);
  if (!(total > 0) || !Number.isFinite(total)) throw new RangeError('principle weights must be positive and finite');
  const target = uniformFromKey(principleKey(seed, sampleIndex, round)) * total;
  let cumulative = 0;
  for (const p of principles) {
    cumulative += p.weight;
    if (target < cumulative) return p;
  }
  // Only reachable through floating-point rounding of the cumulative sum.
  return principles[principles.length - 1];
}
