import { Bar, BarChart, CartesianGrid, ComposedChart, ErrorBar, Legend, ReferenceLine, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import { EvaluationSchema, type Evaluation, type EvaluationReport } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { formatNumber, formatTime, percent } from '../lib/format';
import { href } from '../lib/router';
import { ErrorView, KeyValue, Loading, Section, StatusBadge, TableHead, num } from '../components/common';
import { WordDiff } from '../components/WordDiff';

const POLL_MS = 1500;
const BASELINE_COLOR = '#8a93a6';
const CANDIDATE_COLOR = '#3457d5';

const label = (c: { name: string; version: string }) => `${c.name}@${c.version}`;

export function EvaluationPage({ session, id }: { session: Session; id: string }) {
  const evaluation = useResource(() => session.client.get(EvaluationSchema, `/v1/evaluations/${id}`), [id, session.key], {
    pollMs: POLL_MS,
    poll: (data) => !data?.report,
  });
  if (evaluation.error && !evaluation.data) return <ErrorView error={evaluation.error} what="Evaluation" />;
  if (!evaluation.data) return <Loading what="the evaluation" />;
  const e = evaluation.data;
  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/evaluations')}>Evaluations</a> / <span className="mono">{label(e.baseline.constitution)}</span> vs{' '}
          <span className="mono">{label(e.candidate.constitution)}</span>
        </h1>
        <StatusBadge status={e.status} />
      </div>
      <Section title="Evaluation">
        <KeyValue
          items={[
            ['baseline', <span className="mono">{`${label(e.baseline.constitution)} (${e.baseline.constitution.sha256.slice(0, 12)})`}</span>],
            ['candidate', <span className="mono">{`${label(e.candidate.constitution)} (${e.candidate.constitution.sha256.slice(0, 12)})`}</span>],
            ['prompts', `${e.progress.total}${e.eval_set ? ` from ${e.eval_set}` : ''}, ${e.rounds} round(s), seed ${e.seed}`],
            ['models', `policy ${e.model}, judge ${e.judge_model}${e.simulated ? ' (built-in simulator)' : ''}`],
            ['progress', <Progress e={e} />],
            [
              'calls',
              `${formatNumber(e.usage.calls)} of ${formatNumber(e.estimate.calls)} estimated; ${formatNumber(e.usage.prompt_tokens + e.usage.completion_tokens)} tokens (at most ${formatNumber(e.estimate.tokens)})`,
            ],
            ['created', formatTime(e.created_at)],
          ]}
        />
      </Section>
      {e.report ? <Report report={e.report} /> : <p className="muted">The report appears here once both runs are finished.</p>}
    </div>
  );
}

function Progress({ e }: { e: Evaluation }) {
  const b = e.baseline.counts;
  const c = e.candidate.counts;
  const total = Math.max(b.total + c.total, 1);
  const done = b.completed + c.completed;
  const failed = b.failed + c.failed + (b.budget_exhausted ?? 0) + (c.budget_exhausted ?? 0) + b.cancelled + c.cancelled;
  return (
    <div data-testid="evaluation-progress">
      <div className="progress" role="progressbar" aria-valuenow={done + failed} aria-valuemax={b.total + c.total}>
        <div className="progress-completed" style={{ width: `${(100 * done) / total}%` }} />
        <div className="progress-failed" style={{ width: `${(100 * failed) / total}%` }} />
      </div>
      <span className="muted">
        baseline {b.completed}/{b.total}, candidate and judge {c.completed}/{c.total}; {e.progress.judged} of {e.progress.total} prompts judged
      </span>
    </div>
  );
}

