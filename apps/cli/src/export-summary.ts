import { PAIR_FLAGS } from '@amend/contracts';

const formatNumber = (n: number) => n.toLocaleString('en-US');

/** Exit code of an export that wrote nothing (1 is an error, 2 a failed check: a script can tell them apart). */
export const EXIT_EMPTY = 3;

/** What an export writes, in the singular and the plural. */
export type Noun = readonly [one: string, many: string];
export const PAIRS: Noun = ['pair', 'pairs'];
export const SFT_RECORDS: Noun = ['SFT record', 'SFT records'];

const counted = (n: number, [one, many]: Noun) => `${formatNumber(n)} ${n === 1 ? one : many}`;

/** Why each reason that is no flag left its pairs out, and what keeps them (flags: `keepFlagged`). */
const OTHER_REASONS: Record<string, string> = {
  erased: 'erased on request; nothing brings them back',
  rejected_by_reviewer: 'a reviewer rejected them',
  not_accepted: 'not accepted by a reviewer; without --reviewed they are kept',
};

/**
 * What an export left out, from its `Amend-Excluded` counts: `3 left out: truncated 2, noop 1
 * (--exclude= keeps them)`; null when nothing was (or the server did not say). `keepFlagged` is
 * the hint for flagged pairs, as the command at hand spells it.
 */
export function leftOut(excluded: Record<string, number> | null, keepFlagged = '--exclude= keeps them'): string | null {
  const entries = Object.entries(excluded ?? {}).filter(([, n]) => n > 0);
  if (!entries.length) return null;
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const flags: readonly string[] = PAIR_FLAGS;
  const flagged = entries.filter(([why]) => flags.includes(why));
  const parts = flagged.length ? [`${flagged.map(([why, n]) => `${why} ${formatNumber(n)}`).join(', ')} (${keepFlagged})`] : [];
  for (const [why, n] of entries.filter(([w]) => !flags.includes(w)))
    parts.push(`${why} ${formatNumber(n)}${OTHER_REASONS[why] ? ` (${OTHER_REASONS[why]})` : ''}`);
  return `${formatNumber(total)} left out: ${parts.join('; ')}`;
}

/**
 * The line an export ends with: `12 pairs written to out.jsonl; 3 left out: truncated 3
 * (--exclude= keeps them)`, and for an empty export `the export is empty` first, since no file
 * with nothing in it should pass for a dataset unnoticed.
 */
export function exportSummary(lines: number, noun: Noun, excluded: Record<string, number> | null, opts: { to?: string; keepFlagged?: string } = {}): string {
  const head = `${counted(lines, noun)} written${opts.to ? ` to ${opts.to}` : ''}`;
  const out = leftOut(excluded, opts.keepFlagged);
  if (lines === 0) return `the export is empty: ${head}${out ? `; ${out}` : ''}`;
  return `${head}${out ? `; ${out}` : excluded ? '; none left out' : ''}`;
}
