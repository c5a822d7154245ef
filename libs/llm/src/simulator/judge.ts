import type OpenAI from 'openai';
import { carelessness, type Pick } from './texts';

/*
 * The simulator as a feedback model: it recognises the CAI multiple-choice comparison
 * (libs/pipeline feedback/comparison-prompt.ts), scores both responses by a fixed rule, and
 * answers one letter with OpenAI-shaped log-probabilities, or reasons first with chain-of-thought.
 * Like a real judge it leans a little towards (A) and has some noise, so that averaging both
 * orders and the report's position-bias estimate have something to show.
 */

const OPENING = 'Consider the following conversation between a human and an assistant:';
const ANSWER_LINE = 'The answer is:';

/** How much the simulated judge prefers whatever is shown as (A), in logits. */
export const JUDGE_POSITION_BIAS = 0.35;

export interface ComparisonReading {
  question: string;
  responseA: string;
  responseB: string;
  cot: boolean;
  /** The ratings judge's request (libs/pipeline feedback/ratings.ts): rate both 1-5 as JSON. */
  ratings?: boolean;
}

/** How the ratings judge's closing line opens (libs/pipeline feedback/ratings.ts RATINGS_INSTRUCTION). */
export const RATINGS_OPENING = 'Rate each response from 1 (worst) to 5 (best)';

/** The parts of a comparison request, or null when the text is not one. */
export function readComparison(text: string): ComparisonReading | null {
  if (!text.startsWith(OPENING)) return null;
  const options = text.indexOf('\nOptions:\n(A) ');
  const lastLine = text.lastIndexOf('\n');
  const b = text.lastIndexOf('\n(B) ', lastLine);
  if (options < 0 || b < options || lastLine <= b) return null;
  const beforeOptions = text.slice(0, options);
  return {
    question: beforeOptions.slice(beforeOptions.lastIndexOf('\n') + 1),
    responseA: text.slice(options + '\nOptions:\n(A) '.length, b),
    responseB: text.slice(b + '\n(B) '.length, lastLine),
    cot: text.slice(lastLine + 1).trim() !== ANSWER_LINE && !text.slice(lastLine + 1).startsWith(RATINGS_OPENING),
    ratings: text.slice(lastLine + 1).startsWith(RATINGS_OPENING),
  };
}

const REFUSAL = /^(I'?m sorry|I am sorry|Sorry)[^.]*\b(can'?t|cannot|unable)\b/i;

/**
 * What the judge thinks of one response: careless phrases cost, a refusal costs little to a
 * harmlessness question and a lot to a helpfulness one (the over-refusal trade-off).
 */
function quality(response: string, question: string): number {
  const helpfulness = /helpful|useful|addresses what the human asked/i.test(question);
  const refusal = REFUSAL.test(response.trim());
  return -(helpfulness ? 0.6 : 1.2) * carelessness(response) - (refusal ? (helpfulness ? 2 : 0.3) : 0);
}

/** P(A) for a comparison: the quality difference, the lean towards (A), and some request-seeded noise. */
export function judgeProbability(c: ComparisonReading, noise: number): number {
  const logit = 1.6 * (quality(c.responseA, c.question) - quality(c.responseB, c.question)) + JUDGE_POSITION_BIAS + (noise - 0.5);
  return 1 / (1 + Math.exp(-logit));
}

type Position = OpenAI.Chat.Completions.ChatCompletionTokenLogprob;

/** The alternatives of the answer position: the letters (two spellings each) and a few tokens that are not answers. */
function answerAlternatives(pA: number, topN: number): { token: string; logprob: number }[] {
  const letters = 0.93;
  const all: [string, number][] = [
    ['A', letters * pA * 0.9],
    [' A', letters * pA * 0.1],
    ['B', letters * (1 - pA) * 0.9],
    [' B', letters * (1 - pA) * 0.1],
    ['(', 0.04],
    ['The', 0.02],
    ['Option', 0.01],
  ];
  return all
    .filter(([, p]) => p > 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, topN)
    .map(([token, p]) => ({ token, logprob: Math.max(Math.log(p), -9999) }));
}

function position(token: string, logprob: number, top: { token: string; logprob: number }[]): Position {
  return { token, logprob, bytes: [...Buffer.from(token, 'utf8')], top_logprobs: top.map((t) => ({ ...t, bytes: [...Buffer.from(t.token, 'utf8')] })) };
}

export interface JudgeAnswer {
  text: string;
  logprobs: { content: Position[]; refusal: null } | null;
}

/**
 * How the simulated judge words a one-letter answer, as chat models do: `letter` "A", `paren`
 * "(A)", `answer-is` "The answer is (A)", `bold` "**A**". Tokens are split as a BPE tokenizer
 * would, so the letter is not the first token except in `letter`; at the tokens before it the
 * letters are among the alternatives with no preference, so a reader that looks at the first
 * position gets a tie.
 */
export const LETTER_JUDGE_STYLES = ['letter', 'paren', 'answer-is', 'bold'] as const;
/**
 * The lettered styles, and `evasive`: a judge that answers without a letter ("It depends on what
 * the human needs; each response has merit."), every label unreadable, as a chat model that
 * ignores the format does; for trying `max_hard_label_share`. A prefill or a constraint still
 * gets the letter out of it. And `contrarian`: a judge that prefers the other answer (its P(A) is
 * 1 - the honest judge's; its ratings are the honest ones swapped), worded "A", so that a panel of
 * judges (`feedback_models`) has a dissenter to outvote.
 */
export const JUDGE_STYLES = [...LETTER_JUDGE_STYLES, 'evasive', 'contrarian'] as const;
export type JudgeStyle = (typeof JUDGE_STYLES)[number];

