import { ConstitutionDiffSchema, ConstitutionSummarySchema, type TextChange } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { href, navigate } from '../lib/router';
import { ErrorView, Loading, Section } from '../components/common';
import { Words } from '../components/WordDiff';

export function ConstitutionDiffPage({ session, name, from, to }: { session: Session; name: string; from: string | null; to: string | null }) {
  const summary = useResource(() => session.client.get(ConstitutionSummarySchema, `/v1/constitutions/${name}`), [name, session.key]);
  const versions = summary.data?.versions.map((v) => v.version) ?? [];
  const a = from ?? versions[Math.max(versions.length - 2, 0)];
  const b = to ?? versions[versions.length - 1];
  const diff = useResource(
    () => (a && b ? session.client.get(ConstitutionDiffSchema, `/v1/constitutions/${name}/diff?from=${a}&to=${b}`) : new Promise<never>(() => undefined)),
    [name, a, b, session.key],
  );

  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/constitutions')}>Constitutions</a> / <a href={href(`/constitutions/${name}`)}>{name}</a> / diff
        </h1>
        <div className="row">
          <select aria-label="from version" value={a ?? ''} onChange={(e) => navigate(`/constitutions/${name}/diff`, { from: e.target.value, to: b })}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
          →
          <select aria-label="to version" value={b ?? ''} onChange={(e) => navigate(`/constitutions/${name}/diff`, { from: a, to: e.target.value })}>
            {versions.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </div>
      </div>
      {summary.error ? <ErrorView error={summary.error} /> : null}
      {diff.error ? <ErrorView error={diff.error} what="Diff" /> : null}
      {!diff.data && !diff.error ? <Loading what="the diff" /> : null}
      {diff.data ? (
        <div data-testid="diff">
          <Section title={`${name}@${diff.data.from.version} → ${diff.data.to.version}`}>
            {diff.data.identical ? (
              <p>The two versions have the same content (sha256 {diff.data.to.sha256.slice(0, 12)}).</p>
            ) : (
              <p className="muted">
                {diff.data.principles.added.length} added · {diff.data.principles.removed.length} removed · {diff.data.principles.changed.length} changed ·{' '}
                {diff.data.principles.unchanged.length} unchanged{diff.data.principles.reordered ? ' · order changed' : ''}
              </p>
            )}
            {Object.entries(diff.data.metadata).map(([field, change]) => (change ? <TextChangeView key={field} label={field} change={change} /> : null))}
            {diff.data.system ? <TextChangeView label="system" change={diff.data.system} /> : null}
          </Section>
          {diff.data.principles.added.map((p) => (
            <Section key={`+${p.id}`} title={<span className="added">+ {p.id}</span>}>
              <div className="text added-text">{p.critique}</div>
              <div className="text added-text">{p.revision}</div>
            </Section>
          ))}
          {diff.data.principles.removed.map((p) => (
            <Section key={`-${p.id}`} title={<span className="removed">− {p.id}</span>}>
              <div className="text removed-text">{p.critique}</div>
              <div className="text removed-text">{p.revision}</div>
            </Section>
          ))}
          {diff.data.principles.changed.map((c) => (
            <Section key={`~${c.id}`} title={<span className="changed">~ {c.id}</span>}>
              {c.critique ? <TextChangeView label="critique" change={c.critique} /> : null}
              {c.revision ? <TextChangeView label="revision" change={c.revision} /> : null}
              {c.comparison ? <TextChangeView label="comparison" change={c.comparison} /> : null}
              {c.tags ? (
                <div className="small">
                  tags:{' '}
                  {c.tags.added.map((t) => (
                    <ins key={t}>{t} </ins>
                  ))}
                  {c.tags.removed.map((t) => (
                    <del key={t}>{t} </del>
                  ))}
                </div>
              ) : null}
              {c.weight ? (
                <div className="small">
                  weight: {c.weight.from} → {c.weight.to}
                </div>
              ) : null}
            </Section>
          ))}
          {diff.data.examples.added.length + diff.data.examples.removed.length + diff.data.examples.changed.length > 0 ? (
            <Section title="Few-shot examples">
              <p className="muted small">
                {diff.data.examples.added.length} added · {diff.data.examples.removed.length} removed · {diff.data.examples.changed.length} changed
              </p>
              {diff.data.examples.changed.map((e) => (
                <div key={e.index}>
                  {e.messages.map((m) =>
                    m.content ? <TextChangeView key={m.index} label={`example ${e.index + 1}, message ${m.index + 1}`} change={m.content} /> : null,
                  )}
                </div>
              ))}
            </Section>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function TextChangeView({ label, change }: { label: string; change: TextChange }) {
  return (
    <div className="text-change">
      <h4>{label}</h4>
      <Words words={change.words} />
    </div>
  );
}
