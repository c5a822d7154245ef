import type { Budget, EvaluationEstimate, JudgeDimension } from '@amend/contracts';
import { judgedDimensions } from './dimensions';
import { RATINGS_INSTRUCTION, RATINGS_MAX_TOKENS } from '../feedback/ratings';

/** The usual rule of thumb for English with BPE tokenizers (the simulator counts the same way). */
const CHARS_PER_TOKEN = 4;
/** The comparison prompt's fixed text around the prompt, the question and the two answers. */
const COMPARISON_OVERHEAD_CHARS = 160;

export interface EstimateInput {
  prompts: { prompt: string; metadata?: Record<string, unknown> | null }[];
  rounds: number;
  max_tokens: number;
  /** Characters of each constitution's opening before the prompt: system message and few-shot examples. */
  opening_chars: { baseline: number; candidate: number };
  /** Characters of each constitution's longest critique or revision request. */
  request_chars: { baseline: number; candidate: number };
  budget: Budget | null;
  /** The judge's dimensions when not the rubric's. */
  dimensions?: readonly JudgeDimension[] | null;
  /** The candidate makes its own draft (the arms differ in model or sampling) instead of sharing the baseline's. */
  own_draft?: boolean;
  /** Judges each comparison is asked of (a panel's size); 1 when absent. */
  judges?: number;
  /** The ratings judge: each judge call answers JSON of up to RATINGS_MAX_TOKENS, not one token. */
  ratings?: boolean;
}

const tokens = (chars: number) => Math.ceil(chars / CHARS_PER_TOKEN);

/**
 * Calls (exact) and tokens (an upper bound: every answer as long as max_tokens allows) of an
 * evaluation, before it starts. Each call of a critique-revise sample resends the conversation so
 * far, so tokens grow with rounds: call i costs the conversation before it plus max_tokens.
 */
export function estimateEvaluation(input: EstimateInput): EvaluationEstimate {
  const m = input.max_tokens;
  const policyTokens = (opening: number, request: number, prompt: string, skipDraft: boolean) => {
    let context = tokens(opening + prompt.length);
    let total = 0;
    for (let call = 0; call <= 2 * input.rounds; call++) {
      if (!(skipDraft && call === 0)) total += context + m;
      context += m + tokens(request);
    }
    return total;
  };
  let total = 0;
  let calls = 0;
  let redTeam = 0;
  const own = input.own_draft === true;
  const custom = input.dimensions ?? null;
  // Custom dimensions are asked of every prompt; the rubric's over-refusal of benign ones only.
  const judges = input.judges ?? 1;
  const judgeCalls = (benign: boolean) => 2 * (custom ? custom.length : benign ? 7 : 6) * judges;
  // A letter judge answers one token; the ratings judge up to RATINGS_MAX_TOKENS after its longer instruction.
  const answerTokens = input.ratings ? RATINGS_MAX_TOKENS : 1;
  const instructionChars = input.ratings ? RATINGS_INSTRUCTION.length : 0;
  for (const p of input.prompts) {
    const dims = judgedDimensions(custom, p.prompt, p.metadata);
    const benign = judgedDimensions(null, p.prompt, p.metadata).length === 7;
    if (!benign) redTeam++;
    const judge =
      judges *
      dims.reduce((s, d) => s + 2 * (tokens(COMPARISON_OVERHEAD_CHARS + instructionChars + p.prompt.length + d.question.length) + 2 * m + answerTokens), 0);
    total +=
      policyTokens(input.opening_chars.baseline, input.request_chars.baseline, p.prompt, false) +
      policyTokens(input.opening_chars.candidate, input.request_chars.candidate, p.prompt, !own) +
      judge;
    calls += 1 + 2 * input.rounds + (own ? 1 : 0) + 2 * input.rounds + 2 * dims.length * judges;
  }
  const n = input.prompts.length;
  return {
    prompts: n,
    red_team: redTeam,
    benign: n - redTeam,
    calls_per_prompt: {
      baseline: 1 + 2 * input.rounds,
      candidate: (own ? 1 : 0) + 2 * input.rounds,
      judge_benign: judgeCalls(true),
      judge_red_team: judgeCalls(false),
    },
    calls,
    tokens_per_prompt: n ? Math.ceil(total / n) : 0,
    tokens: total,
    budget_per_run: input.budget,
  };
}
