import { mergeProposals, rankCandidates, testOutcome, textSimilarity, type Candidate, type TestOutcome } from './rank';
import { readProposals, readVerdict, type LabelledPair } from './prompts';
import { estimateSuggestions } from './estimate';

const p = (comparison: string, pair: number) => ({ comparison, critique: `critique: ${comparison}`, revision: `revision: ${comparison}`, pair });

describe('merging near-duplicate proposals', () => {
  it('measures similarity on normalised text: case, punctuation and spacing do not count', () => {
    expect(textSimilarity('Which response is more concise?', 'which  response is MORE concise')).toBe(1);
    // "a source" -> "sources": 3 edits over 44 characters.
    expect(textSimilarity('Which response cites a source for its claims?', 'Which response cites sources for its claims?')).toBeCloseTo(1 - 3 / 44, 12);
  });

  it('joins paraphrases, keeps other questions apart, and words a group by its most frequent wording', () => {
    const merged = mergeProposals(
      [
        p('Which response is more concise?', 0),
        p('Which response cites sources for its claims?', 0),
        p('Which response cites a source for its claims?', 1),
        p('Which response cites a source for its claims?', 2),
        p('Which response is more detailed?', 2),
        p('Which response is the more concise?', 3),
      ],
      0.85,
      10,
    );
    expect(merged.map((c) => [c.principle.comparison, c.proposals, c.pairs])).toEqual([
      ['Which response cites a source for its claims?', 3, [0, 1, 2]],
      ['Which response is more concise?', 2, [0, 3]],
      ['Which response is more detailed?', 1, [2]],
    ]);
    expect(merged[0].variants).toEqual(['which response cites a source for its claims', 'which response cites sources for its claims']);
    expect(merged.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it('keeps the max most proposed', () => {
    const merged = mergeProposals([p('Which is kinder?', 0), p('Which cites sources?', 0), p('Which cites sources?', 1)], 0.85, 1);
    expect(merged.map((c) => c.principle.comparison)).toEqual(['Which cites sources?']);
  });
});

describe('ranking tested candidates', () => {
  const pairs: LabelledPair[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, prompt: `prompt ${id}`, chosen: `chosen ${id}`, rejected: `rejected ${id}` }));
  const candidate = (index: number, comparison: string): Candidate => ({
    index,
    principle: { comparison, critique: 'c', revision: 'r' },
    proposals: 1,
    pairs: [index],
    variants: [comparison],
  });
  const A: TestOutcome = 'agree';
  const D: TestOutcome = 'disagree';
  const N: TestOutcome = 'not_applicable';

  it('ranks by (agree - disagree) / pairs, so a rule right on one pair does not beat one that explains most', () => {
    const ranked = rankCandidates({
      candidates: [candidate(0, 'Which is narrow?'), candidate(1, 'Which is broad?'), candidate(2, 'Which is wrong?')],
      pairs,
      // narrow: 1 agree, 3 n/a; broad: 3 agree, 1 disagree; wrong: 1 agree, 3 disagree.
      outcomes: [
        [A, N, N, N],
        [A, A, D, A],
        [D, D, A, D],
      ],
      existing: [{ id: 'broadness', critique: 'x', revision: 'y', comparison: 'Which is broad?', tags: [], weight: 1 }],
    });
    // Worked by hand: broad 0.75 agreement, relevance 1, score (3-1)/4 = 0.5; narrow 1, 0.25, 0.25; wrong 0.25, 1, -0.5.
    expect(ranked.map((s) => [s.principle.comparison, s.agreement, s.relevance, s.score])).toEqual([
      ['Which is broad?', 0.75, 1, 0.5],
      ['Which is narrow?', 1, 0.25, 0.25],
      ['Which is wrong?', 0.25, 1, -0.5],
    ]);
    expect(ranked[0].explains).toEqual(['a', 'b', 'd']);
    expect(ranked[0].closest).toEqual({ id: 'broadness', similarity: 1 });
    // Its slug would be the existing id's neighbour, never the same id.
    expect(ranked.map((s) => s.principle.id)).toEqual(['broad', 'narrow', 'wrong']);
  });

  it('reads a verdict against the position of the chosen answer', () => {
    expect([testOutcome('A', true), testOutcome('A', false), testOutcome('B', false), testOutcome('N', true), testOutcome(null, true)]).toEqual([
      'agree',
      'disagree',
      'agree',
      'not_applicable',
      'unreadable',
    ]);
  });
});

describe('reading answers', () => {
  it('reads proposals from JSON wrapped in prose, dropping entries without a question', () => {
    const text =
      'Sure:\n```json\n{"principles": [{"comparison": "Which is kinder?"}, {"critique": "no question"}, {"comparison": " Which  cites? ", "critique": "c", "revision": "r"}]}\n```';
    expect(readProposals(text, 5)).toEqual([
      {
        comparison: 'Which is kinder?',
        critique: 'Identify ways in which the response falls short of this: Which is kinder?',
        revision: expect.stringContaining('Which is kinder?'),
      },
      { comparison: 'Which cites?', critique: 'c', revision: 'r' },
    ]);
    expect(readProposals('no json here', 3)).toEqual([]);
    expect(readProposals('{"principles": "nope"}', 3)).toEqual([]);
  });

  it('reads the letter of a test answer', () => {
    expect(['(A)', 'B', 'The answer is: (N)', ' (b) because', 'Neither', 'Both are fine'].map(readVerdict)).toEqual(['A', 'B', 'N', 'B', null, null]);
  });

  it('estimates one propose call a pair and at most min(max_candidates, pairs x per pair) tests a pair', () => {
    const size = estimateSuggestions([{ id: 'x', prompt: 'p', chosen: 'c', rejected: 'r' }], { principles_per_pair: 2, max_candidates: 10, max_tokens: 100 });
    expect(size.propose.calls).toBe(1);
    expect(size.test.calls).toBe(2);
    expect(size.propose.completion_tokens).toBe(100);
  });
});
