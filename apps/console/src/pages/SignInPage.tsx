import { useState, type FormEvent } from 'react';
import { ErrorAnswer } from '../lib/api';
import { signIn, type Session } from '../lib/session';

export function SignInPage({ onSignedIn, onUnauthorized, notice }: { onSignedIn: (s: Session) => void; onUnauthorized: () => void; notice?: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key.trim(), onUnauthorized));
    } catch (err) {
      setError(
        err instanceof ErrorAnswer && (err.code === 'invalid_key' || err.code === 'unauthenticated')
          ? 'The server refused this key: check it, or ask an admin for a new one.'
          : String((err as Error).message ?? err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <h1>
          Amend <span className="muted">console</span>
        </h1>
        <p className="muted">Runs, pairs and reviews for ML teams, constitutions for policy authors, the audit trail for auditors.</p>
        <label className="field">
          <span className="field-label">API key</span>
          <input name="key" type="password" autoComplete="off" placeholder="amd_…" value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
          <span className="field-hint">Kept in this tab only (session storage), sent as Authorization: Bearer.</span>
        </label>
        {notice && !error ? <div className="notice warn">{notice}</div> : null}
        {error ? (
          <div className="notice error" role="alert">
            {error}
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="primary" disabled={busy || key.trim() === ''}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
        <p className="muted small">No key? An admin creates one: POST /v1/keys, or the Keys page of an admin's console.</p>
      </form>
    </div>
  );
}
