import { useEffect, useState } from 'react';
import { forgetKey, signIn, storedKey, type Session } from './lib/session';
import { href, navigate, useRoute } from './lib/router';
import { SignInPage } from './pages/SignInPage';
import { RunsPage } from './pages/RunsPage';
import { RunPage } from './pages/RunPage';
import { PairsPage } from './pages/PairsPage';
import { PairPage } from './pages/PairPage';
import { SearchPage } from './pages/SearchPage';
import { ReviewWorkspacePage } from './pages/ReviewWorkspacePage';
import { ConstitutionsPage } from './pages/ConstitutionsPage';
import { ConstitutionPage } from './pages/ConstitutionPage';
import { ConstitutionDiffPage } from './pages/ConstitutionDiffPage';
import { ConstitutionEditorPage } from './pages/ConstitutionEditorPage';
import { AuditPage } from './pages/AuditPage';
import { KeysPage } from './pages/KeysPage';
import { EvaluationsPage } from './pages/EvaluationsPage';
import { EvaluationPage } from './pages/EvaluationPage';
import { SuggestionSetPage, SuggestionsPage } from './pages/SuggestionsPage';
import { Loading } from './components/common';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  // The key was refused mid-session (revoked): back to the sign-in page, saying why.
  const refused = () => {
    forgetKey();
    setSession(null);
    setNotice('The server refused your key (revoked or expired?): sign in again.');
  };

  // A key kept for this tab signs in again after a reload.
  useEffect(() => {
    const key = storedKey();
    if (!key) return setChecking(false);
    signIn(key, refused)
      .then(setSession)
      .catch(() => forgetKey())
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <Loading what="the session" />;
  if (!session) {
    return (
      <SignInPage
        notice={notice}
        onUnauthorized={refused}
        onSignedIn={(s) => {
          setNotice(null);
          setSession(s);
          if (route.path[0] === 'signin' || route.path.length === 0) navigate(home(s));
        }}
      />
    );
  }

  const signOut = () => {
    forgetKey();
    setSession(null);
    navigate('/signin');
  };

  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href={href(home(session))}>
          Amend <span className="muted">console</span>
        </a>
        <nav>
          {session.can.readRuns && (
            <a href={href('/runs')} className={route.path[0] === 'runs' ? 'active' : ''}>
              Runs
            </a>
          )}
          {session.can.readRuns && (
            <a href={href('/search')} className={route.path[0] === 'search' ? 'active' : ''}>
              Search
            </a>
          )}
          {session.can.readConstitutions && (
            <a href={href('/constitutions')} className={route.path[0] === 'constitutions' ? 'active' : ''}>
              Constitutions
            </a>
          )}
          {session.can.readEvaluations && (
            <a href={href('/evaluations')} className={route.path[0] === 'evaluations' ? 'active' : ''}>
              Evaluations
            </a>
          )}
          {session.can.readSuggestions && (
            <a href={href('/suggestions')} className={route.path[0] === 'suggestions' ? 'active' : ''}>
              Suggestions
            </a>
          )}
          {session.can.audit && (
            <a href={href('/audit')} className={route.path[0] === 'audit' ? 'active' : ''}>
              Audit
            </a>
          )}
          {session.can.manageKeys && (
            <a href={href('/keys')} className={route.path[0] === 'keys' ? 'active' : ''}>
              Keys
            </a>
          )}
        </nav>
        <div className="who" data-testid="identity">
          <span className="badge role">{session.role}</span>
          <span className="muted"> team {session.team}</span>
          <span className="muted mono"> {session.key.slice(0, 10)}…</span>
          <button className="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Page session={session} />
      </main>
    </div>
  );
}

function home(s: Session): string {
  return s.can.readRuns ? '/runs' : s.can.readConstitutions ? '/constitutions' : s.can.manageKeys ? '/keys' : '/audit';
}

function Page({ session }: { session: Session }) {
  const { path, query } = useRoute();
  const [top, a, b, c] = path;
  switch (top) {
    case 'runs':
      if (!a) return <RunsPage session={session} />;
      if (b === 'review') return <ReviewWorkspacePage session={session} runId={a} tab={c === 'disagreements' ? 'disagreements' : 'queue'} />;
      if (b === 'pairs')
        return <PairsPage session={session} runId={a} index={c === undefined ? undefined : Number(c)} filter={query.get('status') ?? undefined} />;
      return <RunPage session={session} runId={a} />;
    case 'search':
      return <SearchPage session={session} />;
    case 'pairs':
      return a ? <PairPage session={session} pairId={a} /> : <SearchPage session={session} />;
    case 'constitutions':
      if (!a) return <ConstitutionsPage session={session} />;
      if (a === 'new' || b === 'edit')
        return <ConstitutionEditorPage key={`${a}/${b}`} session={session} name={a === 'new' ? null : a} base={query.get('from')} />;
      if (b === 'diff') return <ConstitutionDiffPage session={session} name={a} from={query.get('from')} to={query.get('to')} />;
      return <ConstitutionPage session={session} name={a} version={b ?? null} />;
    case 'keys':
      return <KeysPage session={session} />;
    case 'evaluations':
      return a ? <EvaluationPage session={session} id={a} /> : <EvaluationsPage session={session} />;
    case 'suggestions':
      return a ? <SuggestionSetPage session={session} id={a} /> : <SuggestionsPage session={session} />;
    case 'audit':
      return <AuditPage session={session} kind={a === 'runs' || a === 'samples' ? a : null} id={b ?? null} />;
    default:
      navigate(home(session), undefined, { replace: true });
      return null;
  }
}
