import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import {
  PairReviewDetailSchema,
  REVIEW_FILTERS,
  ReviewListSchema,
  SampleSchema,
  type SampleVerification,
  type PairRecord,
  type PairReview,
  type ReviewDecision,
  type ReviewedPair,
  type ReviewList,
} from '@amend/contracts';
import type { Session } from '../lib/session';
import { ErrorAnswer } from '../lib/api';
import { useKeys } from '../lib/hooks';
import { formatTime, promptMetadataRows, shortId } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, KeyValue, Loading, Section } from '../components/common';
import { WordDiff } from '../components/WordDiff';
import { EditTexts } from '../components/PairTexts';

const PAGE = 100;
const NOTE_KEY = 'amend.console.review-note';

interface Loaded {
  items: ReviewedPair[];
  cursor: number | null;
  counts: ReviewList['counts'] | null;
}

/** A run's pairs one at a time: j/k or the arrow keys move through them; the review panel acts on the one shown. */
export function PairsPage({ session, runId, index = 0, filter }: { session: Session; runId: string; index?: number; filter?: string }) {
  const [loaded, setLoaded] = useState<Loaded>({ items: [], cursor: -1, counts: null });
  const [error, setError] = useState<unknown>(null);
  const loading = useRef(false);
  const status = filter && (REVIEW_FILTERS as readonly string[]).includes(filter) ? filter : undefined;

  const loadMore = useCallback(
    async (from: Loaded, reset = false) => {
      if (loading.current || from.cursor === null) return;
      loading.current = true;
      try {
        const cursor = from.cursor === -1 ? '' : `&cursor=${from.cursor}`;
        const page = await session.client.get(ReviewListSchema, `/v1/runs/${runId}/reviews?limit=${PAGE}${cursor}${status ? `&status=${status}` : ''}`);
        setLoaded((cur) => ({ items: [...(reset ? [] : cur.items), ...page.items], cursor: page.next_cursor, counts: page.counts }));
      } catch (e) {
        setError(e);
      } finally {
        loading.current = false;
      }
    },
    [session.client, runId, status],
  );

  useEffect(() => {
    const fresh = { items: [], cursor: -1, counts: null };
    setLoaded(fresh);
    setError(null);
    void loadMore(fresh, true);
  }, [runId, status, loadMore]);

  // Fetch the next page before the reader gets to the end of this one.
  useEffect(() => {
    if (loaded.cursor !== null && loaded.cursor !== -1 && index >= loaded.items.length - 10) void loadMore(loaded);
  }, [index, loaded, loadMore]);

  const total = loaded.cursor === null ? loaded.items.length : null;
  const go = (i: number) => {
    if (i < 0 || (total !== null && i >= total) || i >= loaded.items.length) return;
    navigate(`/runs/${runId}/pairs/${i}`, { status }, { replace: true });
  };

  useKeys(
    (e) => {
      if (e.key === 'j' || e.key === 'ArrowDown' || e.key === 'ArrowRight') {
        e.preventDefault();
        go(index + 1);
      } else if (e.key === 'k' || e.key === 'ArrowUp' || e.key === 'ArrowLeft') {
        e.preventDefault();
        go(index - 1);
      }
    },
    [index, loaded, status],
  );

  const current = loaded.items[index];
  const onReviewed = (detail: { pair: PairRecord; review: PairReview | null }) => {
    setLoaded((cur) => {
      const items = cur.items.map((it) => (it.pair.id === detail.pair.id ? { pair: detail.pair, review: detail.review } : it));
      const before = cur.items.find((it) => it.pair.id === detail.pair.id)?.review?.status ?? 'unreviewed';
      const after = detail.review?.status ?? 'unreviewed';
      const counts = cur.counts && before !== after ? { ...cur.counts, [before]: cur.counts[before] - 1, [after]: cur.counts[after] + 1 } : cur.counts;
      return { ...cur, items, counts };
    });
  };

  if (error && loaded.items.length === 0) return <ErrorView error={error} what="Pairs" />;

  return (
    <div className="page pairs-page">
      <div className="page-title">
        <h1>
          Pairs of run{' '}
          <a href={href(`/runs/${runId}`)} className="mono">
            {shortId(runId)}
          </a>
        </h1>
        <div className="row">
          {loaded.counts ? (
            <span className="muted small" data-testid="review-counts">
              {loaded.counts.pairs} pairs · {loaded.counts.accepted} accepted · {loaded.counts.rejected} rejected · {loaded.counts.unreviewed} unreviewed
            </span>
          ) : null}
          <select aria-label="review filter" value={status ?? ''} onChange={(e) => navigate(`/runs/${runId}/pairs/0`, { status: e.target.value })}>
            <option value="">all pairs</option>
            {REVIEW_FILTERS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="pairs-layout">
        <aside className="pair-list card" aria-label="pairs">
          {loaded.items.map((it, i) => (
            <PairListItem key={it.pair.id} item={it} active={i === index} onClick={() => go(i)} />
          ))}
          {loaded.cursor !== null && loaded.cursor !== -1 ? (
            <button className="link" onClick={() => loadMore(loaded)}>
              more…
            </button>
          ) : null}
          {loaded.items.length === 0 && loaded.cursor === null ? <div className="muted">No pairs{status ? ` ${status}` : ''} yet.</div> : null}
        </aside>
        <div className="pair-main">
          {!current && loaded.cursor === -1 ? <Loading what="pairs" /> : null}
          {current ? (
            <>
              <div className="pair-nav row">
                <button onClick={() => go(index - 1)} disabled={index === 0} aria-label="previous pair">
                  ‹ prev
                </button>
                <span data-testid="pair-position">
                  Pair {index + 1}
                  {total !== null ? ` of ${total}` : ''} · sample #{current.pair.metadata.sample_index}
                </span>
                <button onClick={() => go(index + 1)} disabled={total !== null && index + 1 >= total} aria-label="next pair">
                  next ›
                </button>
                <span className="muted small">j / k or arrow keys</span>
              </div>
              <PairView key={current.pair.id} session={session} item={current} onReviewed={onReviewed} />
            </>
          ) : null}
        </div>
      </div>
    </div>
  );
}

function PairListItem({ item, active, onClick }: { item: ReviewedPair; active: boolean; onClick: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (active) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [active]);
  const state = item.review?.status ?? 'unreviewed';
  return (
    <button ref={ref} className={`pair-item ${active ? 'active' : ''}`} onClick={onClick} data-review={state}>
      <span className={`dot ${state}`} title={state} />
      <span className="mono small">#{item.pair.metadata.sample_index}</span>
      <span className="ellipsis">{item.pair.prompt}</span>
      {item.pair.metadata.flags?.length ? <span className="badge warn small">{item.pair.metadata.flags.length}</span> : null}
    </button>
  );
}

/**
 * Whether what this page shows is what the audit trail recorded (docs/audit.md "What verify
 * covers"): the sample read path holds its prompt, every stage and the pair's record to their
 * events. Verified, erased (who, when, why) or altered (what differs).
 */
function TrailBadge({ session, sampleId }: { session: Session; sampleId: string }) {
  const [v, setV] = useState<SampleVerification | null | 'unknown'>(null);
  useEffect(() => {
    let live = true;
    setV(null);
    session.client
      .get(SampleSchema, `/v1/samples/${sampleId}`)
      .then((s) => live && setV(s.verification ?? 'unknown'))
      .catch(() => live && setV('unknown'));
    return () => {
      live = false;
    };
  }, [session.client, sampleId]);
  if (v === null) return <span className="badge subtle">checking the trail…</span>;
  if (v === 'unknown')
    return (
      <span className="badge subtle" data-testid="trail-badge">
        trail not checked
      </span>
    );
  if (v.status === 'verified') {
    return (
      <span className="badge trail-verified" data-testid="trail-badge" title="The prompt, every stage and this pair are what the audit trail recorded">
        ✓ verified
      </span>
    );
  }
  if (v.status === 'erased') {
    const e = v.erasure;
    return (
      <span className="badge subtle" data-testid="trail-badge" title={e ? `erased by ${e.by} at ${e.at}${e.reason ? `: ${e.reason}` : ''}` : 'erased'}>
        erased{e ? ` ${formatTime(e.at)}${e.reason ? ` · ${e.reason}` : ''}` : ''}
      </span>
    );
  }
  return (
    <span className="badge bad" data-testid="trail-badge" title={`differs from the audit trail: ${v.altered.join(', ')}`}>
      ✗ altered: {v.altered.join(', ')}
    </span>
  );
}

/** A pair as reviewed, and what to call when a review of it is saved. */
interface PairProps {
  session: Session;
  item: ReviewedPair;
  onReviewed: (d: { pair: PairRecord; review: PairReview | null }) => void;
}

export function PairView({ session, item, onReviewed }: PairProps) {
  const { pair, review } = item;
  const m = pair.metadata;
  const finalRevision = pair.rounds.length ? pair.rounds[pair.rounds.length - 1].revision : pair.chosen;
  return (
    <div className="pair-view">
      <div className="row wrap tags">
        <span className={`badge review-${review?.status ?? 'unreviewed'}`} data-testid="review-status">
          {review ? `${review.status} (${review.decision} by ${review.reviewer})` : 'unreviewed'}
        </span>
        {m.principle_ids.map((p, i) => (
          <span key={`${p}-${i}`} className="badge principle-id" title={`round ${i + 1}`}>
            {p}
          </span>
        ))}
        {(m.flags ?? []).map((f) => (
          <span key={f} className="badge warn" data-testid="flag">
            {f}
          </span>
        ))}
        {m.simulated ? <span className="badge subtle">simulated</span> : null}
        <TrailBadge session={session} sampleId={pair.sample_id} />
      </div>

      {pair.prompt_messages?.length ? (
        // A multi-turn prompt: the reviewer needs the turns before the one the answers reply to.
        <Section title="Conversation (the answers reply to its last user turn)">
          {pair.prompt_messages.map((m, i) => (
            <div key={i} className={`text turn${i === pair.prompt_messages!.length - 1 ? ' prompt' : ''}`} data-testid="turn">
              <span className="badge subtle">{m.role}</span> {m.content}
            </div>
          ))}
        </Section>
      ) : (
        <Section title="Prompt">
          <div className="text prompt">{pair.prompt}</div>
        </Section>
      )}

      <div className="grid-2">
        <Section title={pair.rounds.length ? 'Draft (rejected)' : 'Rejected'}>
          <div className="text">{pair.rounds.length ? pair.draft : pair.rejected}</div>
        </Section>
        <Section title={pair.rounds.length ? 'Final revision (chosen)' : 'Chosen'}>
          <div className="text">{finalRevision}</div>
        </Section>
      </div>
      <Section title={pair.rounds.length ? 'Word diff: draft → final revision' : 'Word diff: rejected → chosen'}>
        <WordDiff from={pair.rounds.length ? pair.draft : pair.rejected} to={pair.rounds.length ? finalRevision : pair.chosen} />
      </Section>

      {pair.rounds.map((r, i) => (
        <Section key={r.round} title={`Round ${i + 1} · principle ${r.principle_id}`}>
          <div className="grid-2 round">
            <div>
              <h3>Critique</h3>
              <div className="request muted small">{r.critique_request}</div>
              <div className="text">{r.critique}</div>
            </div>
            <div>
              <h3>Revision</h3>
              <div className="request muted small">{r.revision_request}</div>
              <WordDiff from={i === 0 ? pair.draft : pair.rounds[i - 1].revision} to={r.revision} />
            </div>
          </div>
        </Section>
      ))}

      {pair.candidates?.length ? (
        <Section title="Candidates">
          <ol className="candidates">
            {pair.candidates.map((c, i) => (
              <li key={i} className={c === pair.chosen ? 'chosen' : c === pair.rejected ? 'rejected' : ''}>
                <div className="text">{c}</div>
              </li>
            ))}
          </ol>
        </Section>
      ) : null}

      <div className="grid-2">
        <Section title="Judgement">
          {m.judgement ? (
            <div data-testid="judgement">
              <div className="prob">
                <div className="prob-bar">
                  <div style={{ width: `${m.judgement.p_chosen * 100}%` }} />
                </div>
                <strong>p(chosen) = {m.judgement.p_chosen.toFixed(3)}</strong>
              </div>
              <KeyValue
                items={[
                  ['kind', m.judgement.kind],
                  ['label source', m.judgement.label_source],
                  ['chosen shown first', m.judgement.orders.chosen_first.toFixed(3)],
                  ['chosen shown second', m.judgement.orders.chosen_second.toFixed(3)],
                  ['margin', m.judgement.margin.toFixed(3)],
                  ['chain of thought', m.judgement.chain_of_thought ? 'yes (clamped to [0.4, 0.6])' : 'no'],
                  ['principles', m.judgement.principle_ids.join(', ')],
                  ...(m.score_chosen !== undefined
                    ? ([['scores', `chosen ${m.score_chosen.toFixed(3)} · rejected ${m.score_rejected?.toFixed(3)}`]] as [string, string][])
                    : []),
                ]}
              />
              {m.judgement.comparisons.length ? (
                <table className="table small">
                  <thead>
                    <tr>
                      <th>principle</th>
                      <th>(A)</th>
                      <th>(B)</th>
                      <th className="num">P(A)</th>
                      <th>label</th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.judgement.comparisons.map((c, i) => (
                      <tr key={i}>
                        <td>{c.principle_id}</td>
                        <td>{c.a}</td>
                        <td>{c.b}</td>
                        <td className="num">{c.p_a.toFixed(3)}</td>
                        <td>{c.label_source}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
            </div>
          ) : (
            <div className="muted">No judgement: this run did not ask a feedback model (mode ai-feedback, or verify: true).</div>
          )}
        </Section>
        <Section title="Metadata">
          <KeyValue
            items={[
              ['pair', <span className="mono small">{pair.id}</span>],
              [
                'sample',
                session.can.audit ? (
                  <a href={href(`/audit/samples/${pair.sample_id}`)} className="mono small">
                    {pair.sample_id}
                  </a>
                ) : (
                  <span className="mono small">{pair.sample_id}</span>
                ),
              ],
              ['constitution', `${m.constitution.name}@${m.constitution.version}`],
              ['category', pair.category.join(', ') || '—'],
              ['models', `${m.models.policy}${m.models.feedback ? ` · feedback ${m.models.feedback}` : ''}`],
              ['usage', `${m.usage.calls} calls · ${m.usage.prompt_tokens} + ${m.usage.completion_tokens} tokens`],
              ['prompt id', m.external_id ?? '—'],
              ...promptMetadataRows(m.prompt_metadata).map(([k, v]): [string, ReactNode] => [k, <span className="mono small">{v}</span>]),
            ]}
          />
        </Section>
      </div>

      <ReviewPanel session={session} item={item} onReviewed={onReviewed} />
    </div>
  );
}

function ReviewPanel({ session, item, onReviewed }: PairProps) {
  const { pair, review } = item;
  const chosen = review?.chosen ?? pair.chosen;
  const rejected = review?.rejected ?? pair.rejected;
  const [note, setNote] = useState(() => localStorage.getItem(NOTE_KEY) ?? '');
  const [reason, setReason] = useState('');
  const [editing, setEditing] = useState(false);
  const [editChosen, setEditChosen] = useState(chosen);
  const [editRejected, setEditRejected] = useState(rejected);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [history, setHistory] = useState<PairReview[] | null>(null);
  const reasonRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    session.client.get(PairReviewDetailSchema, `/v1/pairs/${pair.id}/review`).then(
      (d) => setHistory(d.history),
      () => setHistory(null),
    );
  }, [session.client, pair.id, review?.id]);

  const submit = async (decision: ReviewDecision) => {
    if (reason.trim() === '') {
      setError(new Error('Give a reason first: it is stored with the review and in the audit trail.'));
      reasonRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    if (note.trim()) localStorage.setItem(NOTE_KEY, note.trim());
    try {
      const body = {
        decision,
        reason: reason.trim(),
        ...(note.trim() ? { note: note.trim() } : {}),
        base_review_id: review?.id ?? null,
        ...(decision === 'edit'
          ? { ...(editChosen !== chosen ? { chosen: editChosen } : {}), ...(editRejected !== rejected ? { rejected: editRejected } : {}) }
          : {}),
      };
      const detail = await session.client.send(PairReviewDetailSchema, 'POST', `/v1/pairs/${pair.id}/review`, body);
      setReason('');
      setEditing(false);
      setHistory(detail.history);
      onReviewed(detail);
    } catch (e) {
      setError(e);
      // Someone reviewed it meanwhile: show their review, so the next decision is made on it.
      if (e instanceof ErrorAnswer && e.code === 'conflict') {
        const d = await session.client.get(PairReviewDetailSchema, `/v1/pairs/${pair.id}/review`);
        onReviewed(d);
      }
    } finally {
      setBusy(false);
    }
  };

  const changed = review && (review.chosen !== pair.chosen || review.rejected !== pair.rejected);

  return (
    <Section title="Review" id="review">
      {changed ? (
        <div className="grid-2 reviewed-texts">
          <div>
            <h3>Chosen, as reviewed</h3>
            <div className="text">{review.chosen}</div>
          </div>
          <div>
            <h3>Rejected, as reviewed</h3>
            <div className="text">{review.rejected}</div>
          </div>
        </div>
      ) : null}
      {!session.can.reviewPairs ? (
        <p className="muted">Your role ({session.role}) reads reviews but does not make them.</p>
      ) : (
        <div className="review-form">
          <div className="grid-2">
            <label className="field">
              <span className="field-label">Note (the reviewer is your key)</span>
              <input name="note" value={note} onChange={(e) => setNote(e.target.value)} placeholder="e.g. your name, a ticket" />
            </label>
            <label className="field">
              <span className="field-label">Reason</span>
              <textarea
                ref={reasonRef}
                name="reason"
                rows={2}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                placeholder="Why this decision (stored and audited)"
              />
            </label>
          </div>
          {editing ? <EditTexts chosen={editChosen} rejected={editRejected} onChosen={setEditChosen} onRejected={setEditRejected} rows={8} /> : null}
          <div className="row wrap">
            {editing ? (
              <>
                <button className="primary" disabled={busy || (editChosen === chosen && editRejected === rejected)} onClick={() => submit('edit')}>
                  Save edit
                </button>
                <button onClick={() => setEditing(false)}>Discard edit</button>
              </>
            ) : (
              <>
                <button className="primary" disabled={busy} onClick={() => submit('accept')}>
                  Accept
                </button>
                <button className="danger" disabled={busy} onClick={() => submit('reject')}>
                  Reject
                </button>
                <button disabled={busy} onClick={() => submit('swap')} title="The rejected response is the better one">
                  Swap chosen / rejected
                </button>
                <button disabled={busy} onClick={() => (setEditChosen(chosen), setEditRejected(rejected), setEditing(true))}>
                  Edit…
                </button>
              </>
            )}
          </div>
        </div>
      )}
      {error ? <ErrorView error={error} what="Review" /> : null}
      {history && history.length > 0 ? (
        <ol className="history" data-testid="review-history">
          {history.map((h) => (
            <li key={h.id}>
              <span className={`badge review-${h.status}`}>{h.decision}</span> by <strong>{h.reviewer}</strong>
              {h.actor !== h.reviewer ? <span className="muted"> (key {h.actor})</span> : null} · {formatTime(h.created_at)} — {h.reason}
            </li>
          ))}
        </ol>
      ) : null}
    </Section>
  );
}
