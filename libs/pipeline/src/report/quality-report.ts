import { PAIR_FLAGS, type PairQuality, type PairRecord, type QualityFigures, type QualityReport } from '@amend/contracts';
import { krippendorffAlphaNominal } from '../agreement';
import { NOOP_EDIT_DISTANCE } from './noop';
import { pairQuality } from './pair-quality';

/**
 * The version of the report's figures, the key of a finished run's cached report (`run_reports`):
 * a change to what the figures mean bumps it, and finished runs get their report computed again.
 */
export const QUALITY_REPORT_VERSION = '3';

/** Running sums for one slice of a run's pairs (a principle, or all of them): constant memory per slice. */
class Tally {
  pairs = 0;
  noop = 0;
  chosenChars = 0;
  rejectedChars = 0;
  refusalsChosen = 0;
  refusalsRejected = 0;
  flags: Record<string, number> = Object.fromEntries(PAIR_FLAGS.map((f) => [f, 0]));
  judged = 0;
  pChosenSum = 0;
  comparisons = 0;
  aWins = 0;
  pASum = 0;
  hard = 0;
  unreadable = 0;
  orderPairs = 0;
  orderAgreements = 0;

  addPair(p: PairFacts): void {
    this.pairs++;
    if (p.noop) this.noop++;
    this.chosenChars += p.chosenChars;
    this.rejectedChars += p.rejectedChars;
    if (p.chosenRefuses) this.refusalsChosen++;
    if (p.rejectedRefuses) this.refusalsRejected++;
    for (const f of p.flags) this.flags[f] = (this.flags[f] ?? 0) + 1;
    if (p.pChosen !== null) {
      this.judged++;
      this.pChosenSum += p.pChosen;
    }
  }

  addComparisons(list: readonly Comparison[]): void {
    for (const c of list) {
      this.comparisons++;
      this.pASum += c.p_a;
      // A tie counts half: it is neither a win for (A) nor for (B).
      this.aWins += c.p_a > 0.5 ? 1 : c.p_a === 0.5 ? 0.5 : 0;
      if (c.label_source === 'hard') this.hard++;
      else if (c.label_source === 'unreadable') this.unreadable++;
    }
    // The two orders of one principle (and one judge of a panel): did they pick the same response?
    const byPrinciple = new Map<string, Comparison[]>();
    for (const c of list) {
      const key = `${c.principle_id}\u0000${c.judge ?? ''}`;
      byPrinciple.set(key, [...(byPrinciple.get(key) ?? []), c]);
    }
    for (const orders of byPrinciple.values()) {
      if (orders.length !== 2) continue;
      this.orderPairs++;
      const [w1, w2] = orders.map(winner);
      if (w1 !== null && w1 === w2) this.orderAgreements++;
    }
  }

  figures(): QualityFigures {
    const share = (n: number, of: number) => (of > 0 ? round(n / of) : null);
    return {
      pairs: this.pairs,
      noop_share: share(this.noop, this.pairs),
      length_ratio: this.pairs > 0 && this.rejectedChars > 0 ? round(this.chosenChars / this.rejectedChars) : null,
      refusal_rate_chosen: share(this.refusalsChosen, this.pairs),
      refusal_rate_rejected: share(this.refusalsRejected, this.pairs),
      refusal_drift: this.flags.refusal_drift ?? 0,
      refusal_drift_share: share(this.flags.refusal_drift ?? 0, this.pairs),
      flags: { ...this.flags },
      judge: {
        comparisons: this.comparisons,
        order_agreement: share(this.orderAgreements, this.orderPairs),
        a_wins: share(this.aWins, this.comparisons),
        position_bias: this.comparisons > 0 ? round(this.pASum / this.comparisons - 0.5) : null,
        hard_labels: this.hard,
        unreadable_labels: this.unreadable,
        hard_label_share: share(this.hard + this.unreadable, this.comparisons),
        mean_p_chosen: this.judged > 0 ? round(this.pChosenSum / this.judged) : null,
      },
    };
  }
}

type Comparison = PairQuality['comparisons'][number];

interface PairFacts {
  noop: boolean;
  chosenChars: number;
  rejectedChars: number;
  chosenRefuses: boolean;
  rejectedRefuses: boolean;
  flags: readonly string[];
  pChosen: number | null;
}

