import type { Principle } from '@amend/constitution';
import type { PrincipleSelector } from '@amend/contracts';
import { PipelineError, type RunProblem } from './errors';

/** What a selector names that the constitution does not have, and what it does have. */
export interface SelectorProblem {
  kind: 'ids' | 'tags';
  unknown: string[];
  valid: string[];
}

/**
 * The principles a run may sample from: all of them without a selector, the listed ids, or those
 * carrying any of the listed tags. Constitution order is kept, so the seeded draw over the
 * selection is as reproducible as the draw over the whole list.
 */
export function selectPrinciples(principles: Principle[], selector: PrincipleSelector | null | undefined): Principle[] {
  if (!selector) return principles;
  const problem = checkSelector(principles, selector);
  if (problem) throw new PipelineError('invalid_run', selectorProblem(problem, 'the run').message);
  if ('ids' in selector) {
    const ids = new Set(selector.ids);
    return principles.filter((p) => ids.has(p.id));
  }
  const tags = new Set(selector.tags);
  return principles.filter((p) => p.tags.some((t) => tags.has(t)));
}

/** Undefined when every id or tag of the selector exists in `principles`. */
export function checkSelector(principles: Principle[], selector: PrincipleSelector): SelectorProblem | undefined {
  const kind = 'ids' in selector ? 'ids' : 'tags';
  const valid = kind === 'ids' ? principles.map((p) => p.id) : [...new Set(principles.flatMap((p) => p.tags))].sort();
  const asked = 'ids' in selector ? selector.ids : selector.tags;
  const unknown = [...new Set(asked.filter((x) => !valid.includes(x)))];
  return unknown.length > 0 ? { kind, unknown, valid } : undefined;
}

/** A selector naming what `where` does not have, as the problem the API answers with a 422. */
export function selectorProblem(problem: SelectorProblem, where: string): RunProblem {
  const { kind, unknown, valid } = problem;
  return {
    code: 'unknown_principles',
    message: `${where} has no principle ${kind} ${unknown.map((x) => `"${x}"`).join(', ')}; valid ${kind}: ${valid.join(', ')}`,
    details: { unknown, [`valid_${kind}`]: valid },
  };
}
