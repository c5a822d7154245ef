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
 * The option letter a token stands for: `A`, ` A`, `(A`, ` (A`, `(A)`, `A)`, `A.`, `**A` are all
 * (A). Only the capital letter counts: a lowercase `a` at the answer position is far more often
 * an article.
 */
export function optionLetter(token: string): Letter | null {
  const core = token
    .trim()
    .replace(/^[*_]*[([]?/, '')
    .replace(/[)\].:,]?[*_]*$/, '');
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

/** Where the answer letter stands in a text: the letter and its character offset. */
export interface AnswerSpot {
  letter: Letter;
  offset: number;
}

// The letter itself: a capital A or B not followed by a letter or digit ("A" in "An" is no answer).
const LETTER = String.raw`([AB])(?![A-Za-z0-9])`;
// "The answer is:", "Answer:", "The final answer is", with any markdown around.
const ANSWER_IS = String.raw`(?:[Tt]he\s+)?(?:[Ff]inal\s+)?[Aa]nswer(?:\s+is)?\s*:?\s*[*_]*\s*`;
// A reply that opens with the answer: "A", "(A)", "**A**", "> (B)", "The answer is (A)", "Option B".
const LEADING = new RegExp(String.raw`^[\s>#*_"'\x60]*(?:${ANSWER_IS})?(?:(?:[Oo]ption|[Rr]esponse|[Cc]hoice)\s+)?[([]?\s*${LETTER}`);
const ANSWER_PHRASE = new RegExp(String.raw`[Aa]nswer(?:\s+is)?\s*:?\s*[*_]*\s*[([]?\s*${LETTER}`, 'g');

/**
 * The answer letter of a comparison reply and where it stands.
 *
 * Without chain-of-thought the reply should open with the answer (after any "The answer is",
 * markdown or parenthesis); failing that, the first "answer is (X)" anywhere counts. With
 * chain-of-thought only the reply's final "The answer is: (X)" counts, never a letter quoted in
 * the reasoning; a reply cut off at max_tokens counts only if that final answer closes it, since
 * an "answer is" met mid-reasoning is not the conclusion. Null when no answer can be read.
 */
export function findAnswer(text: string, cot: boolean, finishReason?: string | null): AnswerSpot | null {
  const spot = (m: RegExpExecArray | RegExpMatchArray): AnswerSpot => ({
    letter: m[1] as Letter,
    offset: (m.index ?? 0) + m[0].length - 1,
  });
  if (!cot) {
    const lead = LEADING.exec(text);
    if (lead) return spot(lead);
    const first = [...text.matchAll(ANSWER_PHRASE)][0];
    return first ? spot(first) : null;
  }
  const all = [...text.matchAll(ANSWER_PHRASE)];
  if (all.length === 0) return null;
  const last = spot(all[all.length - 1]);
  if (finishReason === 'length' && !/^[)\].*_\s]*$/.test(text.slice(last.offset + 1))) return null;
  return last;
}

/** The letter a reply answers (see findAnswer). */
export function answeredLetter(text: string, cot: boolean, finishReason?: string | null): Letter | null {
  return findAnswer(text, cot, finishReason)?.letter ?? null;
}

/**
 * Index of the returned position that holds the character at `offset` of the reply: the tokens,
 * concatenated, spell the reply. When they do not (a backend that returns byte-level or cleaned
 * tokens), the position whose token is a spelling of the letter: the first without
 * chain-of-thought, the last with it.
 */
export function positionOf(positions: readonly TokenLogprobs[], text: string, spot: AnswerSpot, cot: boolean): number | null {
  let start = 0;
  for (let i = 0; i < positions.length; i++) {
    const token = positions[i].token;
    const end = start + token.length;
    if (text.slice(start, end) !== token) break;
    if (spot.offset >= start && spot.offset < end) return i;
    start = end;
  }
  const order = positions.map((_, i) => i);
  if (cot) order.reverse();
  return order.find((i) => optionLetter(positions[i].token) === spot.letter) ?? null;
}

/** What the backend did with the request's `answer` (ChatResult.answer_mode), and the prefix it continued after. */
export interface AnswerContext {
  mode?: 'prefill' | 'guided_choice' | 'json_schema';
  prefix?: string;
}

/**
 * The label of one comparison call, read at the answer letter:
 *
 * 1. find the letter in the reply (findAnswer; after a prefill, in prefix + reply);
 * 2. find the returned position that holds it (positionOf), and normalise P(A) against P(B) over
 *    the spellings of the two letters among that position's alternatives only (softLabel):
 *    `logprobs`;
 * 3. no log-probabilities, or none for either letter at that position: the letter as a hard 1 or
 *    0, `hard`;
 * 4. no letter: p = 0.5, `unreadable`; it is no label, and the report counts it.
 *
 * With chain-of-thought the probability is clamped to [0.4, 0.6], hard labels included.
 */
export function comparisonLabel(
  result: { text: string; logprobs?: readonly TokenLogprobs[] | null; finish_reason?: string | null },
  options: readonly [string, string],
  cot: boolean,
  context: AnswerContext = {},
): ComparisonJudgement {
  const prefix = context.mode === 'prefill' ? (context.prefix ?? '') : '';
  const full = prefix + result.text;
  const spot = findAnswer(full, cot, result.finish_reason);
  const positions = result.logprobs && result.logprobs.length > 0 ? result.logprobs : null;
  const at = spot && positions ? positionOf(positions, result.text, { ...spot, offset: spot.offset - prefix.length }, cot) : null;
  const position = at === null || !positions ? null : positions[at];
  let p: number | null = null;
  if (position) p = softLabel([{ token: position.token, logprob: position.logprob }, ...position.top_logprobs]);
  let source: LabelSource = 'logprobs';
  if (p === null) {
    source = spot ? 'hard' : 'unreadable';
    p = spot ? (spot.letter === 'A' ? 1 : 0) : 0.5;
  }
  return {
    options: [options[0], options[1]],
    p_a: cot && source !== 'unreadable' ? clamp(p, COT_CLAMP) : p,
    label_source: source,
    answer: spot?.letter ?? null,
    top_logprobs: position ? position.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })) : null,
    answer_mode: context.mode ?? 'text',
    answer_position: position ? at : null,
  };
}

export function clamp(p: number, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, Math.max(lo, p));
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
