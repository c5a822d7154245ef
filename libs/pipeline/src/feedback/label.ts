import type { ComparisonJudgement, LabelSource, TopLogprob } from '@amend/contracts';
import type { TokenLogprobs } from '../ports';

/*
 * The label maths of RL-CAI (Bai et al. 2022, "Constitutional AI", section 4): the feedback model
 * answers a multiple-choice question, and the soft label is the normalised probability of (A)
 * against (B), read from the answer token's log-probabilities.
 */

export type Letter = 'A' | 'B';

/** Chain-of-thought labels are clamped to this range: the paper found them overconfident otherwise. */
export const COT_CLAMP: readonly [number, number] = [0.4, 0.6];

/**
 * The option letter a token stands for: `A`, ` A`, `(A`, `(A)`, `A)`, `A.` are all (A). Only the
 * capital letter counts: a lowercase `a` at the answer position is far more often an article.
 */
export function optionLetter(token: string): Letter | null {
  const core = token.trim().replace(/^\(/, '').replace(/[).:]$/, '');
  return core === 'A' || core === 'B' ? core : null;
}

/**
 * P(A) / (P(A) + P(B)) over the alternatives of one position, each letter's probability summed
 * over its spellings. A letter absent from the alternatives counts as probability 0: with 5 or
 * more alternatives listed, what is missing is below the least likely of them. Null when neither
 * letter is there (the model was not answering the question at this position).
 */
export function softLabel(alternatives: readonly TopLogprob[]): number | null {
  let a = 0;
  let b = 0;
  const seen = new Set<string>();
  for (const { token, logprob } of alternatives) {
    // Servers list the sampled token among its alternatives too; count each spelling once.
    if (seen.has(token)) continue;
    seen.add(token);
    const letter = optionLetter(token);
    if (letter === 'A') a += Math.exp(logprob);
    else if (letter === 'B') b += Math.exp(logprob);
  }
  if (a + b === 0 || !Number.isFinite(a + b)) return null;
  return a / (a + b);
}

/**
 * The position that carries the answer: the first one without chain-of-thought (the request asks
 * for one token), the last one whose token is a letter with it (the reasoning comes first and the
 * answer closes it).
 */
export function answerPosition(positions: readonly TokenLogprobs[] | null | undefined, cot: boolean): TokenLogprobs | null {
  if (!positions || positions.length === 0) return null;
  if (!cot) return positions[0];
  for (let i = positions.length - 1; i >= 0; i--) {
    if (optionLetter(positions[i].token) !== null) return positions[i];
  }
  return null;
}

/** The letter a text answers: the first letter-like word without chain-of-thought, the concluding one with it. */
export function answeredLetter(text: string, cot: boolean): Letter | null {
  if (!cot) {
    const first = /^[\s"'*]*(?:the answer is:?\s*)?\(?([AB])\b/i.exec(text);
    return first && (first[1] === 'A' || first[1] === 'B') ? first[1] : null;
  }
  const concluding = [...text.matchAll(/answer is:?\s*\(?([AB])\)?/gi)];
  if (concluding.length > 0) return concluding[concluding.length - 1][1].toUpperCase() as Letter;
  const options = [...text.matchAll(/\(([AB])\)/g)];
  return options.length > 0 ? (options[options.length - 1][1] as Letter) : null;
}

export function clamp(p: number, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, Math.max(lo, p));
}

/**
 * The label of one comparison call. Log-probabilities when the backend returned them and the
 * answer position has either letter; otherwise the answered letter as a hard 1 or 0, marked
 * `hard`; an answer naming neither letter is 0.5 (no preference), also `hard`. With
 * chain-of-thought the probability is clamped to [0.4, 0.6], hard labels included.
 */
export function comparisonLabel(
  result: { text: string; logprobs?: readonly TokenLogprobs[] | null },
  options: readonly [string, string],
  cot: boolean,
): ComparisonJudgement {
  const position = answerPosition(result.logprobs, cot);
  let alternatives: TopLogprob[] | null = null;
  let p: number | null = null;
  if (position) {
    alternatives = [{ token: position.token, logprob: position.logprob }, ...position.top_logprobs];
    p = softLabel(alternatives);
  }
  const answer = answeredLetter(result.text, cot) ?? (position ? optionLetter(position.token) : null);
  let source: LabelSource = 'logprobs';
  if (p === null) {
    source = 'hard';
    p = answer === 'A' ? 1 : answer === 'B' ? 0 : 0.5;
  }
  return {
    options: [options[0], options[1]],
    p_a: cot ? clamp(p, COT_CLAMP) : p,
    label_source: source,
    answer,
    top_logprobs: position ? position.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })) : null,
  };
}

/**
 * P(X is better) from one comparison asked in both orders: X shown as (A), then Y shown as (A).
 * Averaging the two cancels a constant lean towards either position.
 */
export function bothOrders(pXShownFirst: number, pYShownFirst: number): number {
  return (pXShownFirst + (1 - pYShownFirst)) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of no values');
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * Whether a judgement prefers one side by `minMargin`, the margin being p(preferred) - p(other)
 * = 2p - 1. A tie never counts as a preference, whatever the threshold.
 */
export function prefersBy(p: number, minMargin: number): boolean {
  const margin = 2 * p - 1;
  return margin > 0 && margin >= minMargin - 1e-12;
}
