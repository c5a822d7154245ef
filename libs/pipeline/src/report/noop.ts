import { distance } from 'fastest-levenshtein';

/**
 * A revision whose normalised edit distance to the draft is below this is a no-op: the same text
 * give or take a word or two. 0.05 is five characters in a hundred, about one word per sentence.
 */
export const NOOP_EDIT_DISTANCE = 0.05;

/** Trimmed, whitespace runs collapsed: what the distance is measured on. */
function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * The two strings without the prefix and suffix they share. The edit distance of what is left is
 * the edit distance of the whole (an optimal alignment never pays for a shared end), so a
 * revision that changed a few spots of a long draft costs the distance of the changed middle
 * only. Code units, as fastest-levenshtein counts them.
 */
function withoutSharedEnds(x: string, y: string): [string, string] {
  const most = Math.min(x.length, y.length);
  let start = 0;
  while (start < most && x.charCodeAt(start) === y.charCodeAt(start)) start++;
  let end = 0;
  while (end < most - start && x.charCodeAt(x.length - 1 - end) === y.charCodeAt(y.length - 1 - end)) end++;
  return [x.slice(start, x.length - end), y.slice(start, y.length - end)];
}

const Q = 3;

/**
 * A lower bound of the edit distance in linear time (Ukkonen 1992): one edit changes at most Q
 * q-grams of a string and adds at most Q, so d >= |q-grams(x) - q-grams(y)|_1 / (2Q). Two texts
 * that really differ share few trigrams, so the bound alone tells them apart from a no-op without
 * the quadratic distance.
 */
function qgramLowerBound(x: string, y: string): number {
  const counts = new Map<string, number>();
  for (let i = 0; i + Q <= x.length; i++) {
    const g = x.slice(i, i + Q);
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  for (let i = 0; i + Q <= y.length; i++) {
    const g = y.slice(i, i + Q);
    counts.set(g, (counts.get(g) ?? 0) - 1);
  }
  let l1 = 0;
  for (const c of counts.values()) l1 += Math.abs(c);
  return l1 / (2 * Q);
}

/** Character comparisons the insert/delete search may spend before the full distance takes over. */
const INDEL_BUDGET = 20_000_000;

/**
 * The length of the shortest script of single-character deletions and insertions turning `a` into
 * `b` (Myers 1986, the greedy forward search), or undefined when it is longer than `max`. Its
 * cost grows with that length, O((n + m) · D), so texts that differ in a few spots far apart are
 * settled in linear time. A substitution is one deletion and one insertion, so the edit distance
 * is at most this length and at least half of it.
 */
export function indelDistanceWithin(a: string, b: string, max: number): number | undefined {
  const n = a.length;
  const m = b.length;
  const off = max + 1;
  // v[off + k]: the furthest x reached on diagonal k = x - y with d edits; -1 where none does.
  const v = new Int32Array(2 * max + 3).fill(-1);
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (d === 0) x = 0;
      else {
        // From diagonal k + 1 by an insertion (y + 1), or from k - 1 by a deletion (x + 1).
        const down = k + 1 <= d - 1 ? v[off + k + 1] : -1;
        const right = k - 1 >= -(d - 1) && v[off + k - 1] >= 0 ? v[off + k - 1] + 1 : -1;
        x = Math.max(down >= 0 && down - k <= m ? down : -1, right <= n ? right : -1);
        if (x < 0) {
          v[off + k] = -1;
          continue;
        }
      }
      let y = x - k;
      while (x < n && y < m && a.charCodeAt(x) === b.charCodeAt(y)) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x === n && y === m) return d;
    }
  }
  return undefined;
}

/** Levenshtein distance over the longer length, after trimming and collapsing whitespace: 0 equal, 1 nothing shared. */
export function normalisedEditDistance(a: string, b: string): number {
  const x = normalise(a);
  const y = normalise(b);
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return 0;
  const [u, v] = withoutSharedEnds(x, y);
  return distance(u, v) / longest;
}

/**
 * Whether `revised` is `original` or nearly. Cheap tests first, each exact: the length difference
 * and the q-gram bound are lower bounds of the distance (over them, not a no-op), a short
 * insert/delete script an upper bound (under it, a no-op), and shared ends are cut before the
 * O(n·m) distance, which so runs only on the changed middle of texts that may be a no-op and
 * differ in more than a few spots. The worker decides this once per pair (the `noop` flag), on
 * its own event loop: two unrelated 138,000-character texts took ~8 s of it with the distance
 * alone.
 */
export function isNoop(original: string, revised: string, threshold = NOOP_EDIT_DISTANCE): boolean {
  const x = normalise(original);
  const y = normalise(revised);
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return true;
  // Each test compares a share of `longest` as the full test does, so no rounding tells them apart.
  const share = (n: number) => n / longest;
  if (share(Math.abs(x.length - y.length)) >= threshold) return false;
  const [u, v] = withoutSharedEnds(x, y);
  if (share(Math.max(u.length, v.length)) < threshold) return true;
  if (share(qgramLowerBound(u, v)) >= threshold) return false;
  // A few edits far apart: a short insert/delete script is an upper bound that settles it. Its
  // search may spend about what the distance would (u·v/32 word steps), and never past the budget.
  const work = Math.min(INDEL_BUDGET, (u.length * v.length) / 32);
  const indel = indelDistanceWithin(u, v, Math.min(Math.ceil(threshold * longest), Math.floor(work / (u.length + v.length))));
  if (indel !== undefined && share(indel) < threshold) return true;
  return share(distance(u, v)) < threshold;
}
