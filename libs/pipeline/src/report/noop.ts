import { distance } from 'fastest-levenshtein';

/**
 * A revision whose normalised edit distance to the draft is below this is a no-op: the same text
 * give or take a word or two. 0.05 is five characters in a hundred, about one word per sentence.
 */
export const NOOP_EDIT_DISTANCE = 0.05;

/** Levenshtein distance over the longer length, after trimming and collapsing whitespace: 0 equal, 1 nothing shared. */
export function normalisedEditDistance(a: string, b: string): number {
  const x = a.replace(/\s+/g, ' ').trim();
  const y = b.replace(/\s+/g, ' ').trim();
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return 0;
  return distance(x, y) / longest;
}

/** Whether `revised` is `original` or nearly; the length difference alone often settles it without the O(n·m) distance. */
export function isNoop(original: string, revised: string, threshold = NOOP_EDIT_DISTANCE): boolean {
  const x = original.replace(/\s+/g, ' ').trim();
  const y = revised.replace(/\s+/g, ' ').trim();
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return true;
  if (Math.abs(x.length - y.length) / longest >= threshold) return false;
  return distance(x, y) / longest < threshold;
}
