import { ConstitutionListSchema } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { formatTime } from '../lib/format';
import { href } from '../lib/router';
import { ErrorView, Loading } from '../components/common';

export function ConstitutionsPage({ session }: { session: Session }) {
  const list = useResource(() => session.client.get(ConstitutionListSchema, '/v1/constitutions'), [session.key]);
  return (
    <div className="page">
      <div className="page-title">
        <h1>Constitutions</h1>
        {session.can.publish ? (
          <a className="button primary" href={href('/constitutions/new')}>
            New constitution
          </a>
        ) : null}
      </div>
      {list.error ? <ErrorView error={list.error} what="Constitutions" /> : null}
      {!list.data && !list.error ? <Loading what="constitutions" /> : null}
      <div className="cards">
        {list.data?.constitutions.map((c) => {
          const latest = c.versions.find((v) => v.version === c.latest) ?? c.versions[c.versions.length - 1];
          return (
            <a key={c.name} className="card constitution-card" href={href(`/constitutions/${c.name}`)} data-constitution={c.name}>
              <h2>{latest?.title ?? c.name}</h2>
              <div className="mono">{c.name}</div>
              <div className="muted small">
                {c.versions.length} version{c.versions.length === 1 ? '' : 's'} · latest {c.latest ?? '(all deprecated)'}
                {latest ? ` · published ${formatTime(latest.published_at)}` : ''}
              </div>
            </a>
          );
        })}
      </div>
    </div>
  );
}
