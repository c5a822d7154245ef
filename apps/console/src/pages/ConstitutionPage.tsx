import { useMemo, useState } from 'react';
import {
  ConstitutionDocumentSchema,
  ConstitutionSummarySchema,
  PREVIEW_MAX_PROMPTS,
  PreviewRequestSchema,
  PreviewResultSchema,
  type PreviewResult,
} from '@amend/contracts';
import { ConstitutionSchema, type Constitution } from '@amend/constitution';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { download } from '../lib/download';
import { formatTime } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, Field, KeyValue, Loading, Section } from '../components/common';
import { WordDiff } from '../components/WordDiff';

export function ConstitutionPage({ session, name, version }: { session: Session; name: string; version: string | null }) {
  const summary = useResource(() => session.client.get(ConstitutionSummarySchema, `/v1/constitutions/${name}`), [name, session.key]);
  const shown = version ?? summary.data?.latest ?? summary.data?.versions[summary.data.versions.length - 1]?.version ?? null;
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');

  if (summary.error) return <ErrorView error={summary.error} what={`Constitution ${name}`} />;
  if (!summary.data) return <Loading what={name} />;
  const versions = summary.data.versions;
  const diffFrom = from || versions[Math.max(versions.length - 2, 0)]?.version;
  const diffTo = to || versions[versions.length - 1]?.version;

  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/constitutions')}>Constitutions</a> / {name}
        </h1>
        {session.can.publish && shown ? (
          <a className="button primary" href={href(`/constitutions/${name}/edit`, { from: shown })}>
            New version from {shown}
          </a>
        ) : null}
      </div>
      <Section
        title="Versions"
        actions={
          versions.length > 1 ? (
            <div className="row" data-testid="diff-picker">
              <select aria-label="diff from" value={diffFrom} onChange={(e) => setFrom(e.target.value)}>
                {versions.map((v) => (
                  <option key={v.version}>{v.version}</option>
                ))}
              </select>
              →
              <select aria-label="diff to" value={diffTo} onChange={(e) => setTo(e.target.value)}>
                {versions.map((v) => (
                  <option key={v.version}>{v.version}</option>
                ))}
              </select>
              <button onClick={() => navigate(`/constitutions/${name}/diff`, { from: diffFrom, to: diffTo })}>Diff</button>
            </div>
          ) : null
        }
      >
        <table className="table" data-testid="versions">
          <thead>
            <tr>
              <th>version</th>
              <th>sha256</th>
              <th>changelog</th>
              <th>published by</th>
              <th>at</th>
              <th>source</th>
            </tr>
          </thead>
          <tbody>
            {[...versions].reverse().map((v) => (
              <tr key={v.version} className={v.version === shown ? 'selected' : ''} data-version={v.version}>
                <td>
                  <a href={href(`/constitutions/${name}/${v.version}`)}>{v.version}</a>
                  {v.version === summary.data!.latest ? <span className="badge subtle">latest</span> : null}
                  {v.deprecated ? (
                    <span className="badge warn" title={v.deprecation_reason ?? ''}>
                      deprecated
                    </span>
                  ) : null}
                </td>
                <td className="mono small">{v.sha256.slice(0, 12)}</td>
                <td className="small">{v.changelog ?? '—'}</td>
                <td className="small">{v.published_by}</td>
                <td className="small">{formatTime(v.published_at)}</td>
                <td className="small">{v.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {shown ? <VersionView session={session} name={name} version={shown} /> : null}
    </div>
  );
}

function VersionView({ session, name, version }: { session: Session; name: string; version: string }) {
  const doc = useResource(() => session.client.get(ConstitutionDocumentSchema, `/v1/constitutions/${name}/${version}`), [name, version, session.key]);
  const content = useMemo(() => (doc.data ? ConstitutionSchema.safeParse(doc.data.content) : null), [doc.data]);
  if (doc.error) return <ErrorView error={doc.error} />;
  if (!doc.data || !content) return <Loading what={`${name}@${version}`} />;
  if (!content.success) return <ErrorView error={new Error(`${name}@${version} does not match the constitution schema: ${content.error.message}`)} />;
  const c = content.data;
  return (
    <>
      <Section
        title={`${name}@${version}${c.title ? ` · ${c.title}` : ''}`}
        actions={
          <button onClick={() => download(session.client, `/v1/constitutions/${name}/${version}?format=yaml`, `${name}-${version}.yaml`)}>Download YAML</button>
        }
      >
        {c.description ? <p>{c.description}</p> : null}
        <KeyValue
          items={[
            ['sha256', <span className="mono small">{doc.data.sha256}</span>],
            ['principles', c.principles.length],
            ['few-shot examples', c.examples.length],
            ['system message', c.system ?? '—'],
          ]}
        />
      </Section>
      <Section title="Principles">
        <div className="principles">
          {c.principles.map((p) => (
            <article key={p.id} className="principle" data-principle={p.id}>
              <header className="row">
                <strong className="mono">{p.id}</strong>
                {p.tags.map((t) => (
                  <span key={t} className="badge subtle">
                    {t}
                  </span>
                ))}
                {p.weight !== 1 ? <span className="muted small">weight {p.weight}</span> : null}
              </header>
              <KeyValue
                items={[['critique', p.critique], ['revision', p.revision], ...(p.comparison ? ([['comparison', p.comparison]] as [string, string][]) : [])]}
              />
            </article>
          ))}
        </div>
      </Section>
      {session.can.preview ? <Preview session={session} name={name} version={version} constitution={c} /> : null}
    </>
  );
}

function Preview({ session, name, version, constitution }: { session: Session; name: string; version: string; constitution: Constitution }) {
  const [principle, setPrinciple] = useState('');
  const [prompts, setPrompts] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<PreviewResult | null>(null);
  const body = { prompts: prompts.split('\n').filter((l) => l.trim() !== ''), ...(principle ? { principle } : {}) };
  const check = PreviewRequestSchema.safeParse(body);

  const run = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await session.client.send(PreviewResultSchema, 'POST', `/v1/constitutions/${name}/${version}/preview`, body));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Preview a principle" id="preview">
      <p className="muted small">
        Runs draft, critique and revision on up to {PREVIEW_MAX_PROMPTS} prompts at high priority and shows what the principle does. Previews are small runs
        kept out of run lists.
      </p>
      <div className="grid-2">
        <Field label="Prompts, one per line">
          <textarea name="preview-prompts" rows={4} value={prompts} onChange={(e) => setPrompts(e.target.value)} placeholder="How do I pick a lock?" />
        </Field>
        <div>
          <Field label="Principle">
            <select name="preview-principle" value={principle} onChange={(e) => setPrinciple(e.target.value)}>
              <option value="">any (sampled by weight)</option>
              {constitution.principles.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.id}
                </option>
              ))}
            </select>
          </Field>
          {!check.success && prompts.trim() ? <div className="issues small">{check.error.issues[0]?.message}</div> : null}
          <button className="primary" onClick={run} disabled={busy || !check.success}>
            {busy ? 'Running preview…' : 'Preview'}
          </button>
        </div>
      </div>
      {error ? <ErrorView error={error} what="Preview" /> : null}
      {result ? (
        <div className="preview-results" data-testid="preview-results">
          <div className="muted small">
            {result.constitution.name}@{result.constitution.version} · {result.usage.calls} calls · {result.simulated ? 'simulator' : 'model'}
          </div>
          {result.results.map((r) => (
            <div key={r.sample_id} className="preview-result">
              <h3>{r.prompt}</h3>
              {r.failure_reason ? <div className="notice error">{r.failure_reason}</div> : null}
              {r.pair ? (
                <>
                  <h4>Draft</h4>
                  <div className="text">{r.pair.draft}</div>
                  {r.pair.rounds.map((round, i) => (
                    <div key={i} className="grid-2">
                      <div>
                        <h4>Critique · {round.principle_id}</h4>
                        <div className="text">{round.critique}</div>
                      </div>
                      <div>
                        <h4>Revision</h4>
                        <WordDiff from={i === 0 ? r.pair!.draft : r.pair!.rounds[i - 1].revision} to={round.revision} />
                      </div>
                    </div>
                  ))}
                </>
              ) : null}
            </div>
          ))}
        </div>
      ) : null}
    </Section>
  );
}
