import type { QualityFigures, QualityReport } from '@amend/contracts';

/** The quality report as a table: one row overall, one per principle. Pure: values in, text out. */

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits = 2) => (x === null ? '-' : x.toFixed(digits));
const signed = (x: number | null) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

const COLUMNS: [string, number, (f: QualityFigures) => string][] = [
  ['pairs', 6, (f) => String(f.pairs)],
  ['no-op', 7, (f) => pct(f.noop_share)],
  ['len c/r', 8, (f) => num(f.length_ratio)],
  ['refuse c', 9, (f) => pct(f.refusal_rate_chosen)],
  ['refuse r', 9, (f) => pct(f.refusal_rate_rejected)],
  ['drift', 6, (f) => String(f.refusal_drift)],
  ['judged', 7, (f) => String(f.judge.comparisons)],
  ['p(chosen)', 10, (f) => num(f.judge.mean_p_chosen, 3)],
  ['orders agree', 13, (f) => pct(f.judge.order_agreement)],
  ['A wins', 7, (f) => pct(f.judge.a_wins)],
  ['bias', 7, (f) => signed(f.judge.position_bias)],
  ['hard', 7, (f) => pct(f.judge.hard_label_share ?? null)],
];

export function renderQualityReport(report: QualityReport): string {
  const names = ['overall', ...Object.keys(report.principles)];
  const nameWidth = Math.max(...names.map((n) => n.length), 9);
  const row = (name: string, cells: string[]) => [name.padEnd(nameWidth), ...cells.map((c, i) => c.padStart(COLUMNS[i][1]))].join(' ').trimEnd();
  const lines = [
    `run ${report.run_id} (${report.mode}, ${report.status})`,
    ...(report.stopped ? [`STOPPED: ${report.stopped.message}`] : []),
    '',
    row(
      '',
      COLUMNS.map(([h]) => h),
    ),
    row(
      'overall',
      COLUMNS.map(([, , cell]) => cell(report.overall)),
    ),
    ...Object.entries(report.principles).map(([id, f]) =>
      row(
        id,
        COLUMNS.map(([, , cell]) => cell(f)),
      ),
    ),
    '',
    `flags: ${Object.entries(report.overall.flags)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `no-op: normalised edit distance below ${report.thresholds.noop_edit_distance}; min_margin ${report.thresholds.min_margin}`,
    'judged = comparisons of chosen against rejected (each order counts); bias = mean P(A) - 0.5;',
    'hard = labels without log-probabilities at the answer letter, or with no readable letter',
  ];
  return lines.join('\n');
}
