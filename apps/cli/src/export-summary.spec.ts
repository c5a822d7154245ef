import { PAIRS, SFT_RECORDS, exportSummary, leftOut } from './export-summary';

describe('what an export says it wrote and left out', () => {
  it.each([
    // [lines, Amend-Excluded counts, what the CLI prints], written out by hand
    [12, { truncated: 3 }, '12 pairs written; 3 left out: truncated 3 (--exclude= keeps them)'],
    [1, {}, '1 pair written; none left out'],
    [1_234, null, '1,234 pairs written'],
    [
      2,
      { truncated: 2, noop: 1, erased: 1 },
      '2 pairs written; 4 left out: truncated 2, noop 1 (--exclude= keeps them); erased 1 (erased on request; nothing brings them back)',
    ],
    [0, { truncated: 3 }, 'the export is empty: 0 pairs written; 3 left out: truncated 3 (--exclude= keeps them)'],
    [0, {}, 'the export is empty: 0 pairs written'],
    [
      5,
      { not_accepted: 2, rejected_by_reviewer: 1 },
      '5 pairs written; 3 left out: not_accepted 2 (not accepted by a reviewer; without --reviewed they are kept); rejected_by_reviewer 1 (a reviewer rejected them)',
    ],
    // A reason this CLI does not know yet (a newer server) is still counted and named.
    [5, { no_consensus: 2 }, '5 pairs written; 2 left out: no_consensus 2'],
  ] as const)('%s lines with %j: %s', (lines, excluded, expected) => {
    expect(exportSummary(lines, PAIRS, excluded)).toBe(expected);
  });

  it('names the file, the noun, and the hint as the command spells it', () => {
    expect(exportSummary(1, SFT_RECORDS, { truncated: 1 }, { to: 'out.jsonl', keepFlagged: 'amend pairs R --exclude= keeps them' })).toBe(
      '1 SFT record written to out.jsonl; 1 left out: truncated 1 (amend pairs R --exclude= keeps them)',
    );
    expect(leftOut({ noop: 0 })).toBeNull();
  });
});
