import { RATING_SCALE, type ComparisonJudgement, type LabelSource, type PairJudgement, type StageRecord } from '@amend/contracts';
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

/**
 * The win matrix of a panel of `judges`: each judge's own matrix (winMatrix over its comparisons),
 * then per pair of options the mean of the judges' probabilities, or, when any comparison of the
 * pair got a hard label, the share of judges that prefer x (majority; a tie counts half). With one
 * judge it is that judge's matrix.
 */
export function panelWinMatrix(options: number, comparisons: readonly AskedComparison[], judges: number): number[][] {
  if (judges <= 1) return winMatrix(options, comparisons);
  const perJudge = Array.from({ length: judges }, (_, j) =>
    winMatrix(
      options,
      comparisons.filter((c) => c.slot.j === j),
    ),
  );
  const wins = Array.from({ length: options }, () => Array<number>(options).fill(0.5));
  for (let x = 0; x < options; x++) {
    for (let y = x + 1; y < options; y++) {
      const hard = comparisons.some((c) => c.slot.x === x && c.slot.y === y && c.record.judgement.label_source === 'hard');
      wins[x][y] = aggregate(
        perJudge.map((w) => w[x][y]),
        hard,
      );
      wins[y][x] = 1 - wins[x][y];
    }
  }
  return wins;
}

/** The panel's probability from its judges': their mean (soft labels, ratings), or the majority share of hard ones. */
export function aggregate(ps: readonly number[], hard: boolean): number {
  return hard ? mean(ps.map((p) => (p > 0.5 ? 1 : p < 0.5 ? 0 : 0.5))) : mean(ps);
}

/**
 * The ratings judge: each option's mean 1-5 rating over every comparison it was in (every
 * principle and order), per judge, then the mean over the judges that rated it. An option no
 * rating could be read for gets the scale's midpoint, 3: no information either way.
 */
export function meanRatings(options: number, comparisons: readonly AskedComparison[], judges: number): number[] {
  const midpoint = (RATING_SCALE.min + RATING_SCALE.max) / 2;
  const perJudge = Array.from({ length: Math.max(judges, 1) }, (_, j) =>
    optionRatings(
      options,
      comparisons.filter((c) => c.slot.j === j),
    ),
  );
  return Array.from({ length: options }, (_, i) => {
    const rated = perJudge.map((r) => r[i]).filter((r): r is number => r !== null);
    return rated.length > 0 ? mean(rated) : midpoint;
  });
}

/** Each option's mean rating over these comparisons, null where none could be read. */
function optionRatings(options: number, comparisons: readonly AskedComparison[]): (number | null)[] {
  return Array.from({ length: options }, (_, i) => {
    const mine = ratingsFor(i, comparisons);
    return mine.length > 0 ? mean(mine) : null;
  });
}

/** Option i's ratings in these comparisons: its (A) rating where it was shown first, its (B) rating otherwise. */
function ratingsFor(i: number, comparisons: readonly AskedComparison[]): number[] {
  const out: number[] = [];
  for (const c of comparisons) {
    const r = c.record.judgement.ratings;
    if (!r || (c.slot.x !== i && c.slot.y !== i)) continue;
    const first = c.slot.xFirst ? c.slot.x : c.slot.y;
    out.push(first === i ? r.a : r.b);
  }
  return out;
}

/** A candidate's score: its mean probability of beating each other candidate (UltraFeedback-style). */
export function scores(wins: number[][]): number[] {
  return wins.map((row, x) => (row.length > 1 ? mean(row.filter((_, y) => y !== x)) : 0.5));
}

/**
 * The judgement of `chosen` over `rejected` from their direct comparisons, as pair metadata:
 * the probability, each order averaged over the ensemble, the margin and every call's label.
 * With a panel (`judges`, the aliases in slot order) each judge's own label is kept by alias, the
 * probability is the panel's (mean, or majority of hard labels: `aggregate`) and `split` says
 * whether the judges preferred different responses. With the ratings judge the mean ratings of
 * chosen and rejected are kept too.
 */