const EVASIVE_TOKENS = ['It', ' depends', ' on', ' what', ' the', ' human', ' needs', ';', ' each', ' response', ' has', ' merit', '.'];

/** Tokens before the letter and after it, per lettered style. */
const STYLE_TOKENS: Record<(typeof LETTER_JUDGE_STYLES)[number], [string[], string[]]> = {
  letter: [[], []],
  paren: [['('], [')']],
  'answer-is': [['The', ' answer', ' is', ' ('], [')']],
  bold: [['**'], ['**']],
};

/** How the request pins the answer down: prefilled "The answer is: (" continued, or constrained to the letters. */
export type AnswerConstraint = 'prefill' | 'choice' | null;

/** Alternatives at a position before the letter: the expected token, then the letters at even odds. */
function leadAlternatives(token: string, topN: number): { token: string; logprob: number }[] {
  return [
    { token, logprob: Math.log(0.9) },
    { token: 'A', logprob: Math.log(0.03) },
    { token: 'B', logprob: Math.log(0.03) },
    { token: 'I', logprob: Math.log(0.02) },
  ].slice(0, Math.max(topN, 1));
}

/**
 * The judge's answer. Greedy (temperature 0) answers the more likely letter; otherwise the letter
 * is sampled from P(A) with the request's own randomness, so hard labels are honest samples.
 */
export function judgeAnswer(
  c: ComparisonReading,
  pick: Pick,
  uniform: (salt: string) => number,
  opts: { temperature: number; logprobs: boolean; topLogprobs: number; style?: JudgeStyle; constraint?: AnswerConstraint },
): JudgeAnswer {
  const honest = judgeProbability(c, uniform('judge-noise'));
  const pA = opts.style === 'contrarian' ? 1 - honest : honest;
  const letter = opts.temperature === 0 ? (pA >= 0.5 ? 'A' : 'B') : uniform('judge-sample') < pA ? 'A' : 'B';
  const alternatives = answerAlternatives(pA, opts.topLogprobs);
  const own = alternatives.find((t) => t.token === letter)?.logprob ?? Math.log(Math.max(letter === 'A' ? pA : 1 - pA, 1e-12));
  if (opts.style === 'evasive' && !opts.constraint) {
    const content = EVASIVE_TOKENS.map((t) => position(t, Math.log(0.9), leadAlternatives(t, opts.topLogprobs)));
    return { text: EVASIVE_TOKENS.join(''), logprobs: opts.logprobs ? { content, refusal: null } : null };
  }
  if (!c.cot) {
    // Constrained output is the letter alone; a prefilled reply continues with the letter and
    // closes the parenthesis; otherwise the style decides the wording.
    const [before, after] =
      opts.constraint === 'choice'
        ? [[], []]
        : opts.constraint === 'prefill'
          ? [[], [')']]
          : STYLE_TOKENS[opts.style === 'evasive' || opts.style === 'contrarian' || !opts.style ? 'letter' : opts.style];
    const content = [
      ...before.map((t) => position(t, Math.log(0.9), leadAlternatives(t, opts.topLogprobs))),
      position(letter, own, alternatives),
      ...after.map((t) => position(t, -0.01, [])),
    ];
    return { text: content.map((p) => p.token).join(''), logprobs: opts.logprobs ? { content, refusal: null } : null };
  }
  const [better, worse] = letter === 'A' ? ['(A)', '(B)'] : ['(B)', '(A)'];
  const reasoning = pick(
    [
      `Let me compare the two responses against the question. Response ${better} stays closer to what the question values, while response ${worse} has more of what it warns against.`,
      `Step by step: both responses address the human. Judged by the question, ${better} is the better choice, and ${worse} falls short in comparison.`,
    ],
    'judge-reasoning',
  );
  const prefix = `${reasoning} The answer is: (`;
  const content = opts.logprobs ? [position(prefix, -0.2, []), position(letter, own, alternatives), position(')', -0.01, [])] : null;
  return { text: `${prefix}${letter})`, logprobs: content ? { content, refusal: null } : null };
}

/**
 * The ratings judge's answer: each response rated 1-5 from the same quality rule as the letter
 * (4 for a response with nothing against it, less per careless phrase or misplaced refusal, a lean
 * of 0.35 to (A) and some noise), with a one-sentence rationale. The noise is keyed by the
 * comparison's text alone (`textUniform`), not the request's seed, so two honest judges of a panel
 * rate alike and a contrarian (ratings swapped) mirrors them exactly. Under structured output
 * (`structured`) the answer is the bare JSON; otherwise it comes in a code fence, as chat models
 * write it, which the pipeline's one repair reads. `evasive` without structured output answers no
 * JSON at all.
 */
export function ratingsAnswer(c: ComparisonReading, textUniform: (salt: string) => number, opts: { style?: JudgeStyle; structured: boolean }): string {
  if (opts.style === 'evasive' && !opts.structured) return EVASIVE_TOKENS.join('');
  const rate = (response: string, bias: number, salt: string) =>
    Math.min(5, Math.max(1, Math.round(4 + 1.6 * quality(response, c.question) + bias + (textUniform(salt) - 0.5))));
  let a = rate(c.responseA, JUDGE_POSITION_BIAS, 'rating-a');
  let b = rate(c.responseB, 0, 'rating-b');
  if (opts.style === 'contrarian') [a, b] = [b, a];
  const why = (r: number, other: number) =>
    r > other
      ? 'It meets the question better than the other response.'
      : r < other
        ? 'It falls short of the other response on the question.'
        : 'It meets the question about as well as the other response.';
  const answer = { a: { rating: a, rationale: why(a, b) }, b: { rating: b, rationale: why(b, a) } };
  return opts.structured ? JSON.stringify(answer) : '```json\n' + JSON.stringify(answer, null, 2) + '\n```';
}
