import { useCallback, useEffect, useRef, useState } from 'react';
import {
  AgreementSchema,
  PairReviewDetailSchema,
  QueuedPairSchema,
  ReviewProgressSchema,
  type PairReview,
  type QueuedPair,
  type ReviewDecision,
} from '@amend/contracts';
import type { Session } from '../lib/session';
import { ErrorAnswer } from '../lib/api';
import { useKeys, useNow, useResource } from '../lib/hooks';
import { formatTime, percent, shortId } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, Loading, Section } from '../components/common';
import { EditTexts } from '../components/PairTexts';

/** Decisions taken from the keyboard: the key, and what the review says. */
const KEYS: Record<string, Exclude<ReviewDecision, 'edit'>> = { a: 'accept', r: 'reject', s: 'swap' };

type Tab = 'queue' | 'disagreements';

/**
 * The review workspace of a run (docs/console.md#review-workspace): the run's review queue one pair
 * at a time, driven from the keyboard, with each reviewer's progress; and the disagreements between
 * reviewers, side by side. The queue is the API's (`GET /v1/runs/{id}/review-queue/next`), which
 * leases the pair to this key, so two reviewers never take a pair's last slot.
 */
export function ReviewWorkspacePage({ session, runId, tab }: { session: Session; runId: string; tab: Tab }) {
  const progress = useResource(() => session.client.get(ReviewProgressSchema, `/v1/runs/${runId}/review-queue`), [runId, session.key], {
    pollMs: 5000,
  });
  return (
    <div className="page workspace-page">
      <div className="page-title">
        <h1>
          Review workspace · run{' '}
          <a href={href(`/runs/${runId}`)} className="mono">
            {shortId(runId)}
          </a>
        </h1>
        <div className="row tabs" role="tablist">
          <a role="tab" aria-selected={tab === 'queue'} className={`button ${tab === 'queue' ? 'primary' : ''}`} href={href(`/runs/${runId}/review`)}>
            Queue
          </a>
          <a
            role="tab"
            aria-selected={tab === 'disagreements'}
            className={`button ${tab === 'disagreements' ? 'primary' : ''}`}
            href={href(`/runs/${runId}/review/disagreements`)}
          >
            Disagreements
          </a>
        </div>
      </div>
      {progress.data ? (
        <ProgressPanel progress={progress.data} session={session} />
      ) : progress.error ? (
        <ErrorView error={progress.error} what="Progress" />
      ) : null}
      {tab === 'queue' ? (
        session.can.reviewPairs ? (
          <QueuePanel session={session} runId={runId} onReviewed={progress.reload} />
        ) : (
          <p className="muted">Your role ({session.role}) reads reviews but does not make them.</p>
        )
      ) : (
        <DisagreementsPanel session={session} runId={runId} />
      )}
    </div>
  );
}