function Report({ report }: { report: EvaluationReport }) {
  // The forest plot: the candidate's win rate per dimension, its 95% interval as an error bar, 0.5 marked.
  const forest = report.dimensions
    .filter((d) => d.win_rate !== null && d.ci95 !== null)
    .map((d) => ({
      dimension: d.dimension,
      win_rate: d.win_rate as number,
      error: [(d.win_rate as number) - d.ci95![0], d.ci95![1] - (d.win_rate as number)],
    }));
  const refusals = [
    { kind: 'red-team', n: report.refusals.red_team.n, baseline: report.refusals.red_team.baseline ?? 0, candidate: report.refusals.red_team.candidate ?? 0 },
    { kind: 'benign', n: report.refusals.benign.n, baseline: report.refusals.benign.baseline ?? 0, candidate: report.refusals.benign.candidate ?? 0 },
  ];
  return (
    <>
      <Section title="Win rate of the candidate per dimension">
        <p className="muted">
          Ties count half; 95% {report.method.interval === 'wilson' ? 'Wilson score' : report.method.interval} interval; a judgement with |2p − 1| under{' '}
          {report.method.tie_margin} is a tie. Right of 0.5 the candidate is better. Rubric {report.rubric.name}@{report.rubric.version}.
        </p>
        <div data-testid="forest-plot" style={{ width: '100%', height: 60 + 44 * forest.length }}>
          <ResponsiveContainer>
            <ComposedChart layout="vertical" data={forest} margin={{ top: 10, right: 30, bottom: 10, left: 30 }}>
              <CartesianGrid strokeDasharray="3 3" horizontal={false} />
              <XAxis type="number" domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} />
              <YAxis type="category" dataKey="dimension" width={110} padding={{ top: 16, bottom: 16 }} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(3) : String(v))} />
              <ReferenceLine x={0.5} stroke="#c23b3b" strokeDasharray="4 4" />
              <Scatter name="win rate" dataKey="win_rate" fill={CANDIDATE_COLOR}>
                <ErrorBar dataKey="error" direction="x" width={8} strokeWidth={2} stroke={CANDIDATE_COLOR} />
              </Scatter>
            </ComposedChart>
          </ResponsiveContainer>
        </div>
        <table className="table" data-testid="dimension-table">
          <TableHead columns={['dimension', num('n'), num('candidate wins'), num('baseline wins'), num('ties'), num('win rate'), '95% interval', 'reading']} />
          <tbody>
            {report.dimensions.map((d) => (
              <tr key={d.dimension} data-dimension={d.dimension}>
                <td>{d.dimension}</td>
                <td className="num">{d.n}</td>
                <td className="num">{d.candidate_wins}</td>
                <td className="num">{d.baseline_wins}</td>
                <td className="num">{d.ties}</td>
                <td className="num">{d.win_rate === null ? '–' : d.win_rate.toFixed(3)}</td>
                <td className="mono">{d.ci95 ? `[${d.ci95[0].toFixed(3)}, ${d.ci95[1].toFixed(3)}]` : '–'}</td>
                <td>{!d.ci95 ? 'not judged' : d.ci95[0] > 0.5 ? 'candidate better' : d.ci95[1] < 0.5 ? 'baseline better' : 'no clear difference'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Refusal rate of the final answers">
        <div data-testid="refusal-chart" style={{ width: '100%', height: 260 }}>
          <ResponsiveContainer>
            <BarChart data={refusals} margin={{ top: 10, right: 30, bottom: 10, left: 10 }}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="kind" />
              <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? percent(v, 1) : String(v))} />
              <Legend />
              <Bar dataKey="baseline" name="baseline" fill={BASELINE_COLOR} />
              <Bar dataKey="candidate" name="candidate" fill={CANDIDATE_COLOR} />
            </BarChart>
          </ResponsiveContainer>
        </div>
        <table className="table" data-testid="refusal-table">
          <TableHead columns={['prompts', num('n'), num('baseline refuses'), num('candidate refuses')]} />
          <tbody>
            {(['red_team', 'benign'] as const).map((k) => (
              <tr key={k} data-kind={k}>
                <td>{k === 'red_team' ? 'red-team' : 'benign'}</td>
                <td className="num">{report.refusals[k].n}</td>
                <td className="num">{percent(report.refusals[k].baseline, 1)}</td>
                <td className="num">{percent(report.refusals[k].candidate, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Where the two differ most">
        {report.most_different.length === 0 ? <p className="muted">The two constitutions gave the same final answers.</p> : null}
        <div data-testid="most-different">
          {report.most_different.map((m) => (
            <article key={m.index} className="card different" data-index={m.index}>
              <header className="card-header">
                <strong>
                  #{m.index + 1} {m.external_id ? <span className="mono muted">{m.external_id}</span> : null}
                </strong>
                <span className="muted">
                  {m.kind}, difference {m.difference.toFixed(2)}
                  {m.refusal.baseline !== m.refusal.candidate ? ` — ${m.refusal.candidate ? 'the candidate refuses' : 'the baseline refuses'}` : ''}
                </span>
              </header>
              <p className="prompt">{m.prompt}</p>
              <p className="muted">
                P(candidate better):{' '}
                {Object.entries(m.p_candidate)
                  .map(([d, p]) => `${d} ${p.toFixed(2)}`)
                  .join(', ')}
              </p>
              <div className="side-by-side">
                <div>
                  <h4>baseline</h4>
                  <div className="text" data-side="baseline">
                    {m.baseline}
                  </div>
                </div>
                <div>
                  <h4>candidate</h4>
                  <div className="text" data-side="candidate">
                    {m.candidate}
                  </div>
                </div>
              </div>
              <h4>word diff, baseline → candidate</h4>
              <WordDiff from={m.baseline} to={m.candidate} />
            </article>
          ))}
        </div>
      </Section>
    </>
  );
}
