import { useEffect, useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import { anonymousSession, serverIsOpen, signIn, type Session } from '../lib/session';

export function SignInPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<boolean | null>(null);

  useEffect(() => {
    serverIsOpen().then(setOpen, () => setOpen(false));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The server refused this key: check it, or ask an admin for a new one.' : String((err as Error).message ?? err));
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
          <input
            name="key"
            type="password"
            autoComplete="off"
            placeholder="amd_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            autoFocus
          />
          <span className="field-hint">Kept in this tab only (session storage), sent as Authorization: Bearer.</span>
        </label>
        {error ? (
          <div className="notice error" role="alert">
            {error}
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="primary" disabled={busy || key.trim() === ''}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
          {open ? (
            <button type="button" onClick={() => onSignedIn(anonymousSession())} data-testid="anonymous">
              Continue without a key
            </button>
          ) : null}
        </div>
        {open ? <p className="muted small">This server has no API keys: without a key you may do everything.</p> : null}
      </form>
    </div>
  );
}
