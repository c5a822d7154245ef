import type { ChatMessage } from '@amend/contracts';

/*
 * The two requests of principle suggestions (after Inverse Constitutional AI, Findeis et al.,
 * ICLR 2025): propose principles that explain one labelled pair, and test one candidate principle
 * as a judge of one pair. Both quote the pair inside one user message, as the comparison judge
 * does (feedback/comparison-prompt.ts says why that keeps the prompt as data): what comes back
 * is parsed into principles or one letter, never into training text.
 */

/** The first line of a propose request; the simulator recognises the request by it. */
export const PROPOSE_OPENING = 'Amend principle discovery: propose principles.';
/** The first line of a test request; the simulator recognises the request by it. */
export const TEST_OPENING = 'Amend principle test: apply one principle to two responses.';

/** A test answer is one letter: (A), (B) or (N) for "the principle does not apply". */
export const TEST_MAX_TOKENS = 16;

const PROPOSE_SYSTEM =
  'You help a policy author find the principles behind human preferences. A principle is a rule a judge could apply to any pair of answers, not a remark about one pair.';

/** One pair as the requests quote it: which answer the person preferred is what the principles explain. */
export interface LabelledPair {
  /** The pair's id: the run's pair id, the file's id, or `line-N`. */
  id: string;
  prompt: string;
  chosen: string;
  rejected: string;
}

export function proposeMessages(pair: LabelledPair, perPair: number): ChatMessage[] {
  const content = [
    PROPOSE_OPENING,
    `A person compared two answers to the same prompt and preferred the first. Propose up to ${perPair} principles that explain why.`,
    'Each principle has a comparison question a judge can answer for any two answers ("Which response ...?"), a critique request',
    '("Identify ways in which the response ...") and a revision request ("Rewrite the response to ...").',
    'Answer with JSON only: {"principles": [{"comparison": "...", "critique": "...", "revision": "..."}]}',
    '<prompt>',
    pair.prompt,
    '</prompt>',
    '<preferred>',
    pair.chosen,
    '</preferred>',
    '<other>',
    pair.rejected,
    '</other>',
  ].join('\n');
  return [
    { role: 'system', content: PROPOSE_SYSTEM },
    { role: 'user', content },
  ];
}

/** The fixed characters of a propose request around the pair (for the estimate). */
export const PROPOSE_OVERHEAD_CHARS = PROPOSE_SYSTEM.length + 620;
/** The fixed characters of a test request around the pair and the question (for the estimate). */
export const TEST_OVERHEAD_CHARS = 300;

export interface ProposedPrinciple {
  comparison: string;
  critique: string;
  revision: string;
}

const clean = (v: unknown, max = 1000): string | null => (typeof v === 'string' && v.trim().length > 0 ? v.replace(/\s+/g, ' ').trim().slice(0, max) : null);

/**
 * The principles of a propose answer: the JSON object in the text (a model may wrap it in prose
 * or a code fence), entries without a comparison question dropped, at most `perPair`. A missing
 * critique or revision is made from the question, so every candidate can be a principle.
 */
export function readProposals(text: string, perPair: number): ProposedPrinciple[] {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(start, end + 1));
  } catch {
    return [];
  }
  const list = (parsed as { principles?: unknown } | null)?.principles;
  if (!Array.isArray(list)) return [];
  const out: ProposedPrinciple[] = [];
  for (const entry of list) {
    if (out.length >= perPair) break;
    const e = (entry ?? {}) as Record<string, unknown>;
    const comparison = clean(e.comparison);
    if (!comparison) continue;
    out.push({
      comparison,
      critique: clean(e.critique) ?? `Identify ways in which the response falls short of this: ${comparison}`,
      revision: clean(e.revision) ?? `Rewrite the response so that it would be the better answer to: ${comparison}`,
    });
  }
  return out;
}

/**
 * The judge's request for one candidate and one pair: the candidate's comparison question over the
 * two answers in the order given, with (N) for a question that does not tell them apart.
 */
export function testMessages(prompt: string, question: string, responseA: string, responseB: string): ChatMessage[] {
  const content = [
    TEST_OPENING,
    `Human: ${prompt}`,
    question.trim(),
    'If the question does not apply to these two responses, or neither is better by its standard, answer (N).',
    'Options:',
    `(A) ${responseA}`,
    `(B) ${responseB}`,
    'The answer is:',
  ].join('\n');
  return [{ role: 'user', content }];
}

export type TestVerdict = 'A' | 'B' | 'N';

/** The letter of a test answer ("(B)", "B", "The answer is: (N)"), or null when there is none. */
export function readVerdict(text: string): TestVerdict | null {
  const t = text.trim();
  // A letter in parentheses in any case; a bare one only as a capital on its own ("A", not "a response").
  const stated = /answer is:?\s*\(?([ABN])\)?(?![A-Za-z])/i.exec(t) ?? /^\(([ABN])\)/i.exec(t) ?? /^([ABN])(?![A-Za-z])/.exec(t);
  return stated ? (stated[1].toUpperCase() as TestVerdict) : null;
}
