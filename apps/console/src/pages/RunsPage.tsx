import { useMemo, useRef, useState } from 'react';
import { ConstitutionListSchema, CreateRunSchema, ROUNDS, RUN_MODES, RUN_STATUSES, RunListSchema, RunSchema, type Run } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useNow, useResource } from '../lib/hooks';
import { eta, formatCost, formatDuration, formatNumber, formatTime, isActive, runRate, shortId } from '../lib/format';
import { href, navigate, useRoute } from '../lib/router';
import { ErrorView, Field, Loading, ProgressBar, Section, StatusBadge } from '../components/common';

const POLL_MS = 1500;

export function RunsPage({ session }: { session: Session }) {
  const { query } = useRoute();
  const status = query.get('status') ?? '';
  const [limit, setLimit] = useState(25);
  const [creating, setCreating] = useState(false);
  // Every tick while a run is going; every 10th otherwise, to pick up runs started elsewhere.
  const ticks = useRef(0);
  const runs = useResource(
    () => session.client.get(RunListSchema, `/v1/runs?limit=${limit}${status ? `&status=${status}` : ''}`),
    [status, limit, session.key],
    { pollMs: POLL_MS, poll: (data) => !data || data.runs.some(isActive) || ++ticks.current % 10 === 0 },
  );
  const now = useNow(1000, runs.data?.runs.some(isActive) ?? false);

  return (
    <div className="page">
      <div className="page-title">
        <h1>Runs</h1>
        <div className="row">
          <select aria-label="status filter" value={status} onChange={(e) => navigate('/runs', { status: e.target.value })}>
            <option value="">every status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          {session.can.submitRuns ? (
            <button className="primary" onClick={() => setCreating((c) => !c)}>
              {creating ? 'Close' : 'New run'}
            </button>
          ) : null}
        </div>
      </div>
      {creating ? <NewRunForm session={session} onCreated={(run) => navigate(`/runs/${run.id}`)} /> : null}
      {runs.error && !runs.data ? <ErrorView error={runs.error} what="Runs" /> : null}
      {!runs.data && !runs.error ? <Loading what="runs" /> : null}
      {runs.data ? (
        <div className="card">
          <table className="table runs" data-testid="runs-table">
            <thead>
              <tr>
                <th>run</th>
                <th>status</th>
                <th>constitution</th>
                <th>progress</th>
                <th className="num">samples</th>
                <th className="num">calls</th>
                <th className="num">tokens</th>
                <th className="num">rate</th>
                <th>created</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.runs.length === 0 ? (
                <tr>
                  <td colSpan={9} className="muted">
                    No runs yet{session.can.submitRuns ? ': start one with “New run”, the CLI or POST /v1/runs.' : '.'}
                  </td>
                </tr>
              ) : null}
              {runs.data.runs.map((run) => (
                <RunRow key={run.id} run={run} now={now} />
              ))}
            </tbody>
          </table>
          {runs.data.next_cursor ? (
            <div className="row center">
              <button onClick={() => setLimit((l) => Math.min(l + 25, 200))} disabled={limit >= 200}>
                Show more
              </button>
            </div>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function RunRow({ run, now }: { run: Run; now: number }) {
  const rate = runRate(run, now);
  const left = eta(run, now);
  return (
    <tr data-run={run.id} data-status={run.status}>
      <td>
        <a href={href(`/runs/${run.id}`)} className="mono">
          {shortId(run.id)}
        </a>
        {run.simulated ? (
          <span className="badge subtle" title="answered by the built-in simulator">
            sim
          </span>
        ) : null}
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td>
        {run.constitution.name}@{run.constitution.version}
        <div className="muted small">
          {run.mode}, {run.rounds} round{run.rounds === 1 ? '' : 's'}
        </div>
      </td>
      <td className="progress-cell">
        <ProgressBar run={run} />
      </td>
      <td className="num" data-testid="counts">
        {run.counts.completed}/{run.counts.total}
        {run.counts.failed ? <span className="bad"> · {run.counts.failed} failed</span> : null}
        {run.counts.cancelled ? <span className="muted"> · {run.counts.cancelled} cancelled</span> : null}
        {run.counts.budget_exhausted ? <span className="bad"> · {run.counts.budget_exhausted} over budget</span> : null}
      </td>
      <td className="num">{formatNumber(run.usage.calls)}</td>
      <td className="num">
        {formatNumber(run.usage.prompt_tokens + run.usage.completion_tokens)}
        {run.usage.cost_usd !== undefined ? <div className="muted small">{formatCost(run.usage.cost_usd)}</div> : null}
      </td>
      <td className="num">
        {rate ? `${rate.perSecond.toFixed(1)}/s` : '—'}
        {left !== null ? <div className="muted small">ETA {formatDuration(left)}</div> : null}
      </td>
      <td className="small">{formatTime(run.created_at)}</td>
    </tr>
  );
}

function NewRunForm({ session, onCreated }: { session: Session; onCreated: (run: Run) => void }) {
  const constitutions = useResource(() => session.client.get(ConstitutionListSchema, '/v1/constitutions'), []);
  const [constitution, setConstitution] = useState('');
  const [prompts, setPrompts] = useState('');
  const [rounds, setRounds] = useState(1);
  const [mode, setMode] = useState<string>(RUN_MODES[0]);
  const [seed, setSeed] = useState('');
  const [model, setModel] = useState('default');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const body = useMemo(
    () => ({
      constitution: constitution || constitutions.data?.constitutions[0]?.name || '',
      prompts: prompts.split('\n').filter((l) => l.trim() !== ''),
      rounds,
      mode,
      model: model.trim(),
      ...(seed.trim() !== '' ? { seed: Number(seed) } : {}),
    }),
    [constitution, constitutions.data, prompts, rounds, mode, seed, model],
  );
  // The same schema the API validates with: errors show before anything is sent.
  const check = CreateRunSchema.safeParse(body);
  const issues = check.success ? [] : check.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onCreated(await session.client.send(RunSchema, 'POST', '/v1/runs', body));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="New run">
      <div className="grid-2">
        <div>
          <Field label="Prompts, one per line">
            <textarea name="prompts" rows={6} value={prompts} onChange={(e) => setPrompts(e.target.value)} placeholder="How do I kill a python process?" />
          </Field>
        </div>
        <div>
          <Field label="Constitution">
            <select name="constitution" value={body.constitution} onChange={(e) => setConstitution(e.target.value)}>
              {constitutions.data?.constitutions.map((c) => (
                <optgroup key={c.name} label={c.name}>
                  <option value={c.name}>
                    {c.name} (latest{c.latest ? `: ${c.latest}` : ''})
                  </option>
                  {c.versions.map((v) => (
                    <option key={v.version} value={`${c.name}@${v.version}`}>
                      {c.name}@{v.version}
                    </option>
                  ))}
                </optgroup>
              ))}
            </select>
          </Field>
          <div className="row">
            <Field label="Mode">
              <select name="mode" value={mode} onChange={(e) => setMode(e.target.value)}>
                {RUN_MODES.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </Field>
            <Field label="Rounds">
              <input name="rounds" type="number" min={ROUNDS.min} max={ROUNDS.max} value={rounds} onChange={(e) => setRounds(Number(e.target.value))} />
            </Field>
            <Field label="Seed">
              <input name="seed" type="number" value={seed} onChange={(e) => setSeed(e.target.value)} placeholder="random" />
            </Field>
            <Field label="Model alias">
              <input name="model" value={model} onChange={(e) => setModel(e.target.value)} />
            </Field>
          </div>
        </div>
      </div>
      {prompts.trim() !== '' && issues.length > 0 ? (
        <ul className="issues" data-testid="run-issues">
          {issues.map((i) => (
            <li key={i}>{i}</li>
          ))}
        </ul>
      ) : null}
      {error ? <ErrorView error={error} /> : null}
      <div className="row">
        <button className="primary" onClick={submit} disabled={busy || !check.success}>
          {busy ? 'Submitting…' : `Submit ${body.prompts.length} prompt${body.prompts.length === 1 ? '' : 's'}`}
        </button>
      </div>
    </Section>
  );
}
