import { useState } from 'react';
import { DEFAULT_EXCLUDE, PAIR_FLAGS, PAIR_FORMATS, QualityReportSchema, RunSchema, SampleListSchema, type QualityFigures, type Run } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useNow, useResource } from '../lib/hooks';
import { downloadExport } from '../lib/download';
import { downloadSummary, eta, formatCost, formatDuration, formatNumber, formatTime, isActive, percent, runRate, shortId } from '../lib/format';
import { href } from '../lib/router';
import { ErrorView, KeyValue, Loading, ProgressBar, Section, StatusBadge } from '../components/common';

export function RunPage({ session, runId }: { session: Session; runId: string }) {
  const run = useResource(() => session.client.get(RunSchema, `/v1/runs/${runId}`), [runId, session.key], {
    pollMs: 1500,
    poll: (r) => !r || isActive(r),
  });
  const now = useNow(1000, run.data ? isActive(run.data) : false);

  if (run.error && !run.data) return <ErrorView error={run.error} what="Run" />;
  if (!run.data) return <Loading what="the run" />;
  const r = run.data;
  const rate = runRate(r, now);
  const left = eta(r, now);

  return (
    <div className="page">
      <div className="page-title">
        <h1>
          Run <span className="mono">{shortId(r.id)}</span> <StatusBadge status={r.status} />
        </h1>
        <div className="row">
          {r.counts.completed > 0 && session.can.readRuns ? (
            <a className="button primary" href={href(`/runs/${r.id}/pairs/0`)}>
              {session.can.reviewPairs ? 'Review pairs' : 'View pairs'}
            </a>
          ) : null}
          {r.counts.completed > 0 && session.can.readRuns ? (
            <a className="button" href={href(`/runs/${r.id}/review`)} data-testid="workspace-link">
              Review workspace
            </a>
          ) : null}
          {session.can.audit ? (
            <a className="button" href={href(`/audit/runs/${r.id}`)}>
              Audit trail
            </a>
          ) : null}
          {session.can.submitRuns && isActive(r) ? <CancelButton session={session} run={r} onCancelled={run.set} /> : null}
        </div>
      </div>

      <Section title="Progress">
        <ProgressBar run={r} />
        <div className="stats" data-testid="run-stats">
          <Stat label="completed" value={`${r.counts.completed} / ${r.counts.total}`} testId="completed" />
          <Stat label="running" value={r.counts.running} />
          <Stat label="pending" value={r.counts.pending} />
          <Stat label="failed" value={r.counts.failed} tone={r.counts.failed ? 'bad' : undefined} />
          <Stat label="cancelled" value={r.counts.cancelled} />
          {r.counts.budget_exhausted !== undefined ? (
            <Stat label="stopped by the budget" value={r.counts.budget_exhausted} tone={r.counts.budget_exhausted ? 'bad' : undefined} />
          ) : null}
          {r.usage.cost_usd !== undefined ? <Stat label={r.batch ? 'cost (batch prices)' : 'cost'} value={formatCost(r.usage.cost_usd)} /> : null}
          {r.batch ? (
            <Stat
              label="Batch API wave"
              testId="batch-wave"
              value={r.batch.wave === null ? 'submitting' : `wave ${r.batch.wave}`}
              sub={r.batch.batches
                .map(
                  (b) =>
                    `${b.status} ${b.request_counts.completed + b.request_counts.failed}/${b.request_counts.total}${b.request_counts.failed ? `, ${b.request_counts.failed} failed` : ''}`,
                )
                .join('; ')}
            />
          ) : null}
          <Stat label="model calls" value={formatNumber(r.usage.calls)} />
          <Stat label="prompt tokens" value={formatNumber(r.usage.prompt_tokens)} />
          <Stat label="completion tokens" value={formatNumber(r.usage.completion_tokens)} />
          <Stat
            label="rate"
            value={rate ? `${rate.perSecond.toFixed(2)} samples/s` : '—'}
            sub={rate ? `${formatNumber(Math.round(rate.tokensPerSecond))} tokens/s` : undefined}
          />
          <Stat
            label={isActive(r) ? 'elapsed · ETA' : 'took'}
            value={rate ? formatDuration(rate.elapsedMs) : '—'}
            sub={left !== null ? `ETA ${formatDuration(left)}` : undefined}
          />
        </div>
        {r.failures.length > 0 ? (
          <div className="failures">
            <h3>Why samples failed</h3>
            <ul>
              {r.failures.map((f) => (
                <li key={f.reason}>
                  <strong>{f.count}×</strong> {f.reason}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </Section>

      <div className="grid-2">
        <Section title="Run">
          <KeyValue
            items={[
              ['id', <span className="mono">{r.id}</span>],
              [
                'constitution',
                <a href={href(`/constitutions/${r.constitution.name}/${r.constitution.version}`)}>{`${r.constitution.name}@${r.constitution.version}`}</a>,
              ],
              ['sha256', <span className="mono small">{r.constitution.sha256.slice(0, 16)}…</span>],
              ['mode', `${r.mode}${r.verify ? ' (verified)' : ''}`],
              ...(r.mode === 'ai-feedback' || r.verify
                ? ([
                    [
                      'judge',
                      `${r.candidates !== undefined && r.mode === 'ai-feedback' ? `${r.candidates} candidates, ` : ''}ensemble ${r.ensemble ?? 1}${r.cot ? ', chain of thought' : ''}, min margin ${r.min_margin ?? 0}`,
                    ],
                  ] as [string, string][])
                : []),
              ...(r.budget
                ? ([
                    [
                      'budget',
                      [r.budget.tokens !== undefined ? `${formatNumber(r.budget.tokens)} tokens` : null, formatCost(r.budget.cost_usd)]
                        .filter(Boolean)
                        .join(' or '),
                    ],
                  ] as [string, string][])
                : []),
              ['rounds', r.rounds],
              ['model', `${r.model}${r.simulated ? ' (simulator)' : ''}`],
              ['feedback model', r.feedback_model ?? '—'],
              ['seed', r.seed],
              ['sampling', `temperature ${r.sampling.temperature}, top_p ${r.sampling.top_p}, max_tokens ${r.sampling.max_tokens}`],
              ['created', formatTime(r.created_at)],
              ['started', formatTime(r.started_at)],
              ['finished', formatTime(r.finished_at)],
            ]}
          />
        </Section>
        <Downloads session={session} run={r} />
      </div>

      <Report session={session} run={r} />
      {r.counts.failed > 0 ? <FailedSamples session={session} run={r} /> : null}
    </div>
  );
}

function Stat({ label, value, sub, tone, testId }: { label: string; value: React.ReactNode; sub?: string; tone?: 'bad'; testId?: string }) {
  return (
    <div className={`stat ${tone ?? ''}`} data-testid={testId}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
      {sub ? <div className="stat-sub muted">{sub}</div> : null}
    </div>
  );
}

function CancelButton({ session, run, onCancelled }: { session: Session; run: Run; onCancelled: (r: Run) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <button
        className="danger"
        disabled={busy}
        onClick={async () => {
          if (!window.confirm(`Cancel run ${shortId(run.id)}? Pending samples stop; pairs made so far stay exportable.`)) return;
          setBusy(true);
          try {
            onCancelled(await session.client.send(RunSchema, 'POST', `/v1/runs/${run.id}/cancel`));
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? 'Cancelling…' : 'Cancel run'}
      </button>
      {error ? <ErrorView error={error} /> : null}
    </>
  );
}

/** Which export a download is: a preference format, or SFT (their defaults differ: DEFAULT_EXCLUDE). */
type ExportKind = 'pairs' | 'sft';

function Downloads({ session, run }: { session: Session; run: Run }) {
  const [accepted, setAccepted] = useState(false);
  // The boxes start at the defaults the API applies, and the console always sends what is checked,
  // so what is shown is what is applied (docs/ml-teams.md "Left out").
  const [exclude, setExclude] = useState<Record<ExportKind, readonly string[]>>({ pairs: DEFAULT_EXCLUDE.pairs, sft: DEFAULT_EXCLUDE.sft });
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const get = async (format: string) => {
    const kind: ExportKind = format === 'sft' ? 'sft' : 'pairs';
    setError(null);
    setStatus(`Downloading ${format}…`);
    const q = new URLSearchParams();
    if (kind === 'pairs') q.set('format', format);
    if (accepted) q.set('reviewed', 'accepted');
    q.set('exclude', exclude[kind].join(','));
    const path = `/v1/runs/${run.id}/${kind}?${q}`;
    try {
      const got = await downloadExport(session.client, path, `run-${shortId(run.id)}-${format}${accepted ? '-accepted' : ''}.jsonl`);
      setStatus(downloadSummary(format, got));
    } catch (e) {
      setStatus(null);
      setError(e);
    }
  };

  const flagBoxes = (kind: ExportKind) => (
    <div className="row wrap small" data-testid={`exclude-${kind}`}>
      <span className="muted">{kind === 'pairs' ? 'pairs' : 'SFT'}: leave out pairs flagged</span>
      {PAIR_FLAGS.map((f) => (
        <label key={f} className="check">
          <input
            type="checkbox"
            name={`exclude-${kind}-${f}`}
            checked={exclude[kind].includes(f)}
            onChange={(e) => setExclude((x) => ({ ...x, [kind]: e.target.checked ? [...x[kind], f] : x[kind].filter((y) => y !== f) }))}
          />{' '}
          {f}
        </label>
      ))}
    </div>
  );

  return (
    <Section title="Download">
      <p className="muted small">JSON Lines; pairs load with datasets.load_dataset("json", …) and feed TRL's DPOTrainer as they are.</p>
      <div className="row wrap">
        {PAIR_FORMATS.map((f) => (
          <button key={f} onClick={() => get(f)} data-testid={`download-${f}`}>
            pairs · {f}
          </button>
        ))}
        <button onClick={() => get('sft')} data-testid="download-sft">
          SFT
        </button>
      </div>
      <label className="check">
        <input type="checkbox" checked={accepted} onChange={(e) => setAccepted(e.target.checked)} /> only pairs a reviewer accepted (reviewed=accepted)
      </label>
      {flagBoxes('pairs')}
      {flagBoxes('sft')}
      <p className="muted small">
        Checked at first: what the API leaves out by default (truncated pairs everywhere; no-op pairs, whose chosen equals rejected, in the preference formats).
        Erased pairs are always left out.
      </p>
      {status ? (
        <div className="muted small" data-testid="download-status">
          {status}
        </div>
      ) : null}
      {error ? <ErrorView error={error} what="Download" /> : null}
    </Section>
  );
}

function Report({ session, run }: { session: Session; run: Run }) {
  const report = useResource(
    () => session.client.get(QualityReportSchema, `/v1/runs/${run.id}/report`),
    [run.id, run.status, run.counts.completed === run.counts.total],
  );
  return (
    <Section title="Quality report" actions={<button onClick={report.reload}>Refresh</button>} id="report">
      {report.error ? <ErrorView error={report.error} what="The quality report" /> : null}
      {!report.data && !report.error ? <Loading what="the report" /> : null}
      {report.data ? (
        <table className="table report" data-testid="report">
          <thead>
            <tr>
              <th>principle</th>
              <th className="num">pairs</th>
              <th className="num">no-op</th>
              <th className="num">length ratio</th>
              <th className="num">refusals chosen / rejected</th>
              <th className="num">refusal drift</th>
              <th className="num">judge order agreement</th>
              <th className="num">(A) wins</th>
              <th className="num">mean p(chosen)</th>
              <th>flags</th>
            </tr>
          </thead>
          <tbody>
            <FiguresRow name={<strong>overall</strong>} f={report.data.overall} />
            {Object.entries(report.data.principles).map(([id, f]) => (
              <FiguresRow key={id} name={id} f={f} />
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

function FiguresRow({ name, f }: { name: React.ReactNode; f: QualityFigures }) {
  const flags = Object.entries(f.flags).filter(([, n]) => n > 0);
  return (
    <tr>
      <td>{name}</td>
      <td className="num">{f.pairs}</td>
      <td className="num">{percent(f.noop_share, 1)}</td>
      <td className="num">{f.length_ratio === null ? '—' : f.length_ratio.toFixed(2)}</td>
      <td className="num">
        {percent(f.refusal_rate_chosen, 1)} / {percent(f.refusal_rate_rejected, 1)}
      </td>
      <td className={`num ${f.refusal_drift ? 'bad' : ''}`}>{f.refusal_drift}</td>
      <td className="num">{percent(f.judge.order_agreement, 1)}</td>
      <td className="num">{percent(f.judge.a_wins, 1)}</td>
      <td className="num">{f.judge.mean_p_chosen === null ? '—' : f.judge.mean_p_chosen.toFixed(3)}</td>
      <td className="small">{flags.length ? flags.map(([k, n]) => `${k} ${n}`).join(', ') : '—'}</td>
    </tr>
  );
}

function FailedSamples({ session, run }: { session: Session; run: Run }) {
  const samples = useResource(() => session.client.get(SampleListSchema, `/v1/runs/${run.id}/samples?status=failed&limit=20`), [run.id, run.counts.failed]);
  return (
    <Section title="Failed samples">
      {samples.error ? <ErrorView error={samples.error} /> : null}
      <table className="table">
        <tbody>
          {samples.data?.samples.map((s) => (
            <tr key={s.id}>
              <td className="mono">#{s.index}</td>
              <td>{s.failure_reason}</td>
              <td>{session.can.audit ? <a href={href(`/audit/samples/${s.id}`)}>trail</a> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
