import { useState } from 'react';
import {
  ConstitutionListSchema,
  EvalSetListSchema,
  EvaluationEstimateSchema,
  EvaluationListSchema,
  EvaluationSchema,
  type EvaluationEstimate,
} from '@amend/contracts';
import type { Session } from '../lib/session';
import { useAction, useResource } from '../lib/hooks';
import { formatNumber, formatTime, shortId } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, Field, Section, StatusBadge, num } from '../components/common';
import { ListPage } from '../components/ListPage';

const POLL_MS = 2000;

/** Constitution A/B evaluations: the list, and (authors, admins) a new one with its cost shown first. */
export function EvaluationsPage({ session }: { session: Session }) {
  const list = useResource(() => session.client.get(EvaluationListSchema, '/v1/evaluations?limit=50'), [session.key], {
    pollMs: POLL_MS,
    poll: (data) => !data || data.evaluations.some((e) => e.status === 'queued' || e.status === 'running'),
  });
  return (
    <ListPage
      title="Evaluations"
      newLabel="New evaluation"
      canCreate={session.can.evaluate}
      form={<NewEvaluationForm session={session} />}
      list={list}
      items={(data) => data.evaluations}
      testId="evaluations-table"
      columns={['evaluation', 'status', 'baseline', 'candidate', 'prompts', num('judged'), num('calls'), 'created']}
      empty={<>No evaluations yet{session.can.evaluate ? ': compare two versions with “New evaluation” or amend eval.' : '.'}</>}
      row={(e) => (
        <tr key={e.id}>
          <td className="mono">
            <a href={href(`/evaluations/${e.id}`)}>{shortId(e.id)}</a>
          </td>
          <td>
            <StatusBadge status={e.status} />
          </td>
          <td className="mono">{`${e.baseline.constitution.name}@${e.baseline.constitution.version}`}</td>
          <td className="mono">{`${e.candidate.constitution.name}@${e.candidate.constitution.version}`}</td>
          <td>{e.eval_set ?? 'own prompts'}</td>
          <td className="num">{`${e.progress.judged}/${e.progress.total}`}</td>
          <td className="num">{formatNumber(e.usage.calls)}</td>
          <td>{formatTime(e.created_at)}</td>
        </tr>
      )}
    />
  );
}

/** A constitution version to pick; the first one until the user picks. */
function VersionField(props: { label: string; name: string; value: string; versions: string[]; onChange: (v: string) => void }) {
  return (
    <Field label={props.label}>
      <select aria-label={props.name} value={props.value || props.versions[0] || ''} onChange={(e) => props.onChange(e.target.value)}>
        {props.versions.map((v) => (
          <option key={v}>{v}</option>
        ))}
      </select>
    </Field>
  );
}

function NewEvaluationForm({ session }: { session: Session }) {
  const constitutions = useResource(() => session.client.get(ConstitutionListSchema, '/v1/constitutions'), [session.key]);
  const sets = useResource(() => session.client.get(EvalSetListSchema, '/v1/evaluations/sets'), [session.key]);
  const versions = (constitutions.data?.constitutions ?? []).flatMap((c) => c.versions.map((v) => `${c.name}@${v.version}`));
  const [baseline, setBaseline] = useState('');
  const [candidate, setCandidate] = useState('');
  const [source, setSource] = useState<'set' | 'prompts'>('set');
  const [set, setSet] = useState('amend-edge');
  const [limit, setLimit] = useState('');
  const [prompts, setPrompts] = useState('');
  const [rounds, setRounds] = useState('1');
  const [seed] = useState(() => Math.floor(Math.random() * 2 ** 31));
  const [estimate, setEstimate] = useState<EvaluationEstimate | null>(null);
  const { busy, error, run } = useAction();

  const body = () => ({
    baseline: baseline || versions[0],
    candidate: candidate || versions[0],
    rounds: Number(rounds) || 1,
    seed,
    ...(source === 'set'
      ? { eval_set: set, ...(limit ? { limit: Number(limit) } : {}) }
      : {
          prompts: prompts
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        }),
  });
  const act = (start: boolean) =>
    run(async () => {
      if (!start) setEstimate(await session.client.send(EvaluationEstimateSchema, 'POST', '/v1/evaluations/estimate', body()));
      else navigate(`/evaluations/${(await session.client.send(EvaluationSchema, 'POST', '/v1/evaluations', body())).id}`);
    });
  // Any change makes the shown cost stale: it must be asked again before starting.
  const changed =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      setEstimate(null);
      set(v);
    };

  return (
    <Section title="New evaluation">
      <div className="form-grid" data-testid="new-evaluation">
        <VersionField label="Baseline (in use)" name="baseline" value={baseline} versions={versions} onChange={changed(setBaseline)} />
        <VersionField label="Candidate (new)" name="candidate" value={candidate} versions={versions} onChange={changed(setCandidate)} />
        <Field label="Prompts">
          <select aria-label="prompt source" value={source} onChange={(e) => changed(setSource)(e.target.value as 'set' | 'prompts')}>
            <option value="set">a bundled set</option>
            <option value="prompts">my prompts</option>
          </select>
        </Field>
        {source === 'set' ? (
          <>
            <Field label="Set" hint={sets.data?.sets.find((s) => s.name === set)?.licence}>
              <select aria-label="set" value={set} onChange={(e) => changed(setSet)(e.target.value)}>
                {(sets.data?.sets ?? []).map((s) => (
                  <option key={s.name} value={s.name}>{`${s.name} (${s.prompts}: ${s.red_team} red-team, ${s.benign} benign)`}</option>
                ))}
              </select>
            </Field>
            <Field label="Limit" hint="this many prompts, drawn by the seed">
              <input aria-label="limit" inputMode="numeric" value={limit} onChange={(e) => changed(setLimit)(e.target.value)} placeholder="all" />
            </Field>
          </>
        ) : (
          <Field label="One prompt per line">
            <textarea aria-label="prompts" rows={5} value={prompts} onChange={(e) => changed(setPrompts)(e.target.value)} />
          </Field>
        )}
        <Field label="Rounds">
          <input aria-label="rounds" inputMode="numeric" value={rounds} onChange={(e) => changed(setRounds)(e.target.value)} />
        </Field>
      </div>
      {estimate ? (
        <div className="card estimate" data-testid="estimate">
          <strong>Cost before start:</strong> {estimate.prompts} prompts ({estimate.red_team} red-team, {estimate.benign} benign),{' '}
          {formatNumber(estimate.calls)} calls (per prompt: baseline {estimate.calls_per_prompt.baseline}, candidate {estimate.calls_per_prompt.candidate} with
          the shared draft, judge {estimate.calls_per_prompt.judge_benign} benign / {estimate.calls_per_prompt.judge_red_team} red-team), at most{' '}
          {formatNumber(estimate.tokens)} tokens
          {estimate.budget_per_run ? '; each run keeps to its budget' : ''}.
        </div>
      ) : null}
      {error ? <ErrorView error={error} what="The evaluation" /> : null}
      <div className="row">
        <button onClick={() => void act(false)} disabled={busy || versions.length === 0}>
          Show cost
        </button>
        <button className="primary" onClick={() => void act(true)} disabled={busy || !estimate}>
          Start evaluation
        </button>
      </div>
    </Section>
  );
}
