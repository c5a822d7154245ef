import { PROPOSE_OVERHEAD_CHARS, TEST_MAX_TOKENS, TEST_OVERHEAD_CHARS, type LabelledPair } from './prompts';

/** The usual rule of thumb for English with BPE tokenizers (the simulator counts the same way). */
const CHARS_PER_TOKEN = 4;
/** A candidate's comparison question, at most (readProposals cuts it at 1,000 characters). */
const QUESTION_CHARS = 1000;

const tokens = (chars: number) => Math.ceil(chars / CHARS_PER_TOKEN);

export interface SuggestionPlanSize {
  propose: { calls: number; prompt_tokens: number; completion_tokens: number };
  test: { calls: number; prompt_tokens: number; completion_tokens: number };
}

/**
 * Calls and tokens of a suggestion job before it starts, an upper bound: one propose call per pair
 * answering `max_tokens`; then every candidate that can survive merging (at most max_candidates,
 * and at most principles_per_pair per pair) tests every pair with its longest question.
 */
export function estimateSuggestions(
  pairs: readonly LabelledPair[],
  opts: { principles_per_pair: number; max_candidates: number; max_tokens: number },
): SuggestionPlanSize {
  const candidates = Math.min(opts.max_candidates, pairs.length * opts.principles_per_pair);
  let proposePrompt = 0;
  let testPrompt = 0;
  for (const p of pairs) {
    const pairChars = p.prompt.length + p.chosen.length + p.rejected.length;
    proposePrompt += tokens(PROPOSE_OVERHEAD_CHARS + pairChars);
    testPrompt += candidates * tokens(TEST_OVERHEAD_CHARS + QUESTION_CHARS + pairChars);
  }
  return {
    propose: { calls: pairs.length, prompt_tokens: proposePrompt, completion_tokens: pairs.length * opts.max_tokens },
    test: { calls: candidates * pairs.length, prompt_tokens: testPrompt, completion_tokens: candidates * pairs.length * TEST_MAX_TOKENS },
  };
}
