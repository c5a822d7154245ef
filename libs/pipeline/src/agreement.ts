/**
 * Agreement between reviewers (docs/ml-teams.md#agreement), pure maths over labels: no I/O, no
 * contracts. A unit is one pair; its values are the decisions of the reviewers who reviewed it
 * (one per reviewer, missing where a reviewer did not).
 */

/** One reviewer's label of one unit. */
export interface Coding<L extends string = string> {
  unit: string;
  coder: string;
  value: L;
}

/** The values of each unit, in the order the codings came (one per coder: the caller keeps each coder's latest). */
function byUnit<L extends string>(codings: readonly Coding<L>[]): Map<string, L[]> {
  const units = new Map<string, L[]>();
  for (const c of codings) {
    const values = units.get(c.unit);
    if (values) values.push(c.value);
    else units.set(c.unit, [c.value]);
  }
  return units;
}

/**
 * Krippendorff's alpha for nominal data, from the coincidence matrix (Krippendorff 2011,
 * "Computing Krippendorff's Alpha-Reliability"): units with fewer than two values are not
 * pairable and count for nothing. alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k.
 * Null when fewer than two values are pairable, or every pairable value is the same category
 * (no expected disagreement: alpha is 0/0).
 */
export function krippendorffAlphaNominal(units: readonly (readonly string[])[]): number | null {
  const o = new Map<string, number>(); // o_ck keyed "c\u0000k"
  const nc = new Map<string, number>();
  let n = 0;
  for (const values of units) {
    const m = values.length;
    if (m < 2) continue;
    // Every ordered pair of different coders' values within the unit, weighted 1/(m - 1).
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i === j) continue;
        const key = `${values[i]}\u0000${values[j]}`;
        o.set(key, (o.get(key) ?? 0) + 1 / (m - 1));
      }
      nc.set(values[i], (nc.get(values[i]) ?? 0) + 1);
    }
    n += m;
  }
  if (n < 2) return null;
  let observed = 0;
  for (const [key, v] of o) {
    const [c, k] = key.split('\u0000');
    if (c !== k) observed += v;
  }
  let expected = 0;
  const totals = [...nc.values()];
  for (let a = 0; a < totals.length; a++) for (let b = 0; b < totals.length; b++) if (a !== b) expected += totals[a] * totals[b];
  if (expected === 0) return null;
  return 1 - ((n - 1) * observed) / expected;
}

/**
 * Cohen's kappa of two coders over the units both coded: (p_o - p_e) / (1 - p_e), p_e from each
 * coder's own category shares. Null with no common unit, or when p_e is 1 (both always gave one
 * and the same category: kappa is 0/0).
 */
export function cohenKappa(pairs: readonly (readonly [string, string])[]): number | null {
  const n = pairs.length;
  if (n === 0) return null;
  const a = new Map<string, number>();
  const b = new Map<string, number>();
  let agree = 0;
  for (const [x, y] of pairs) {
    if (x === y) agree++;
    a.set(x, (a.get(x) ?? 0) + 1);
    b.set(y, (b.get(y) ?? 0) + 1);
  }
  const po = agree / n;
  let pe = 0;
  for (const [c, count] of a) pe += (count / n) * ((b.get(c) ?? 0) / n);
  if (pe === 1) return null;
  return (po - pe) / (1 - pe);
}

/** The share of pairs of coders, within units, that gave the same value (each unordered pair once); null with no such pair. */
export function rawAgreement(units: readonly (readonly string[])[]): number | null {
  let pairs = 0;
  let agreeing = 0;
  for (const values of units) {
    for (let i = 0; i < values.length; i++) {
      for (let j = i + 1; j < values.length; j++) {
        pairs++;
        if (values[i] === values[j]) agreeing++;
      }
    }
  }
  return pairs === 0 ? null : agreeing / pairs;
}

/** One unit's verdict: the most frequent value (null on a tie for the most), its share of the unit's values, and the counts. */
export interface UnitMajority {
  decision: string | null;
  /** How many values the unit has. */
  reviews: number;
  /** The share of the unit's values that are its most frequent one (0.5 on a 2-2 tie); 1 for a single value. */
  agreement: number;
  tie: boolean;
  counts: Record<string, number>;
}

export function unitMajority(values: readonly string[]): UnitMajority {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  const top = Math.max(0, ...Object.values(counts));
  const leaders = Object.keys(counts).filter((k) => counts[k] === top);
  const tie = leaders.length > 1;
  return { decision: tie || leaders.length === 0 ? null : leaders[0], reviews: values.length, agreement: values.length ? top / values.length : 0, tie, counts };
}

/** Each pair of coders (in the order the coders are first seen) with the units both coded, and their kappa and raw agreement. */
export function pairwiseKappa(codings: readonly Coding[]): { a: string; b: string; units: number; agreement: number | null; kappa: number | null }[] {
  const coders: string[] = [];
  const byCoder = new Map<string, Map<string, string>>();
  for (const c of codings) {
    if (!byCoder.has(c.coder)) {
      coders.push(c.coder);
      byCoder.set(c.coder, new Map());
    }
    byCoder.get(c.coder)!.set(c.unit, c.value);
  }
  const out = [];
  for (let i = 0; i < coders.length; i++) {
    for (let j = i + 1; j < coders.length; j++) {
      const x = byCoder.get(coders[i])!;
      const y = byCoder.get(coders[j])!;
      const both: [string, string][] = [];
      for (const [unit, v] of x) {
        const w = y.get(unit);
        if (w !== undefined) both.push([v, w]);
      }
      out.push({
        a: coders[i],
        b: coders[j],
        units: both.length,
        agreement: both.length ? both.filter(([p, q]) => p === q).length / both.length : null,
        kappa: cohenKappa(both),
      });
    }
  }
  return out;
}

/** Every figure of a set of codings: alpha, raw agreement, pairwise kappa and each unit's majority. */
export function agreementFigures(codings: readonly Coding[]) {
  const units = byUnit(codings);
  const values = [...units.values()];
  return {
    krippendorff_alpha: krippendorffAlphaNominal(values),
    raw_agreement: rawAgreement(values),
    cohen_kappa: pairwiseKappa(codings),
    units: new Map([...units].map(([unit, v]) => [unit, unitMajority(v)])),
  };
}
