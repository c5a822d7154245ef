import { useState } from 'react';
import { CreateKeySchema, CreatedKeySchema, KEY_ROLE_NAMES, KeyListSchema, KeySchema, type CreatedKey } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { formatTime } from '../lib/format';
import { ErrorView, Field, Loading, Section } from '../components/common';

/** Admins: keys of every team, a new key (shown once), revocation. */
export function KeysPage({ session }: { session: Session }) {
  const keys = useResource(() => session.client.get(KeyListSchema, '/v1/keys'), [session.key]);
  const [role, setRole] = useState<string>('submitter');
  const [team, setTeam] = useState('');
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const body = { role, team, ...(name.trim() ? { name: name.trim() } : {}) };
  const check = CreateKeySchema.safeParse(body);

  const create = async () => {
    setError(null);
    try {
      setCreated(await session.client.send(CreatedKeySchema, 'POST', '/v1/keys', body));
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (id: string) => {
    if (!window.confirm('Revoke this key? Requests with it are refused from now on.')) return;
    try {
      await session.client.send(KeySchema, 'DELETE', `/v1/keys/${id}`);
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div className="page">
      <div className="page-title">
        <h1>API keys</h1>
      </div>
      <Section title="New key">
        <div className="row wrap">
          <Field label="Role">
            <select value={role} onChange={(e) => setRole(e.target.value)} name="key-role">
              {KEY_ROLE_NAMES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </Field>
          <Field label="Team">
            <input value={team} onChange={(e) => setTeam(e.target.value)} name="key-team" placeholder="ml-team" />
          </Field>
          <Field label="Name">
            <input value={name} onChange={(e) => setName(e.target.value)} name="key-name" placeholder="who or what uses it" />
          </Field>
          <button className="primary" disabled={!check.success} onClick={create}>
            Create key
          </button>
        </div>
        {team && !check.success ? <div className="issues small">{check.error.issues[0]?.message}</div> : null}
        {created ? (
          <div className="notice ok">
            Key for {created.role} of team {created.team}, shown this once: <code className="mono">{created.key}</code>
          </div>
        ) : null}
        {error ? <ErrorView error={error} /> : null}
      </Section>
      <Section title="Keys">
        {keys.error ? <ErrorView error={keys.error} what="Keys" /> : null}
        {!keys.data && !keys.error ? <Loading what="keys" /> : null}
        <table className="table">
          <thead>
            <tr>
              <th>prefix</th>
              <th>role</th>
              <th>team</th>
              <th>name</th>
              <th>created</th>
              <th>revoked</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.data?.keys.map((k) => (
              <tr key={k.id}>
                <td className="mono">{k.prefix}…</td>
                <td>{k.role}</td>
                <td>{k.team}</td>
                <td>{k.name ?? '—'}</td>
                <td className="small">
                  {formatTime(k.created_at)} <span className="muted">by {k.created_by}</span>
                </td>
                <td className="small">{formatTime(k.revoked_at)}</td>
                <td>
                  {!k.revoked_at && k.id !== session.actor?.replace(/^key:/, '') ? (
                    <button className="danger" onClick={() => revoke(k.id)}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
