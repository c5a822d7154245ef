import { createHash } from 'node:crypto';
import type { Principle } from '@amend/constitution';
import { samplePrinciple } from './principle-sampler';

const p = (id: string, weight = 1): Principle => ({ id, critique: `c ${id}`, revision: `r ${id}`, tags: [], weight });

function frequencies(principles: Principle[], draws: (i: number) => Principle, n: number): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(principles.map((q) => [q.id, 0]));
  for (let i = 0; i < n; i++) counts[draws(i).id]++;
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n]));
}

describe('principle sampling', () => {
  const four = [p('a'), p('b'), p('c'), p('d')];

  it('gives the same principle for the same seed, sample and round, on every call', () => {
    for (let i = 0; i < 50; i++) {
      const first = samplePrinciple(four, 7, i, 2);
      expect(samplePrinciple(four, 7, i, 2)).toBe(first);
    }
  });

  it('draws from sha256 of "seed:sampleIndex:round" as a uniform number, so runs reproduce outside Amend', () => {
    for (let i = 0; i < 20; i++) {
      const u = createHash('sha256').update(`7:${i}:1`).digest().readUIntBE(0, 6) / 2 ** 48;
      expect(samplePrinciple(four, 7, i, 1).id).toBe(four[Math.floor(u * 4)].id);
    }
  });

  it('follows the weights over 10,000 draws', () => {
    const weighted = [p('a', 1), p('b', 2), p('c', 3), p('d', 4)];
    const f = frequencies(weighted, (i) => samplePrinciple(weighted, 1234, i, 1), 10_000);
    // Binomial sd at n = 10,000 is at most 0.5 percentage points; 2 points is four sd.
    expect(Math.abs(f.a - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(f.b - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(f.c - 0.3)).toBeLessThan(0.02);
    expect(Math.abs(f.d - 0.4)).toBeLessThan(0.02);
  });

  it('spreads the rounds of one sample over the principles as well as the samples of a run', () => {
    const f = frequencies(four, (i) => samplePrinciple(four, 99, 0, i + 1), 10_000);
    for (const id of ['a', 'b', 'c', 'd']) expect(Math.abs(f[id] - 0.25)).toBeLessThan(0.02);
    // Rounds are independent: two rounds agree about as often as chance (1/4), not always.
    let same = 0;
    for (let i = 0; i < 4000; i++) {
      if (samplePrinciple(four, 99, i, 1) === samplePrinciple(four, 99, i, 2)) same++;
    }
    expect(Math.abs(same / 4000 - 0.25)).toBeLessThan(0.03);
  });

  it('gives a different sequence for a different run seed', () => {
    const seq = (seed: number) => Array.from({ length: 40 }, (_, i) => samplePrinciple(four, seed, i, 1).id);
    expect(seq(1)).not.toEqual(seq(2));
    expect(seq(1)).toEqual(seq(1));
  });

  it('always returns the only principle of a one-principle constitution', () => {
    expect(samplePrinciple([p('only')], 5, 1, 3).id).toBe('only');
  });

  it('refuses an empty list of principles', () => {
    expect(() => samplePrinciple([], 1, 1, 1)).toThrow(/empty/);
  });
});
