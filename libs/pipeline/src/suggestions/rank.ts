import { distance } from 'fastest-levenshtein';
import type { Principle } from '@amend/constitution';
import type { Suggestion } from '@amend/contracts';
import { uniformFromKey } from '../seeded';
import type { LabelledPair, ProposedPrinciple, TestVerdict } from './prompts';

/** Lower case, punctuation dropped, whitespace runs collapsed: what near-duplicates are compared on. */
export function normaliseQuestion(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** 1 - edit distance / the longer length, of the normalised texts: 1 for equal texts, 0 for nothing in common. */
export function textSimilarity(a: string, b: string): number {
  const x = normaliseQuestion(a);
  const y = normaliseQuestion(b);
  const longer = Math.max(x.length, y.length);
  return longer === 0 ? 1 : 1 - distance(x, y) / longer;
}

/** One proposal as made: which pair proposed it and its place in that answer. */
export interface Proposal extends ProposedPrinciple {
  pair: number;
}

/** A candidate principle: merged near-duplicate proposals. */
export interface Candidate {
  /** Its position among the candidates tested (the test calls are planned by it). */
  index: number;
  principle: ProposedPrinciple;
  /** Every proposal merged into it. */
  proposals: number;
  /** The pairs that proposed it, ascending. */
  pairs: number[];
  /** Its distinct wordings (normalised), most frequent first. */
  variants: string[];
}

/**
 * Merges near-duplicate proposals and keeps the `max` most proposed. Deterministic: proposals are
 * taken in (pair, position) order and each joins the first group whose first wording is at least
 * `similarity` close (leader clustering); a group is worded by its most frequent normalised
 * question (ties: the earliest), with that proposal's critique and revision. Groups rank by
 * proposals, then by the pairs that proposed them, then by first appearance.
 */
export function mergeProposals(proposals: readonly Proposal[], similarity: number, max: number): Candidate[] {
  const groups: { leader: string; members: Proposal[]; first: number }[] = [];
  proposals.forEach((p, order) => {
    const norm = normaliseQuestion(p.comparison);
    const group = groups.find((g) => textSimilarity(g.leader, norm) >= similarity);
    if (group) group.members.push(p);
    else groups.push({ leader: norm, members: [p], first: order });
  });
  const ranked = groups
    .map((g) => {
      const counts = new Map<string, { n: number; first: Proposal }>();
      for (const m of g.members) {
        const key = normaliseQuestion(m.comparison);
        const c = counts.get(key);
        if (c) c.n++;
        else counts.set(key, { n: 1, first: m });
      }
      // Map order is first appearance, and sort is stable: ties keep the earliest wording.
      const wordings = [...counts.entries()].sort((a, b) => b[1].n - a[1].n);
      const best = wordings[0][1].first;
      return {
        principle: { comparison: best.comparison, critique: best.critique, revision: best.revision },
        proposals: g.members.length,
        pairs: [...new Set(g.members.map((m) => m.pair))].sort((a, b) => a - b),
        variants: wordings.map(([w]) => w),
        first: g.first,
      };
    })
    .sort((a, b) => b.proposals - a.proposals || b.pairs.length - a.pairs.length || a.first - b.first)
    .slice(0, max);
  return ranked.map(({ first: _first, ...c }, index) => ({ index, ...c }));
}

/**
 * Whether the chosen answer is shown as (A) in the test of `candidate` on `pair`: a coin drawn from
 * the job's seed, so a judge's lean towards one position spreads over agree and disagree alike.
 */
export function chosenFirst(seed: number, pair: number, candidate: number): boolean {
  return uniformFromKey(`${seed}:suggestion-test:${pair}:${candidate}`) < 0.5;
}

/** What one test says of the label: the letter read back against the position of the chosen answer. */
export type TestOutcome = 'agree' | 'disagree' | 'not_applicable' | 'unreadable';

export function testOutcome(verdict: TestVerdict | null, chosenIsA: boolean): TestOutcome {
  if (verdict === null) return 'unreadable';
  if (verdict === 'N') return 'not_applicable';
  return (verdict === 'A') === chosenIsA ? 'agree' : 'disagree';
}

const EXAMPLES = 3;
const EXAMPLE_CHARS = 500;

/** A lowercase slug for a principle id from its question, without the words every question shares. */
export function principleId(question: string): string {
  const filler = new Set([
    'which',
    'of',
    'the',
    'two',
    'response',
    'responses',
    'answer',
    'answers',
    'is',
    'more',
    'a',
    'an',
    'does',
    'better',
    'that',
    'its',
    'for',
  ]);
  const words = normaliseQuestion(question)
    .split(' ')
    .map((w) => w.normalize('NFKD').replace(/[^a-z0-9]/g, ''))
    .filter((w) => w && !filler.has(w));
  return words.slice(0, 4).join('-') || 'suggested';
}

/**
 * Scores and ranks the tested candidates. For each: agree, disagree, not applicable, unreadable
 * over the pairs; agreement = agree / (agree + disagree) (0 when it never applies); relevance =
 * (agree + disagree) / pairs; score = (agree - disagree) / pairs, what it explains net of what it
 * contradicts over the whole set, so a rule that is right on the few pairs it touches does not
 * outrank one that explains most of them. Ties: agreement, then relevance, then proposals, then
 * candidate order. Each suggestion names the constitution's principle closest to it.
 */
export function rankCandidates(args: {
  candidates: readonly Candidate[];
  pairs: readonly LabelledPair[];
  /** outcomes[candidate][pair] */
  outcomes: readonly (readonly TestOutcome[])[];
  existing: readonly Principle[];
}): Suggestion[] {
  const n = args.pairs.length;
  const taken = new Set(args.existing.map((p) => p.id));
  const scored = args.candidates.map((c) => {
    const row = args.outcomes[c.index] ?? [];
    const votes = { agree: 0, disagree: 0, not_applicable: 0, unreadable: 0 };
    const explains: number[] = [];
    row.forEach((o, pair) => {
      votes[o]++;
      if (o === 'agree') explains.push(pair);
    });
    const applicable = votes.agree + votes.disagree;
    return {
      c,
      votes,
      explains,
      agreement: applicable === 0 ? 0 : votes.agree / applicable,
      relevance: n === 0 ? 0 : applicable / n,
      score: n === 0 ? 0 : (votes.agree - votes.disagree) / n,
    };
  });
  scored.sort((a, b) => b.score - a.score || b.agreement - a.agreement || b.relevance - a.relevance || b.c.proposals - a.c.proposals || a.c.index - b.c.index);
  return scored.map((s, i) => {
    let id = principleId(s.c.principle.comparison);
    for (let k = 2; taken.has(id); k++) id = `${principleId(s.c.principle.comparison)}-${k}`;
    taken.add(id);
    return {
      rank: i + 1,
      principle: { id, ...s.c.principle },
      agreement: s.agreement,
      relevance: s.relevance,
      score: s.score,
      votes: s.votes,
      proposals: s.c.proposals,
      variants: s.c.variants,
      explains: s.explains.map((p) => args.pairs[p].id),
      examples: s.explains.slice(0, EXAMPLES).map((p) => {
        const pair = args.pairs[p];
        const cut = (t: string) => (t.length > EXAMPLE_CHARS ? `${t.slice(0, EXAMPLE_CHARS)}…` : t);
        return { pair: pair.id, prompt: cut(pair.prompt), chosen: cut(pair.chosen), rejected: cut(pair.rejected) };
      }),
      closest: closestPrinciple(s.c.principle, args.existing),
    };
  });
}

/** The existing principle most like a candidate: question against question (or critique, for a principle without one). */
export function closestPrinciple(candidate: ProposedPrinciple, existing: readonly Principle[]): { id: string; similarity: number } | null {
  let best: { id: string; similarity: number } | null = null;
  for (const p of existing) {
    const similarity = p.comparison ? textSimilarity(candidate.comparison, p.comparison) : textSimilarity(candidate.critique, p.critique);
    if (!best || similarity > best.similarity) best = { id: p.id, similarity: Math.round(similarity * 1000) / 1000 };
  }
  return best;
}
