import { useEffect, useState, type FormEvent } from 'react';
import type { z } from 'zod';
import {
  AuditEventPageSchema,
  RunListSchema,
  RunSchema,
  RunVerifySchema,
  SampleAuditSchema,
  SampleSchema,
  type AuditEvent,
  type RunVerify,
  type VerifyFailureSchema,
} from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { formatTime, shortId } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, KeyValue, Loading, Section, StatusBadge } from '../components/common';

export function AuditPage({ session, kind, id }: { session: Session; kind: 'runs' | 'samples' | null; id: string | null }) {
  if (kind === 'samples' && id) return <SampleTrail session={session} sampleId={id} />;
  if (kind === 'runs' && id) return <RunTrail session={session} runId={id} />;
  return <AuditHome session={session} />;
}

function AuditHome({ session }: { session: Session }) {
  const [id, setId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const runs = useResource(() => session.client.get(RunListSchema, '/v1/runs?limit=10'), [session.key]);

  // An id may be a run's or a sample's: ask the server which.
  const open = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const value = id.trim();
    try {
      await session.client.get(SampleSchema, `/v1/samples/${value}`);
      return navigate(`/audit/samples/${value}`);
    } catch {
      /* not a sample */
    }
    try {
      await session.client.get(RunSchema, `/v1/runs/${value}`);
      return navigate(`/audit/runs/${value}`);
    } catch {
      setError(`No run or sample ${value} that this key may read.`);
    }
  };

  return (
    <div className="page">
      <div className="page-title">
        <h1>Audit</h1>
      </div>
      <Section title="Open a trail">
        <form className="row" onSubmit={open}>
          <input name="audit-id" className="grow mono" placeholder="run or sample id" value={id} onChange={(e) => setId(e.target.value)} />
          <button className="primary" type="submit" disabled={!id.trim()}>
            Open
          </button>
        </form>
        {error ? <div className="notice error">{error}</div> : null}
      </Section>
      <Section title="Recent runs">
        {runs.error ? <ErrorView error={runs.error} /> : null}
        <table className="table">
          <tbody>
            {runs.data?.runs.map((r) => (
              <tr key={r.id}>
                <td>
                  <a className="mono" href={href(`/audit/runs/${r.id}`)}>
                    {shortId(r.id)}
                  </a>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  {r.constitution.name}@{r.constitution.version}
                </td>
                <td className="small">{formatTime(r.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

function SampleTrail({ session, sampleId }: { session: Session; sampleId: string }) {
  const sample = useResource(() => session.client.get(SampleSchema, `/v1/samples/${sampleId}`), [sampleId, session.key]);
  const trail = useResource(() => session.client.get(SampleAuditSchema, `/v1/samples/${sampleId}/audit`), [sampleId, session.key]);
  const [verify, setVerify] = useState<RunVerify | null>(null);
  const runId = trail.data?.run_id ?? sample.data?.run_id;

  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/audit')}>Audit</a> / sample <span className="mono">{shortId(sampleId)}</span>
        </h1>
        {runId ? <VerifyButton session={session} runId={runId} onResult={setVerify} /> : null}
      </div>
      {sample.error ? <ErrorView error={sample.error} what="Sample" /> : null}
      {sample.data ? (
        <Section title="Sample">
          <KeyValue
            items={[
              ['run', <a className="mono" href={href(`/audit/runs/${sample.data.run_id}`)}>{sample.data.run_id}</a>],
              ['index', sample.data.index],
              ['status', <StatusBadge status={sample.data.status} />],
              ['prompt', <div className="text">{sample.data.prompt}</div>],
              ...(trail.data
                ? ([['chain', trail.data.chain.ok ? `intact: ${trail.data.chain.events} event(s) recompute` : `broken: ${trail.data.chain.first_failure?.message ?? ''}`]] as [string, string][])
                : []),
            ]}
          />
        </Section>
      ) : null}
      {verify ? <VerifyResult report={verify} /> : null}
      <Section title="Trail">
        {trail.error ? <ErrorView error={trail.error} what="The audit trail" /> : null}
        {!trail.data && !trail.error ? <Loading what="the trail" /> : null}
        {trail.data ? <Timeline events={trail.data.events} failures={[...(verify?.failures ?? []), ...trail.data.chain.failures]} /> : null}
      </Section>
    </div>
  );
}

function RunTrail({ session, runId }: { session: Session; runId: string }) {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [verify, setVerify] = useState<RunVerify | null>(null);

  const load = async (after: string | undefined) => {
    try {
      const page = await session.client.get(AuditEventPageSchema, `/v1/runs/${runId}/audit?limit=1000${after ? `&cursor=${after}` : ''}`);
      setEvents((cur) => (after ? [...cur, ...page.events] : page.events));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setEvents([]);
    setCursor(undefined);
    void load(undefined);
    // Start over only when the run or the key changes, not each time load is recreated.
  }, [runId, session.key]);

  const samples = [...new Set(events.map((e) => e.sample_id).filter((s): s is string => !!s))];
  const runLevel = events.filter((e) => !e.sample_id);
  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/audit')}>Audit</a> / run <a className="mono" href={href(`/runs/${runId}`)}>{shortId(runId)}</a>
        </h1>
        <VerifyButton session={session} runId={runId} onResult={setVerify} />
      </div>
      {verify ? <VerifyResult report={verify} /> : null}
      {error ? <ErrorView error={error} what="The audit trail" /> : null}
      {cursor === undefined && !error ? <Loading what="the trail" /> : null}
      {cursor !== undefined ? (
        <>
          <Section title={`Run events (${runLevel.length})`}>
            <Timeline events={runLevel} failures={verify?.failures ?? []} />
          </Section>
          <Section title={`Samples (${samples.length}${cursor ? ' so far' : ''})`} actions={cursor ? <button onClick={() => load(cursor)}>Load more events</button> : null}>
            <div className="row wrap">
              {samples.map((s) => (
                <a key={s} className="mono small chip" href={href(`/audit/samples/${s}`)}>
                  {shortId(s)}
                </a>
              ))}
            </div>
          </Section>
        </>
      ) : null}
    </div>
  );
}

function VerifyButton({ session, runId, onResult }: { session: Session; runId: string; onResult: (r: RunVerify) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="row">
      <button
        className="primary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            onResult(await session.client.get(RunVerifySchema, `/v1/runs/${runId}/audit/verify`));
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? 'Verifying…' : 'Verify trail'}
      </button>
      {error ? <ErrorView error={error} what="Verification" /> : null}
    </div>
  );
}

function VerifyResult({ report }: { report: RunVerify }) {
  const failures = report.failures;
  return (
    <div className={`notice ${report.ok ? 'ok' : 'error'} verify-result`} data-testid="verify-result" data-ok={report.ok}>
      <strong>{report.ok ? 'Intact.' : 'Altered.'}</strong>{' '}
      {report.ok
        ? `Every hash recomputes${report.events !== undefined ? ` over ${report.events} event(s)` : ''}${report.chains !== undefined ? ` in ${report.chains} chain(s)` : ''}${
            report.sealed ? `, and the seal matches${report.seals && report.seals > 1 ? ` (${report.seals} seals)` : ''}` : ''
          }.`
        : `${failures.length} problem(s); the first:`}
      {report.failures_total > failures.length ? ` (${report.failures_total} in all)` : ''}
      {failures.length ? (
        <ul>
          {failures.map((f, i) => (
            <li key={i}>
              <span className="badge bad">{f.reason}</span> {f.type ? <span className="mono">{f.type}</span> : null}
              {f.seq !== null && f.seq !== undefined ? ` at seq ${f.seq}` : ''}
              {f.chain ? <span className="muted"> in {f.chain}</span> : null}: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function Timeline({ events, failures }: { events: AuditEvent[]; failures: z.infer<typeof VerifyFailureSchema>[] }) {
  const bad = new Set(failures.map((f) => f.event_id).filter(Boolean));
  if (events.length === 0) return <div className="muted">No events.</div>;
  return (
    <ol className="timeline" data-testid="timeline">
      {events.map((e) => (
        <li key={e.event_id} className={bad.has(e.event_id) ? 'bad' : ''} data-type={e.type}>
          <div className="timeline-dot" />
          <div className="timeline-body">
            <div className="row wrap">
              <span className="badge event">{e.type}</span>
              <span className="small">{formatTime(e.at)}</span>
              <span className="muted small">by {e.actor}</span>
              {e.seq !== undefined ? <span className="muted small">seq {e.seq}</span> : null}
              {e.hash ? (
                <span className="mono small muted" title={`prev ${e.prev_hash ?? '—'}\nhash ${e.hash}`}>
                  {(e.prev_hash ?? '').slice(0, 8)} → {e.hash.slice(0, 8)}
                </span>
              ) : null}
            </div>
            <Payload payload={e.payload} response={e.response} />
          </div>
        </li>
      ))}
    </ol>
  );
}

type Message = { role: string; content: string };
const isMessages = (v: unknown): v is Message[] =>
  Array.isArray(v) && v.length > 0 && v.every((m) => m && typeof m === 'object' && typeof (m as Message).role === 'string' && typeof (m as Message).content === 'string');

/** The answer in a model call's response body (OpenAI-compatible chat completion), if there is one. */
function answerText(response: unknown): string | null {
  const choices = (response as { choices?: { message?: { content?: unknown } }[] } | null)?.choices;
  const content = Array.isArray(choices) ? choices[0]?.message?.content : undefined;
  return typeof content === 'string' ? content : null;
}

/** Scalars as a summary line; conversations as chat; the answer and long texts folded; the rest as JSON. */
function Payload({ payload, response }: { payload: unknown; response?: unknown }) {
  if (!payload || typeof payload !== 'object') return payload === undefined ? null : <div className="small mono">{JSON.stringify(payload)}</div>;
  const entries = Object.entries(payload as Record<string, unknown>);
  const scalars = entries.filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v)).filter(([, v]) => typeof v !== 'string' || v.length <= 120);
  const conversations: [string, Message[]][] = [];
  const texts: [string, string][] = [];
  // Events name the response body by hash and it is read beside them; older events hold it inline.
  const answer = answerText(response ?? (payload as Record<string, unknown>).response);
  if (answer !== null) texts.push(['response (the text the model answered)', answer]);
  for (const [k, v] of entries) {
    if (isMessages(v)) conversations.push([k, v]);
    else if (typeof v === 'string' && v.length > 120) texts.push([k, v]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        if (isMessages(v2)) conversations.push([`${k}.${k2}`, v2]);
        else if (typeof v2 === 'string' && v2.length > 120) texts.push([`${k}.${k2}`, v2]);
      }
    }
  }
  return (
    <div className="payload">
      {scalars.length ? (
        <div className="small">
          {scalars.map(([k, v]) => (
            <span key={k} className="kv-inline">
              <span className="muted">{k}</span> {String(v)}
            </span>
          ))}
        </div>
      ) : null}
      {conversations.map(([k, msgs]) => (
        <details key={k}>
          <summary className="small">
            {k}: {msgs.length} message(s) sent
          </summary>
          <div className="chat">
            {msgs.map((m, i) => (
              <div key={i} className={`msg ${m.role}`}>
                <span className="role">{m.role}</span>
                <div className="text">{m.content}</div>
              </div>
            ))}
          </div>
        </details>
      ))}
      {texts.map(([k, t]) => (
        <details key={k}>
          <summary className="small">
            {k}: <span className="muted">{t.length > 110 ? `${t.slice(0, 110)}…` : t}</span>
          </summary>
          <div className="text">{t}</div>
        </details>
      ))}
      <details>
        <summary className="small muted">payload JSON</summary>
        <pre className="json">{JSON.stringify(payload, null, 2)}</pre>
      </details>
    </div>
  );
}

