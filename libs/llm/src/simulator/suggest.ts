import { PROPOSE_OPENING, TEST_OPENING } from '@amend/pipeline';
import type { Pick } from './texts';

/*
 * The simulator as the model of principle suggestions (libs/pipeline suggestions/): it knows four
 * traits an answer can have, each readable from the text alone, and answers the propose and test
 * requests by them, so that a seeded set of pairs has a known right principle and its figures can
 * be worked out by hand (test/suggestions.spec.ts does).
 *
 * - sources: the answer names a source ("according to", "source:", a URL). Applies when exactly one
 *   of the two does; prefers that one.
 * - concise: applies when one answer has at least 1.5 times the words of the other; prefers the shorter.
 * - encouraging: the answer encourages ("you can do it", "well done", "keep going", "good luck").
 *   Applies when exactly one does; prefers that one.
 * - detailed: applies as concise does; prefers the longer.
 *
 * Propose: every trait that applies to the pair and prefers the preferred answer, in that order,
 * worded by one of its phrasings (picked by the request's hash, so merging has near-duplicates to
 * merge); when none does, "Which response is more accurate?", which the simulator cannot judge.
 * Test: the trait the question names; (N) when it does not apply (or the question names none),
 * else the letter of the answer it prefers. No noise: a test's verdict is the trait's rule.
 */

interface Trait {
  key: string;
  /** Phrasings of its comparison question: near-duplicates, which merge at the default merge_similarity (0.85). */
  questions: readonly string[];
  critique: string;
  revision: string;
  /** Whether a comparison question is about this trait. */
  names: RegExp;
  /** null: the trait does not tell the two apart; else whether it prefers the first. */
  prefersFirst(a: string, b: string): boolean | null;
}

const words = (t: string) => t.split(/\s+/).filter(Boolean).length;
const cites = (t: string) => /according to|\bsource:|https?:\/\//i.test(t);
const encourages = (t: string) => /you can do it|well done|keep going|good luck/i.test(t);
const lengthApart = (a: string, b: string) => Math.max(words(a), words(b)) >= 1.5 * Math.min(words(a), words(b));
const exactlyOne = (has: (t: string) => boolean) => (a: string, b: string) => (has(a) === has(b) ? null : has(a));

export const SUGGESTION_TRAITS: readonly Trait[] = [
  {
    key: 'sources',
    questions: [
      'Which response cites a source for its claims?',
      'Which response cites sources for its claims?',
      'Which response cites a source for its claim?',
    ],
    critique: 'Identify the claims in the response that are not backed by a named source.',
    revision: 'Rewrite the response to name a source for each factual claim.',
    names: /\bcites?\b|\bsources?\b/i,
    prefersFirst: exactlyOne(cites),
  },
  {
    key: 'concise',
    questions: ['Which response is more concise?', 'Which response is the more concise?'],
    critique: 'Identify the parts of the response that are longer than they need to be.',
    revision: 'Rewrite the response to say the same in fewer words.',
    names: /concise/i,
    prefersFirst: (a, b) => (lengthApart(a, b) ? words(a) < words(b) : null),
  },
  {
    key: 'encouraging',
    questions: ['Which response is more encouraging to the person?', 'Which response is more encouraging to the user?'],
    critique: 'Identify where the response could encourage the person more.',
    revision: 'Rewrite the response to encourage the person.',
    names: /encourag/i,
    prefersFirst: exactlyOne(encourages),
  },
  {
    key: 'detailed',
    questions: ['Which response is more detailed?', 'Which response is the more detailed?'],
    critique: 'Identify what the response leaves out that the person would want to know.',
    revision: 'Rewrite the response to give the detail it lacks.',
    names: /detail/i,
    prefersFirst: (a, b) => (lengthApart(a, b) ? words(a) > words(b) : null),
  },
];

const FALLBACK = {
  comparison: 'Which response is more accurate?',
  critique: 'Identify anything inaccurate in the response.',
  revision: 'Rewrite the response to correct anything inaccurate.',
};

const between = (text: string, open: string, close: string): string | null => {
  const start = text.indexOf(`\n${open}\n`);
  const end = text.indexOf(`\n${close}`, start + 1);
  return start < 0 || end < 0 ? null : text.slice(start + open.length + 2, end);
};

/** The simulator's answer to a suggestion request, or null when `lastUser` is not one. */
export function suggestionAnswer(lastUser: string, pick: Pick): string | null {
  if (lastUser.startsWith(`${PROPOSE_OPENING}\n`)) {
    const chosen = between(lastUser, '<preferred>', '</preferred>');
    const rejected = between(lastUser, '<other>', '</other>');
    const perPair = Number(/up to (\d+) principles/.exec(lastUser)?.[1] ?? 3);
    if (chosen === null || rejected === null) return '{"principles": []}';
    const principles = SUGGESTION_TRAITS.filter((t) => t.prefersFirst(chosen, rejected) === true).map((t) => ({
      comparison: pick(t.questions, `suggest:${t.key}`),
      critique: t.critique,
      revision: t.revision,
    }));
    return JSON.stringify({ principles: (principles.length ? principles : [FALLBACK]).slice(0, perPair) });
  }
  if (lastUser.startsWith(`${TEST_OPENING}\n`)) {
    const lines = lastUser.split('\n');
    const na = lines.findIndex((l) => l.startsWith('If the question does not apply'));
    const options = lastUser.indexOf('\nOptions:\n(A) ');
    const b = lastUser.lastIndexOf('\n(B) ');
    const last = lastUser.lastIndexOf('\n');
    if (na < 1 || options < 0 || b < options || last <= b) return '(N)';
    const question = lines[na - 1];
    const a = lastUser.slice(options + '\nOptions:\n(A) '.length, b);
    const bText = lastUser.slice(b + '\n(B) '.length, last);
    const trait = SUGGESTION_TRAITS.find((t) => t.names.test(question));
    const first = trait?.prefersFirst(a, bText) ?? null;
    return first === null ? '(N)' : first ? '(A)' : '(B)';
  }
  return null;
}
