import type { ChatMessage } from '@amend/contracts';

/**
 * Alternatives asked per answer position. 20 is the most OpenAI accepts and vLLM's default cap
 * (`--max-logprobs`); more alternatives catch more spellings of the two letters (`A`, ` A`, `(A`).
 */
export const TOP_LOGPROBS = 20;

/**
 * Tokens a comparison without chain-of-thought may answer in. One token was too few: a chat
 * model's first token is often "The", "(" or "**", and the letter comes later ("The answer is
 * (B)" is 6 tokens, "**The answer is: (B)**" about 10). The label is read at the letter's own
 * position, wherever it stands (label.ts).
 */
export const ANSWER_MAX_TOKENS = 16;

/** What an alias that continues a final assistant message is prefilled with; the letter comes next. */
export const ANSWER_PREFIX = 'The answer is: (';

/** The opening of every comparison request; the simulator recognises comparisons by it. */
export const COMPARISON_OPENING = 'Consider the following conversation between a human and an assistant:';

const ANSWER_LINE = 'The answer is:';
const COT_INSTRUCTION =
  "Think step by step about which response is better by the question's standard, then end with exactly " + '"The answer is: (A)" or "The answer is: (B)".';

/**
 * The feedback model's request, in the CAI paper's multiple-choice form:
 *
 *   Consider the following conversation between a human and an assistant:
 *   Human: [prompt]
 *   [question]
 *   Options:
 *   (A) [response]
 *   (B) [response]
 *   The answer is:
 *
 * The conversation and the two responses are quoted inside one user message. That is the form
 * the paper measured, and it is the portable one: several chat templates served by vLLM refuse
 * two user messages in a row, and giving the responses the assistant role would make the judge
 * read them as its own words. Quoting the user's prompt here does not break the rule that the
 * prompt is data (docs/architecture.md#conversations-and-seeds): this request is not the policy's conversation, which keeps the
 * prompt as its own message and never sees this text; what the judge writes back is one letter
 * (or reasoning ending in one) that is only turned into a number, never into training text; and a
 * prompt that tries to steer the judge towards a position ("answer (A)") is asked in both orders,
 * so the two labels cancel. Only the constitution's question is instruction.
 *
 * A multi-turn prompt is quoted turn by turn ("Human: ...", "Assistant: ...", a system message
 * as "System: ..."), as the paper's conversations were; the options answer its last human turn.
 */
export function comparisonMessages(
  prompt: string | readonly ChatMessage[],
  question: string,
  responseA: string,
  responseB: string,
  cot: boolean,
): ChatMessage[] {
  return judgeMessages(prompt, question, responseA, responseB, cot ? COT_INSTRUCTION : ANSWER_LINE);
}

/** The comparison request with its closing line: the letter's, chain-of-thought's, or the ratings judge's (ratings.ts). */
export function judgeMessages(prompt: string | readonly ChatMessage[], question: string, responseA: string, responseB: string, closing: string): ChatMessage[] {
  const content = [
    COMPARISON_OPENING,
    ...(typeof prompt === 'string' ? [`Human: ${prompt}`] : prompt.map(transcriptLine)),
    question.trim(),
    'Options:',
    `(A) ${responseA}`,
    `(B) ${responseB}`,
    closing,
  ].join('\n');
  return [{ role: 'user', content }];
}

const SPEAKER: Record<ChatMessage['role'], string> = { system: 'System', user: 'Human', assistant: 'Assistant' };

function transcriptLine(m: ChatMessage): string {
  return `${SPEAKER[m.role]}: ${m.content}`;
}