export function pairJudgement(
  kind: PairJudgement['kind'],
  chosen: number,
  rejected: number,
  comparisons: readonly AskedComparison[],
  principleIds: string[],
  cot: boolean,
  opts: { judges?: readonly string[]; ratings?: boolean } = {},
): PairJudgement {
  const [x, y] = chosen < rejected ? [chosen, rejected] : [rejected, chosen];
  const direct = comparisons.filter((c) => c.slot.x === x && c.slot.y === y);
  const label = directLabel(direct, chosen);
  const panel = opts.judges && opts.judges.length > 1 ? opts.judges : null;
  const judges = panel
    ? Object.fromEntries(
        panel.map((alias, j) => {
          const own = direct.filter((c) => c.slot.j === j);
          const l = directLabel(own, chosen);
          const ratings = opts.ratings ? optionRatings(Math.max(chosen, rejected) + 1, own) : null;
          return [
            alias,
            {
              p_chosen: l.p,
              label_source: l.source,
              prefers: l.p > 0.5 ? ('chosen' as const) : l.p < 0.5 ? ('rejected' as const) : ('tie' as const),
              ...(ratings &&
                ratings[chosen] !== null &&
                ratings[rejected] !== null && { mean_ratings: { chosen: ratings[chosen], rejected: ratings[rejected] } }),
            },
          ];
        }),
      )
    : null;
  const pChosen = judges
    ? aggregate(
        Object.values(judges).map((j) => j.p_chosen),
        Object.values(judges).some((j) => j.label_source === 'hard'),
      )
    : label.p;
  const ratings = opts.ratings ? meanRatings(Math.max(chosen, rejected) + 1, comparisons, panel?.length ?? 1) : null;
  return {
    p_chosen: pChosen,
    label_source: label.source,
    kind,
    principle_ids: principleIds,
    orders: label.orders,
    margin: 2 * pChosen - 1,
    chain_of_thought: cot,
    comparisons: direct.map((c) => ({
      principle_id: c.record.principle_id as string,
      a: c.record.judgement.options[0],
      b: c.record.judgement.options[1],
      p_a: c.record.judgement.p_a,
      label_source: c.record.judgement.label_source,
      ...(c.record.judgement.judge !== undefined && { judge: c.record.judgement.judge }),
      ...(c.record.judgement.ratings && { ratings: { ...c.record.judgement.ratings } }),
    })),
    ...(ratings && { mean_ratings: { chosen: ratings[chosen], rejected: ratings[rejected] } }),
    ...(judges && { judges, split: new Set(Object.values(judges).map((j) => j.prefers)).size > 1 }),
  };
}

/** P(chosen better) over some direct comparisons, per order, and the weakest label behind it. */
function directLabel(direct: readonly AskedComparison[], chosen: number): { p: number; source: LabelSource; orders: PairJudgement['orders'] } {
  // P(chosen better) read off each call: p_a where chosen was (A), 1 - p_a where it was (B).
  const chosenShownFirst = (c: AskedComparison) => (c.slot.xFirst ? c.slot.x : c.slot.y) === chosen;
  const first = direct.filter(chosenShownFirst).map((c) => c.record.judgement.p_a);
  const second = direct.filter((c) => !chosenShownFirst(c)).map((c) => 1 - c.record.judgement.p_a);
  const sources = direct.map((c) => c.record.judgement.label_source);
  // The weakest label behind it: one unreadable answer makes the pair's label unreadable-backed.
  const source: LabelSource = sources.includes('unreadable')
    ? 'unreadable'
    : sources.includes('hard')
      ? 'hard'
      : sources.includes('ratings')
        ? 'ratings'
        : 'logprobs';
  return { p: mean([...first, ...second]), source, orders: { chosen_first: mean(first), chosen_second: mean(second) } };
}
