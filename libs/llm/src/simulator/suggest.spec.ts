import { proposeMessages, testMessages, textSimilarity } from '@amend/pipeline';
import { SUGGESTION_TRAITS, suggestionAnswer } from './suggest';

const first = <T>(options: readonly T[]) => options[0];

describe("the simulator's principle suggestions", () => {
  it("words each trait in near-duplicates that merge at 0.85, and two traits' questions never do", () => {
    for (const t of SUGGESTION_TRAITS) for (const q of t.questions) expect(textSimilarity(t.questions[0], q)).toBeGreaterThanOrEqual(0.85);
    for (const a of SUGGESTION_TRAITS)
      for (const b of SUGGESTION_TRAITS)
        if (a !== b) for (const qa of a.questions) for (const qb of b.questions) expect(textSimilarity(qa, qb)).toBeLessThan(0.85);
  });

  it('proposes the traits that prefer the preferred answer, or a fallback it cannot judge', () => {
    const ask = (chosen: string, rejected: string) => {
      const text = suggestionAnswer(proposeMessages({ id: 'x', prompt: 'q', chosen, rejected }, 3)[1].content, first);
      return JSON.parse(text as string).principles.map((p: { comparison: string }) => p.comparison);
    };
    expect(ask('According to the WHO, sleep seven hours.', 'Sleep seven hours, or maybe eight, or nine or ten or so.')).toEqual([
      'Which response cites a source for its claims?',
      'Which response is more concise?',
    ]);
    expect(ask('Water boils at one hundred degrees at sea level.', 'According to my cousin, water boils at 90 degrees.')).toEqual([
      'Which response is more accurate?',
    ]);
  });

  it('tests a question by its trait: the letter of the answer it prefers, (N) when it does not apply', () => {
    const test = (question: string, a: string, b: string) => suggestionAnswer(testMessages('q', question, a, b)[0].content, first);
    expect(test('Which response cites sources for its claims?', 'Paris.', 'According to Britannica, Paris.')).toBe('(B)');
    expect(test('Which response cites sources for its claims?', 'Paris.', 'Lyon.')).toBe('(N)');
    expect(test('Which response is more detailed?', 'Paris is the capital of France.', 'Paris.')).toBe('(A)');
    expect(test('Which response is more accurate?', 'Paris.', 'Lyon.')).toBe('(N)');
    expect(suggestionAnswer('Write a poem.', first)).toBeNull();
  });
});
