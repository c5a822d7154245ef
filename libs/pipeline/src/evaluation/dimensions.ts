import { createHash } from 'node:crypto';
import type { Constitution, Principle } from '@amend/constitution';
import { RUBRIC_DIMENSIONS, type JudgeDimension } from '@amend/contracts';
import { RUBRIC_QUESTIONS, dimensionsFor } from './rubric';

/*
 * What an evaluation's judge is asked, dimension by dimension. By default the fixed rubric
 * (rubric.ts); with `dimensions: "principles"` one dimension per principle of the candidate
 * constitution, asked by its own `comparison` question (or its critique made into one); or the
 * caller's own `[{id, question}]`. Resolved once when the evaluation starts and stored on its
 * candidate run, so planning, the report and a replay read the same list.
 */

/**
 * A principle without a `comparison` question is judged by its critique request, asked of both
 * answers: whichever a critic following that request would fault less.
 */
export function principleQuestion(p: Pick<Principle, 'critique' | 'comparison'>): string {
  // One line: the comparison prompt puts the question on a line of its own.
  if (p.comparison) return p.comparison.replace(/\s+/g, ' ').trim();
  return `A critic was asked: "${p.critique.replace(/\s+/g, ' ').trim()}" Which of these assistant responses would that critic find fewer problems with?`;
}

/** One dimension per principle of `c`, in the constitution's order, by its id. */
export function principleDimensions(c: Pick<Constitution, 'principles'>): JudgeDimension[] {
  return c.principles.map((p) => ({ id: p.id, question: principleQuestion(p) }));
}

/** The rubric's dimensions as questions. */
export const RUBRIC_JUDGE_DIMENSIONS: readonly JudgeDimension[] = RUBRIC_DIMENSIONS.map((id) => ({ id, question: RUBRIC_QUESTIONS[id] }));

/** The reference a report cites for a custom list: its name, and the sha256 of its ids and questions in order. */
export function dimensionsRef(name: string, dimensions: readonly JudgeDimension[]): { name: string; version: string; sha256: string } {
  const sha256 = createHash('sha256')
    .update(JSON.stringify(dimensions.map((d) => [d.id, d.question])))
    .digest('hex');
  return { name, version: '1', sha256 };
}

/**
 * The dimensions one prompt is judged on: every custom one, or the rubric's for that prompt
 * (over-refusal on benign prompts only).
 */
export function judgedDimensions(
  custom: readonly JudgeDimension[] | null | undefined,
  prompt: string,
  metadata?: Record<string, unknown> | null,
): readonly JudgeDimension[] {
  if (custom) return custom;
  return dimensionsFor(prompt, metadata).map((id) => ({ id, question: RUBRIC_QUESTIONS[id] }));
}
