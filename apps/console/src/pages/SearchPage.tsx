import { useEffect, useState, type FormEvent } from 'react';
import { PAIR_FLAGS, PairSearchResultSchema, REVIEW_FILTERS, SEARCH_MAX_QUERY_CHARS, type PairSearchHit } from '@amend/contracts';
import type { Session } from '../lib/session';
import { formatTime, shortId } from '../lib/format';
import { href, navigate, useRoute } from '../lib/router';
import { ErrorView, Loading } from '../components/common';

const PAGE = 25;
/** The URL's own parameters; `metadata.KEY=VALUE` ones are the metadata filters, as in the API. */
const FIELDS = ['q', 'run', 'flag', 'principle', 'review_status'] as const;

/**
 * `GET /v1/pairs` with a form: the search lives in the URL (`#/search?q=...&metadata.split=train`),
 * so a search can be linked and the back button returns to it. Each hit links to its pair page.
 */
export function SearchPage({ session }: { session: Session }) {
  const { query } = useRoute();
  const params = new URLSearchParams();
  for (const [k, v] of query) if (v !== '' && ((FIELDS as readonly string[]).includes(k) || k.startsWith('metadata.'))) params.set(k, v);
  const key = params.toString();
  const [hits, setHits] = useState<PairSearchHit[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<'loading' | 'done' | 'more'>('loading');
  const [error, setError] = useState<unknown>(null);

  const load = async (after: string | null, reset: boolean) => {
    setError(null);
    try {
      const page = await session.client.get(
        PairSearchResultSchema,
        `/v1/pairs?${key}${key ? '&' : ''}limit=${PAGE}${after ? `&cursor=${encodeURIComponent(after)}` : ''}`,
      );
      setHits((cur) => (reset ? page.pairs : [...cur, ...page.pairs]));
      setCursor(page.next_cursor);
      setState('done');
    } catch (e) {
      setError(e);
      setState('done');
    }
  };

  useEffect(() => {
    setHits([]);
    setCursor(null);
    setState('loading');
    void load(null, true);
    // The URL's search is the page's state: a new one starts from its first page.
  }, [key, session.key]);

  return (
    <div className="page search-page">
      <div className="page-title">
        <h1>Search pairs</h1>
      </div>
      <SearchForm key={key} initial={params} />
      {error ? <ErrorView error={error} what="Search" /> : null}
      {state === 'loading' ? <Loading what="pairs" /> : null}
      {state !== 'loading' && !error ? (
        <div className="card">
          {hits.length === 0 ? (
            <div className="muted" data-testid="no-hits">
              No pairs match.
            </div>
          ) : (
            <table className="table" data-testid="search-results">
              <thead>
                <tr>
                  <th>pair</th>
                  <th>run</th>
                  <th>prompt and what matched</th>
                  <th>review</th>
                  <th>flags</th>
                  <th>made</th>
                </tr>
              </thead>
              <tbody>
                {hits.map((h) => (
                  <tr key={h.id} data-pair={h.id}>
                    <td>
                      <a className="mono" href={href(`/pairs/${h.id}`)}>
                        {shortId(h.id)}
                      </a>
                      <div className="muted small">#{h.sample_index + 1}</div>
                    </td>
                    <td>
                      <a className="mono small" href={href(`/runs/${h.run_id}`)}>
                        {shortId(h.run_id)}
                      </a>
                    </td>
                    <td>
                      <a href={href(`/pairs/${h.id}`)} className="hit-prompt">
                        {h.prompt}
                      </a>
                      {h.snippet ? (
                        <div className="snippet small" data-testid="snippet">
                          <Marked text={h.snippet} />
                        </div>
                      ) : null}
                      {h.prompt_metadata ? (
                        <div className="muted small mono">
                          {Object.entries(h.prompt_metadata)
                            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
                            .join(' · ')}
                        </div>
                      ) : null}
                    </td>
                    <td>
                      <span className={`badge review-${h.review_status}`}>{h.review_status}</span>
                    </td>
                    <td>
                      {h.flags.map((f) => (
                        <span key={f} className="badge warn small">
                          {f}
                        </span>
                      ))}
                    </td>
                    <td className="small muted">{formatTime(h.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {cursor ? (
            <button
              className="link"
              disabled={state === 'more'}
              onClick={() => {
                setState('more');
                void load(cursor, false);
              }}
            >
              more…
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** The server marks matched words «thus»: shown bold, the text itself never parsed as HTML. */
function Marked({ text }: { text: string }) {
  const parts = text.split(/«([^»]*)»/);
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : <span key={i}>{p}</span>))}</>;
}

function SearchForm({ initial }: { initial: URLSearchParams }) {
  const [q, setQ] = useState(initial.get('q') ?? '');
  const [run, setRun] = useState(initial.get('run') ?? '');
  const [flag, setFlag] = useState(initial.get('flag') ?? '');
  const [principle, setPrinciple] = useState(initial.get('principle') ?? '');
  const [review, setReview] = useState(initial.get('review_status') ?? '');
  const [metadata, setMetadata] = useState(
    [...initial.entries()]
      .filter(([k]) => k.startsWith('metadata.'))
      .map(([k, v]) => `${k.slice('metadata.'.length)}=${v}`)
      .join(', '),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next: Record<string, string> = { q: q.trim(), run: run.trim(), flag, principle: principle.trim(), review_status: review };
    for (const part of metadata.split(',')) {
      const at = part.indexOf('=');
      if (at > 0) next[`metadata.${part.slice(0, at).trim()}`] = part.slice(at + 1).trim();
    }
    navigate('/search', next);
  };
  return (
    <form className="card search-form" onSubmit={submit} role="search">
      <div className="row wrap">
        <input
          name="q"
          className="grow"
          value={q}
          maxLength={SEARCH_MAX_QUERY_CHARS}
          onChange={(e) => setQ(e.target.value)}
          placeholder='Words in prompt, chosen, rejected or critiques: fig repot, "a phrase", -word, or'
          autoFocus
        />
        <button className="primary" type="submit">
          Search
        </button>
      </div>
      <div className="row wrap filters">
        <select name="flag" aria-label="flag" value={flag} onChange={(e) => setFlag(e.target.value)}>
          <option value="">any flags</option>
          {PAIR_FLAGS.map((f) => (
            <option key={f} value={f}>
              flag {f}
            </option>
          ))}
        </select>
        <select name="review_status" aria-label="review status" value={review} onChange={(e) => setReview(e.target.value)}>
          <option value="">any review</option>
          {REVIEW_FILTERS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
        <input name="principle" value={principle} onChange={(e) => setPrinciple(e.target.value)} placeholder="principle id" />
        <input name="run" className="mono" value={run} onChange={(e) => setRun(e.target.value)} placeholder="run id" />
        <input name="metadata" value={metadata} onChange={(e) => setMetadata(e.target.value)} placeholder="metadata: split=train, lang=en" />
      </div>
    </form>
  );
}