/** The option a comparison picked, or null for a tie. */
function winner(c: Comparison): string | null {
  if (c.p_a === 0.5) return null;
  return c.p_a > 0.5 ? c.a : c.b;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * The quality report of a run, built from its pairs one at a time (feed it a stream): memory
 * grows with the number of principles, never with the number of pairs.
 *
 * - a pair is read as its stored quality figures (pair-quality.ts, computed by the worker as it
 *   emitted the pair) and its flags: the no-op share is the `noop` flag (the edit-distance verdict
 *   made once, in the worker), refusal rates the stored refusal verdicts, refusal drift and the
 *   judge flags the flags themselves. Nothing here reads a text, so a report costs the same for
 *   long outputs as for short ones. (Pairs stored before migration 0003 have no flags: their
 *   no-ops are not counted.)
 * - judge figures come from the comparisons of chosen against rejected kept in each pair's
 *   judgement: order agreement is the share of (principle, pair) whose two orders picked the
 *   same response; `a_wins` the share of comparisons (A) won, whatever was shown as (A), which is
 *   0.5 for an unbiased judge since every comparison is asked in both orders.
 * - a pair counts under each principle it used: its revision principles (critique-revise) or its
 *   ensemble (ai-feedback); a comparison counts under its own principle.
 */
export class QualityReportBuilder {
  private readonly overall = new Tally();
  private readonly byPrinciple = new Map<string, Tally>();
  private readonly panel = new PanelTally();

  /** A pair as stored: its quality figures are computed here (pair-quality.ts), its no-op verdict read from its flags. */
  add(pair: PairRecord): void {
    this.addQuality(pairQuality(pair), pair.metadata.flags ?? []);
  }

  /** A pair by its stored quality figures and flags, as the worker saved them. */
  addQuality(quality: PairQuality, flags: readonly string[]): void {
    const facts: PairFacts = {
      noop: flags.includes('noop'),
      chosenChars: quality.chosen_chars,
      rejectedChars: quality.rejected_chars,
      chosenRefuses: quality.chosen_refuses,
      rejectedRefuses: quality.rejected_refuses,
      flags,
      pChosen: quality.p_chosen,
    };
    this.overall.addPair(facts);
    if (quality.judges) this.panel.add(quality.judges, quality.p_chosen, flags.includes('judges_split'));
    const comparisons = quality.comparisons;
    this.overall.addComparisons(comparisons);
    const ids = new Set([...quality.principle_ids, ...comparisons.map((c) => c.principle_id)]);
    for (const id of ids) {
      const tally = this.tally(id);
      if (quality.principle_ids.includes(id)) tally.addPair(facts);
      tally.addComparisons(comparisons.filter((c) => c.principle_id === id));
    }
  }

  build(run: { id: string; mode: string; status: string; min_margin: number }): QualityReport {
    const principles: Record<string, QualityFigures> = {};
    for (const id of [...this.byPrinciple.keys()].sort()) principles[id] = this.byPrinciple.get(id)!.figures();
    return {
      run_id: run.id,
      mode: run.mode,
      status: run.status,
      overall: this.overall.figures(),
      principles,
      thresholds: { noop_edit_distance: NOOP_EDIT_DISTANCE, min_margin: run.min_margin },
      ...(this.panel.judges.length > 0 && { panel: this.panel.figures() }),
    };
  }

  private tally(id: string): Tally {
    let t = this.byPrinciple.get(id);
    if (!t) {
      t = new Tally();
      this.byPrinciple.set(id, t);
    }
    return t;
  }
}

type Preference = 'chosen' | 'rejected' | 'tie';
const preference = (p: number): Preference => (p > 0.5 ? 'chosen' : p < 0.5 ? 'rejected' : 'tie');

/**
 * A panel's agreement over a run's pairs: each pair is a unit, each judge's preference (chosen,
 * rejected or tie, from its own p_chosen) a nominal value; Krippendorff's alpha over them
 * (agreement.ts, the reviewers' own), and per judge the share of pairs where its preference is
 * the panel's. Units are kept as counts of their distinct patterns (at most 3^judges of them), so
 * memory does not grow with the pairs until the report is built.
 */
class PanelTally {
  readonly judges: string[] = [];
  private readonly patterns = new Map<string, { values: Preference[]; count: number }>();
  private readonly agree = new Map<string, { pairs: number; agree: number }>();
  private pairs = 0;
  private split = 0;

  add(judges: Record<string, number>, panelP: number | null, split: boolean): void {
    const aliases = Object.keys(judges);
    for (const a of aliases) if (!this.judges.includes(a)) this.judges.push(a);
    const values = aliases.map((a) => preference(judges[a]));
    const key = values.join(',');
    const pattern = this.patterns.get(key) ?? { values, count: 0 };
    pattern.count++;
    this.patterns.set(key, pattern);
    this.pairs++;
    if (split) this.split++;
    if (panelP === null) return;
    const panel = preference(panelP);
    for (const a of aliases) {
      const t = this.agree.get(a) ?? { pairs: 0, agree: 0 };
      t.pairs++;
      if (preference(judges[a]) === panel) t.agree++;
      this.agree.set(a, t);
    }
  }

  figures(): NonNullable<QualityReport['panel']> {
    const units: Preference[][] = [];
    for (const { values, count } of this.patterns.values()) for (let i = 0; i < count; i++) units.push(values);
    const alpha = krippendorffAlphaNominal(units);
    return {
      judges: [...this.judges],
      pairs: this.pairs,
      alpha: alpha === null ? null : round(alpha),
      agreement: Object.fromEntries(
        this.judges.map((a) => {
          const t = this.agree.get(a);
          return [a, t && t.pairs > 0 ? round(t.agree / t.pairs) : null];
        }),
      ),
      split: this.split,
    };
  }
}