function ProgressPanel({ progress: p, session }: { progress: NonNullable<ReturnType<typeof ReviewProgressSchema.parse>>; session: Session }) {
  const share = (n: number) => `${(n / Math.max(p.pairs, 1)) * 100}%`;
  const me = session.actor.replace(/^key:/, '');
  return (
    <Section title={`Progress · ${p.per_pair} review${p.per_pair === 1 ? '' : 's'} per pair${p.policy_set ? '' : ' (no policy set)'}`}>
      <div className="row wrap" data-testid="queue-progress">
        <div className="progress grow" title={`${p.complete} complete, ${p.partial} partial, ${p.unreviewed} unreviewed`}>
          <div className="progress-completed" style={{ width: share(p.complete) }} />
          <div className="progress-running" style={{ width: share(p.partial) }} />
        </div>
        <span className="small">
          {p.complete} of {p.pairs} pairs complete · {p.partial} partial · {p.unreviewed} unreviewed · {p.reviews_done} reviews done, {p.reviews_needed} still
          needed · {p.leased} leased
        </span>
      </div>
      {p.reviewers.length ? (
        <table className="table small" data-testid="reviewer-progress">
          <thead>
            <tr>
              <th>reviewer</th>
              <th className="num">pairs reviewed</th>
              <th className="num">share of the run&apos;s reviews</th>
              <th className="num">leased now</th>
            </tr>
          </thead>
          <tbody>
            {p.reviewers.map((r) => (
              <tr key={r.reviewer_key_id ?? r.reviewer} data-reviewer={r.reviewer} className={r.reviewer_key_id === me ? 'selected' : ''}>
                <td>
                  {r.reviewer}
                  {r.reviewer_key_id === me ? <span className="badge subtle">you</span> : null}
                </td>
                <td className="num reviewed">{r.reviewed}</td>
                <td className="num">{percent(r.reviewed / Math.max(p.pairs * p.per_pair, 1), 1)}</td>
                <td className="num">{r.leased}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted small">Nobody has reviewed a pair of this run yet.</p>
      )}
    </Section>
  );
}

type Slot = { kind: 'loading' } | { kind: 'empty' } | { kind: 'pair'; queued: QueuedPair; review: PairReview | null };

function QueuePanel({ session, runId, onReviewed }: { session: Session; runId: string; onReviewed: () => void }) {
  const [slot, setSlot] = useState<Slot>({ kind: 'loading' });
  const [error, setError] = useState<unknown>(null);
  const [reason, setReason] = useState('');
  const [pending, setPending] = useState<ReviewDecision | null>(null);
  const [editing, setEditing] = useState(false);
  const [editChosen, setEditChosen] = useState('');
  const [editRejected, setEditRejected] = useState('');
  const [busy, setBusy] = useState(false);
  const [hint, setHint] = useState<string | null>(null);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  const now = useNow(1000, slot.kind === 'pair');

  const next = useCallback(async () => {
    setError(null);
    setHint(null);
    setSlot({ kind: 'loading' });
    try {
      const res = await session.client.raw(`/v1/runs/${runId}/review-queue/next`);
      if (res.status === 204) return setSlot({ kind: 'empty' });
      const parsed = QueuedPairSchema.safeParse(await res.json());
      if (!parsed.success) throw new Error(`review-queue/next: the answer does not match the contract (${parsed.error.issues[0]?.message})`);
      setSlot({ kind: 'pair', queued: parsed.data, review: null });
      setReason('');
      setPending(null);
      setEditing(false);
    } catch (e) {
      setError(e);
      setSlot({ kind: 'empty' });
    }
  }, [session.client, runId]);

  useEffect(() => {
    void next();
  }, [next]);

  const current = slot.kind === 'pair' ? slot : null;
  const texts = current ? (current.review ?? { chosen: current.queued.pair.chosen, rejected: current.queued.pair.rejected }) : null;

  const submit = async (decision: ReviewDecision) => {
    if (!current || busy) return;
    if (reason.trim() === '') {
      // The API keeps a reason with every review: ask for it, and send once it is typed (Enter).
      setPending(decision);
      reasonRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = {
        decision,
        reason: reason.trim(),
        ...(decision === 'edit'
          ? {
              ...(editChosen !== texts!.chosen ? { chosen: editChosen } : {}),
              ...(editRejected !== texts!.rejected ? { rejected: editRejected } : {}),
            }
          : {}),
      };
      const detail = await session.client.send(PairReviewDetailSchema, 'POST', `/v1/pairs/${current.queued.pair.id}/review`, body);
      // This key's own latest review of the pair: a later decision replaces it.
      const mine = [...detail.history].reverse().find((h) => h.actor === session.actor) ?? detail.review;
      setSlot({ kind: 'pair', queued: current.queued, review: mine });
      // Back to the page, so the next key (n) is a shortcut again, not text in the reason box.
      reasonRef.current?.blur();
      setHint(null);
      setReason('');
      setPending(null);
      setEditing(false);
      onReviewed();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const startEdit = () => {
    if (!texts) return;
    setEditChosen(texts.chosen);
    setEditRejected(texts.rejected);
    setEditing(true);
  };

  useKeys(
    (e) => {
      if (slot.kind === 'empty' && e.key === 'n') return void next();
      if (!current) return;
      if (KEYS[e.key] && !editing) {
        e.preventDefault();
        void submit(KEYS[e.key]);
      } else if (e.key === 'e' && !editing) {
        e.preventDefault();
        startEdit();
      } else if (e.key === 'n') {
        e.preventDefault();
        if (current.review) void next();
        else setHint('Decide on this pair first (a, r, s or e): it is leased to you, so the queue gives it to you again.');
      } else if (e.key === 'Escape' && editing) {
        setEditing(false);
      }
    },
    [slot, editing, reason, busy, editChosen, editRejected],
  );

  if (slot.kind === 'loading') return <Loading what="the next pair" />;
  if (!current) {
    return (
      <Section title="Queue">
        {error ? <ErrorView error={error} what="Queue" /> : null}
        <div className="notice" data-testid="queue-empty">
          Nothing left for you to review in this run: every pair has its reviews, is held by another reviewer, or was reviewed by you.{' '}
          <button className="link" onClick={() => void next()}>
            Look again (n)
          </button>
        </div>
      </Section>
    );
  }

  const { queued, review } = current;
  const pair = queued.pair;
  const left = Math.max(0, new Date(queued.lease.expires_at).getTime() - now);
  return (
    <Section
      title={
        <>
          Pair <span className="mono">{shortId(pair.id)}</span> · sample #{pair.metadata.sample_index + 1}
        </>
      }
      actions={
        <span className="small muted" data-testid="lease">
          {review
            ? `you decided: ${review.decision} · n for the next pair`
            : `${queued.reviews} of ${queued.per_pair} reviews so far · yours for ${Math.ceil(left / 1000)}s`}
        </span>
      }
    >
      <div className="workspace" data-testid="workspace" data-pair={pair.id} data-decided={review ? review.decision : ''}>
        <div className="shortcuts small muted" data-testid="shortcuts">
          <kbd>a</kbd> accept · <kbd>r</kbd> reject · <kbd>s</kbd> swap · <kbd>e</kbd> edit · <kbd>n</kbd> next · in the reason box <kbd>Enter</kbd> sends,{' '}
          <kbd>Esc</kbd> leaves it
        </div>
        {pair.prompt_messages?.length ? (
          <div className="text prompt">
            {pair.prompt_messages.map((m, i) => (
              <div key={i} className="text turn">
                <span className="badge subtle">{m.role}</span> {m.content}
              </div>
            ))}
          </div>
        ) : (
          <div className="text prompt" data-testid="workspace-prompt">
            {pair.prompt}
          </div>
        )}
        {editing ? (
          <EditTexts chosen={editChosen} rejected={editRejected} onChosen={setEditChosen} onRejected={setEditRejected} rows={10} />
        ) : (
          <div className="grid-2">
            <div className="card answer chosen">
              <h3>Chosen{review && review.chosen !== pair.chosen ? ' (as you left it)' : ''}</h3>
              <div className="text" data-testid="chosen">
                {texts!.chosen}
              </div>
            </div>
            <div className="card answer rejected">
              <h3>Rejected{review && review.rejected !== pair.rejected ? ' (as you left it)' : ''}</h3>
              <div className="text" data-testid="rejected">
                {texts!.rejected}
              </div>
            </div>
          </div>
        )}
        {pair.rounds.length ? (
          <details className="small">
            <summary>Critiques ({pair.rounds.map((r) => r.principle_id).join(', ')})</summary>
            {pair.rounds.map((r) => (
              <div key={r.round} className="text">
                <strong>{r.principle_id}:</strong> {r.critique}
              </div>
            ))}
          </details>
        ) : null}
        <label className="field">
          <span className="field-label">Reason{pending ? ` for ${pending}: Enter sends it` : ''} (stored with the review and audited)</span>
          <textarea
            ref={reasonRef}
            name="reason"
            rows={2}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                const decision = editing ? 'edit' : pending;
                if (decision && reason.trim()) void submit(decision);
                else if (!decision) setHint('Now press a, r, s (or e to edit) outside this box, or click a decision.');
              } else if (e.key === 'Escape') {
                e.currentTarget.blur();
              }
            }}
            placeholder="Why (e.g. the revision answers the question and stays safe)"
          />
        </label>
        <div className="row wrap">
          {editing ? (
            <>
              <button className="primary" disabled={busy} onClick={() => void submit('edit')}>
                Save edit
              </button>
              <button onClick={() => setEditing(false)}>Discard edit (Esc)</button>
            </>
          ) : (
            <>
              <button className="primary" disabled={busy} onClick={() => void submit('accept')}>
                Accept (a)
              </button>
              <button className="danger" disabled={busy} onClick={() => void submit('reject')}>
                Reject (r)
              </button>
              <button disabled={busy} onClick={() => void submit('swap')}>
                Swap (s)
              </button>
              <button disabled={busy} onClick={startEdit}>
                Edit (e)
              </button>
              <button disabled={busy || !review} onClick={() => void next()}>
                Next (n)
              </button>
            </>
          )}
          {review ? (
            <span className={`badge review-${review.status}`} data-testid="decided">
              {review.decision} · {formatTime(review.created_at)}
            </span>
          ) : null}
          <a className="small" href={href(`/pairs/${pair.id}`)}>
            the whole pair
          </a>
        </div>
        {hint ? <div className="notice small">{hint}</div> : null}
        {error ? <ErrorView error={error} what="Review" /> : null}
        {error instanceof ErrorAnswer && error.code === 'conflict' ? (
          <button className="link" onClick={() => navigate(`/pairs/${pair.id}`)}>
            See the pair&apos;s reviews
          </button>
        ) : null}
      </div>
    </Section>
  );
}

function DisagreementsPanel({ session, runId }: { session: Session; runId: string }) {
  const agreement = useResource(() => session.client.get(AgreementSchema, `/v1/runs/${runId}/agreement`), [runId, session.key]);
  if (agreement.error && !agreement.data) return <ErrorView error={agreement.error} what="Agreement" />;
  if (!agreement.data) return <Loading what="agreement" />;
  const a = agreement.data;
  const fig = (x: number | null) => (x === null ? '—' : x.toFixed(3));
  return (
    <>
      <Section title="Agreement">
        <div className="stats" data-testid="agreement">
          <div className="stat">
            <div className="stat-value">{fig(a.krippendorff_alpha)}</div>
            <div className="stat-label">Krippendorff&apos;s alpha (nominal)</div>
          </div>
          <div className="stat">
            <div className="stat-value">{a.raw_agreement === null ? '—' : percent(a.raw_agreement, 1)}</div>
            <div className="stat-label">raw agreement</div>
          </div>
          <div className="stat">
            <div className="stat-value">
              {a.pairable_pairs} / {a.reviewed_pairs}
            </div>
            <div className="stat-label">pairs with 2+ reviews / reviewed</div>
          </div>
          <div className="stat">
            <div className="stat-value">{a.reviews}</div>
            <div className="stat-label">reviews</div>
          </div>
          <div className="stat">
            <div className="stat-value">{a.disagreements.length}</div>
            <div className="stat-label">disagreements</div>
          </div>
        </div>
        {a.cohen_kappa.length ? (
          <table className="table small">
            <thead>
              <tr>
                <th>reviewers</th>
                <th className="num">pairs both reviewed</th>
                <th className="num">agreement</th>
                <th className="num">Cohen&apos;s kappa</th>
              </tr>
            </thead>
            <tbody>
              {a.cohen_kappa.map((k) => (
                <tr key={`${k.a_key_id ?? k.a}-${k.b_key_id ?? k.b}`}>
                  <td>
                    {k.a} · {k.b}
                  </td>
                  <td className="num">{k.pairs}</td>
                  <td className="num">{k.agreement === null ? '—' : percent(k.agreement, 1)}</td>
                  <td className="num">{fig(k.kappa)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      <Section title={`Disagreements (${a.disagreements.length})`}>
        {a.disagreements.length === 0 ? (
          <p className="muted" data-testid="no-disagreements">
            No pair has reviewers who decided differently.
          </p>
        ) : (
          <div className="disagreements" data-testid="disagreements">
            {a.disagreements.map((d) => (
              <div key={d.pair_id} className="card disagreement" data-pair={d.pair_id}>
                <div className="row">
                  <a className="mono" href={href(`/pairs/${d.pair_id}`)}>
                    {shortId(d.pair_id)}
                  </a>
                  <span className="muted small">sample #{d.sample_index + 1}</span>
                  <span className="badge subtle">{d.tie ? 'tie' : `majority: ${d.decision}`}</span>
                </div>
                <div className="side-by-side" style={{ gridTemplateColumns: `repeat(${Math.min(d.reviews.length, 4)}, 1fr)` }}>
                  {d.reviews.map((r) => (
                    <div key={r.review_id} className="side" data-reviewer={r.reviewer}>
                      <div>
                        <strong>{r.reviewer}</strong> <span className={`badge decision-${r.decision}`}>{r.decision}</span>
                      </div>
                      <div className="text small">{r.reason}</div>
                    </div>
                  ))}
                </div>
              </div>
            ))}
          </div>
        )}
      </Section>
    </>
  );
}
