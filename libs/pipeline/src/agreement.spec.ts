import { agreementFigures, cohenKappa, krippendorffAlphaNominal, rawAgreement, unitMajority, type Coding } from './agreement';

/** Observers as rows, units as columns, null where an observer did not code the unit; the values of each unit. */
function unitsOf(rows: (number | null)[][]): string[][] {
  return rows[0].map((_, u) =>
    rows
      .map((r) => r[u])
      .filter((v): v is number => v !== null)
      .map(String),
  );
}

describe("Krippendorff's alpha, nominal", () => {
  it('matches Krippendorff (2011) section C: 4 observers, 12 units, missing values, alpha = 0.743', () => {
    // "Computing Krippendorff's Alpha-Reliability" (K. Krippendorff, 2011, University of Pennsylvania), C. Nominal data, any number of observers, missing values.
    const rows = [
      [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
      [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
      [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
      [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];
    expect(krippendorffAlphaNominal(unitsOf(rows))).toBeCloseTo(0.743, 3);
  });

  it('matches Krippendorff (2011) section B: two observers, binary data, alpha = 0.095', () => {
    const rows = [
      [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
      [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
    ];
    expect(krippendorffAlphaNominal(unitsOf(rows))).toBeCloseTo(0.095, 3);
  });

  it('is 1 for full agreement, and null when undefined (nothing pairable, or one category only)', () => {
    expect(
      krippendorffAlphaNominal([
        ['a', 'a'],
        ['b', 'b', 'b'],
      ]),
    ).toBe(1);
    expect(krippendorffAlphaNominal([['a'], ['b']])).toBeNull();
    expect(
      krippendorffAlphaNominal([
        ['a', 'a'],
        ['a', 'a'],
      ]),
    ).toBeNull();
  });
});

describe("Cohen's kappa", () => {
  it('matches the textbook 2x2 example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15, kappa = 0.40', () => {
    // p_o = 35/50 = 0.70; p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.50; kappa = (0.70 - 0.50) / 0.50 = 0.40.
    const pairs: [string, string][] = [
      ...Array<[string, string]>(20).fill(['yes', 'yes']),
      ...Array<[string, string]>(5).fill(['yes', 'no']),
      ...Array<[string, string]>(10).fill(['no', 'yes']),
      ...Array<[string, string]>(15).fill(['no', 'no']),
    ];
    expect(cohenKappa(pairs)).toBeCloseTo(0.4, 10);
  });

  it('is null with no common unit, or when both coders always gave one and the same value', () => {
    expect(cohenKappa([])).toBeNull();
    expect(
      cohenKappa([
        ['a', 'a'],
        ['a', 'a'],
      ]),
    ).toBeNull();
  });
});

describe('the figures of a run, against a table worked by hand', () => {
  // Pairs P0..P4 and reviewers R1..R3 (R3 did not review P3 and P4):
  //        R1      R2      R3
  //   P0   accept  accept  accept
  //   P1   accept  accept  reject
  //   P2   swap    accept  swap
  //   P3   reject  reject  -
  //   P4   accept  reject  -
  // Coincidences (each ordered pair of values in a unit, weighted 1/(m_u - 1)):
  //   o_aa = 3 (P0) + 1 (P1) = 4; o_ar = o_ra = 1 (P1) + 1 (P4) = 2; o_as = o_sa = 1 (P2); o_ss = 1 (P2); o_rr = 2 (P3)
  //   n_a = 4 + 2 + 1 = 7, n_r = 2 + 2 = 4, n_s = 1 + 1 = 2, n = 13
  //   alpha = 1 - (n - 1) * (2 + 2 + 1 + 1) / (2 * (7*4 + 7*2 + 4*2)) = 1 - 12 * 6 / 100 = 0.28
  // Raw agreement: pairs of reviewers within a pair 3 + 3 + 3 + 1 + 1 = 11, agreeing 3 + 1 + 1 + 1 + 0 = 6: 6/11.
  // Kappa R1-R2 over P0..P4: p_o = 3/5; R1 a3 s1 r1, R2 a3 r2: p_e = 9/25 + 2/25 = 11/25; (15 - 11) / (25 - 11) = 2/7.
  // Kappa R1-R3 over P0..P2: p_o = 2/3; R1 a2 s1, R3 a1 r1 s1: p_e = 2/9 + 1/9 = 1/3; (2/3 - 1/3) / (2/3) = 1/2.
  // Kappa R2-R3 over P0..P2: p_o = 1/3; R2 a3, R3 a1 r1 s1: p_e = 1/3; 0.
  const table: [string, string, string][] = [
    ['P0', 'R1', 'accept'],
    ['P0', 'R2', 'accept'],
    ['P0', 'R3', 'accept'],
    ['P1', 'R1', 'accept'],
    ['P1', 'R2', 'accept'],
    ['P1', 'R3', 'reject'],
    ['P2', 'R1', 'swap'],
    ['P2', 'R2', 'accept'],
    ['P2', 'R3', 'swap'],
    ['P3', 'R1', 'reject'],
    ['P3', 'R2', 'reject'],
    ['P4', 'R1', 'accept'],
    ['P4', 'R2', 'reject'],
  ];
  const codings: Coding[] = table.map(([unit, coder, value]) => ({ unit, coder, value }));

  it('gives alpha 0.28, raw agreement 6/11 and the three kappas', () => {
    const f = agreementFigures(codings);
    expect(f.krippendorff_alpha).toBeCloseTo(0.28, 10);
    expect(f.raw_agreement).toBeCloseTo(6 / 11, 10);
    expect(f.cohen_kappa.map((k) => [k.a, k.b, k.units, k.kappa])).toEqual([
      ['R1', 'R2', 5, expect.closeTo(2 / 7, 10)],
      ['R1', 'R3', 3, expect.closeTo(1 / 2, 10)],
      ['R2', 'R3', 3, expect.closeTo(0, 10)],
    ]);
  });

  it('gives each pair its majority and share, and a tie no decision', () => {
    const f = agreementFigures(codings);
    const units = Object.fromEntries([...f.units].map(([u, m]) => [u, [m.decision, m.reviews, m.agreement, m.tie]]));
    expect(units).toEqual({
      P0: ['accept', 3, 1, false],
      P1: ['accept', 3, 2 / 3, false],
      P2: ['swap', 3, 2 / 3, false],
      P3: ['reject', 2, 1, false],
      P4: [null, 2, 0.5, true],
    });
    expect(unitMajority([])).toMatchObject({ decision: null, reviews: 0 });
    expect(rawAgreement([['a']])).toBeNull();
  });
});
