import { RATING_SCALE, type ChatMessage, type ComparisonJudgement } from '@amend/contracts';
import { judgeMessages } from './comparison-prompt';

/*
 * The ratings judge: instead of one letter read from its log-probabilities, the feedback model
 * rates each response 1-5 on the question (UltraFeedback's scale, as distilabel's UltraFeedback
 * task asks it) with a one-sentence rationale, as JSON. It needs no log-probabilities, so it gives
 * graded labels on backends that return none (Anthropic's, many gateways).
 */

/**
 * The closing line of a ratings request, in place of "The answer is:". One line: the simulator
 * (libs/llm simulator/judge.ts) recognises a ratings request by its opening.
 */
export const RATINGS_INSTRUCTION =
  "Rate each response from 1 (worst) to 5 (best) by the question's standard, with a one-sentence rationale. " +
  'Answer with JSON only, in exactly this form: {"a": {"rating": 1-5, "rationale": "..."}, "b": {"rating": 1-5, "rationale": "..."}}';

/** Room for two ratings and two one-sentence rationales; an answer cut off here is repaired if it can be, else unreadable. */
export const RATINGS_MAX_TOKENS = 400;

const RATING_VALUES = Array.from({ length: RATING_SCALE.max - RATING_SCALE.min + 1 }, (_, i) => RATING_SCALE.min + i);
const rated = {
  type: 'object',
  properties: { rating: { type: 'integer', enum: RATING_VALUES }, rationale: { type: 'string' } },
  required: ['rating', 'rationale'],
  additionalProperties: false,
};

/**
 * The JSON Schema of the answer, sent as structured output where the alias supports it. `enum`
 * rather than minimum/maximum: every backend's constrained decoding (OpenAI strict mode, vLLM's
 * guided_json, Ollama's format) takes it.
 */
export const RATINGS_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: { a: rated, b: rated },
  required: ['a', 'b'],
  additionalProperties: false,
};
export const RATINGS_SCHEMA_NAME = 'amend_ratings';

export function ratingsMessages(prompt: string | readonly ChatMessage[], question: string, responseA: string, responseB: string): ChatMessage[] {
  return judgeMessages(prompt, question, responseA, responseB, RATINGS_INSTRUCTION);
}

export interface Ratings {
  a: number;
  b: number;
  rationale_a: string;
  rationale_b: string;
}

/** The two ratings of a parsed answer, or null when it is not the asked shape (a rating outside 1-5 or not an integer included). */
function ratingsOf(value: unknown): Ratings | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const side = (v: unknown): { rating: number; rationale: string } | null => {
    if (!v || typeof v !== 'object') return null;
    const { rating, rationale } = v as { rating?: unknown; rationale?: unknown };
    if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < RATING_SCALE.min || rating > RATING_SCALE.max) return null;
    return { rating, rationale: typeof rationale === 'string' ? rationale : '' };
  };
  const o = value as { a?: unknown; b?: unknown };
  const a = side(o.a);
  const b = side(o.b);
  return a && b ? { a: a.rating, b: b.rating, rationale_a: a.rationale, rationale_b: b.rationale } : null;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The one repair a chat model's JSON gets: the object taken out of a code fence or the prose around
 * it (from its first `{` to its last `}`), and trailing commas before a `}` or `]` dropped.
 */
export function repairJson(text: string): string {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  const body = start >= 0 && end > start ? text.slice(start, end + 1) : text;
  return body.replace(/,(\s*[}\]])/g, '$1');
}

/** The ratings of an answer: strict JSON first, then once repaired; null when neither reads. */
export function readRatings(text: string): { ratings: Ratings; repaired: boolean } | null {
  const strict = ratingsOf(parse(text.trim()));
  if (strict) return { ratings: strict, repaired: false };
  const repaired = ratingsOf(parse(repairJson(text)));
  return repaired ? { ratings: repaired, repaired: true } : null;
}

/** P(A) from two ratings: 0.5 + (a - b) / 8, so a 5 against a 1 is certain and equal ratings are a tie. */
export function ratingsProbability(a: number, b: number): number {
  return 0.5 + (a - b) / (2 * (RATING_SCALE.max - RATING_SCALE.min));
}

/**
 * The label of one ratings call. An answer that does not read as the asked JSON, even repaired,
 * is `unreadable` (p = 0.5, no preference), as a letter answer without a letter is: never a crash.
 */
export function ratingsLabel(
  result: { text: string; answer_mode?: 'prefill' | 'guided_choice' | 'json_schema' },
  options: readonly [string, string],
): ComparisonJudgement {
  const read = readRatings(result.text);
  const mode = result.answer_mode === 'json_schema' ? 'json_schema' : 'text';
  if (!read) {
    return {
      options: [options[0], options[1]],
      p_a: 0.5,
      label_source: 'unreadable',
      answer: null,
      top_logprobs: null,
      answer_mode: mode,
      answer_position: null,
    };
  }
  const { a, b } = read.ratings;
  return {
    options: [options[0], options[1]],
    p_a: ratingsProbability(a, b),
    label_source: 'ratings',
    answer: a > b ? 'A' : a < b ? 'B' : null,
    top_logprobs: null,
    answer_mode: mode,
    answer_position: null,
    ratings: { ...read.ratings },
    ...(read.repaired && { repaired: true }),
  };
}
