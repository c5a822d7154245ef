import type { ComparisonJudgement, PairJudgement, StageRecord } from '@amend/contracts';
import { PipelineError } from '../errors';
import { bothOrders, mean } from './label';
import type { ComparisonSlot } from './schedule';

/** A comparison record with the slot it filled. */
export interface AskedComparison {
  slot: ComparisonSlot;
  record: StageRecord & { judgement: ComparisonJudgement };
}

export function asked(slots: readonly ComparisonSlot[], records: readonly StageRecord[]): AskedComparison[] {
  if (slots.length !== records.length) {
    throw new PipelineError('incomplete_records', `${records.length} comparison records for ${slots.length} comparisons`);
  }
  return records.map((record, i) => {
    if (record.stage !== 'comparison' || !record.judgement) {
      throw new PipelineError('inconsistent_records', `stage record seq ${record.seq} should be a comparison with its judgement`);
    }
    return { slot: slots[i], record: record as AskedComparison['record'] };
  });
}

/**
 * P(option x beats option y) for every pair of options: both orders averaged per ensemble
 * principle, then the ensemble averaged. `wins[x][y] + wins[y][x] = 1`; the diagonal is 0.5.
 */
export function winMatrix(options: number, comparisons: readonly AskedComparison[]): number[][] {
  const wins = Array.from({ length: options }, () => Array<number>(options).fill(0.5));
  const byPair = new Map<string, AskedComparison[]>();
  for (const c of comparisons) {
    const key = `${c.slot.x}:${c.slot.y}`;
    byPair.set(key, [...(byPair.get(key) ?? []), c]);
  }
  for (const [key, list] of byPair) {
    const [x, y] = key.split(':').map(Number);
    const perPrinciple: number[] = [];
    for (const k of [...new Set(list.map((c) => c.slot.k))]) {
      const xFirst = list.find((c) => c.slot.k === k && c.slot.xFirst);
      const yFirst = list.find((c) => c.slot.k === k && !c.slot.xFirst);
      if (!xFirst || !yFirst) throw new PipelineError('incomplete_records', `comparison ${key} draw ${k} lacks an order`);
      perPrinciple.push(bothOrders(xFirst.record.judgement.p_a, yFirst.record.judgement.p_a));
    }
    wins[x][y] = mean(perPrinciple);
    wins[y][x] = 1 - wins[x][y];
  }
  return wins;
}

/** A candidate's score: its mean probability of beating each other candidate (UltraFeedback-style). */
export function scores(wins: number[][]): number[] {
  return wins.map((row, x) => (row.length > 1 ? mean(row.filter((_, y) => y !== x)) : 0.5));
}

/**
 * The judgement of `chosen` over `rejected` from their direct comparisons, as pair metadata:
 * the probability, each order averaged over the ensemble, the margin and every call's label.
 */
export function pairJudgement(
  kind: PairJudgement['kind'],
  chosen: number,
  rejected: number,
  comparisons: readonly AskedComparison[],
  principleIds: string[],
  cot: boolean,
): PairJudgement {
  const [x, y] = chosen < rejected ? [chosen, rejected] : [rejected, chosen];
  const direct = comparisons.filter((c) => c.slot.x === x && c.slot.y === y);
  // P(chosen better) read off each call: p_a where chosen was (A), 1 - p_a where it was (B).
  const chosenShownFirst = (c: AskedComparison) => (c.slot.xFirst ? c.slot.x : c.slot.y) === chosen;
  const first = direct.filter(chosenShownFirst).map((c) => c.record.judgement.p_a);
  const second = direct.filter((c) => !chosenShownFirst(c)).map((c) => 1 - c.record.judgement.p_a);
  const pChosen = mean([...first, ...second]);
  return {
    p_chosen: pChosen,
    // The weakest label behind it: one unreadable answer makes the pair's label unreadable-backed.
    label_source: direct.some((c) => c.record.judgement.label_source === 'unreadable')
      ? 'unreadable'
      : direct.some((c) => c.record.judgement.label_source === 'hard')
        ? 'hard'
        : 'logprobs',
    kind,
    principle_ids: principleIds,
    orders: { chosen_first: mean(first), chosen_second: mean(second) },
    margin: 2 * pChosen - 1,
    chain_of_thought: cot,
    comparisons: direct.map((c) => ({
      principle_id: c.record.principle_id as string,
      a: c.record.judgement.options[0],
      b: c.record.judgement.options[1],
      p_a: c.record.judgement.p_a,
      label_source: c.record.judgement.label_source,
    })),
  };
}
