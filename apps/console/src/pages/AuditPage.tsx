import { useEffect, useState, type FormEvent } from 'react';
import type { z } from 'zod';
import {
  AuditEventPageSchema,
  KeysAnswerSchema,
  RunListSchema,
  RunSchema,
  RunVerifySchema,
  SampleAuditSchema,
  SampleListSchema,
  SampleSchema,
  type AuditEvent,
  type RunVerify,
  type VerifyFailureSchema,
} from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { formatTime, shortId } from '../lib/format';
import { href, navigate, parseHash } from '../lib/router';
import { ErrorView, KeyValue, Loading, Section, StatusBadge } from '../components/common';

export function AuditPage({ session, kind, id }: { session: Session; kind: 'runs' | 'samples' | null; id: string | null }) {
  if (kind === 'samples' && id) return <SampleTrail session={session} sampleId={id} />;
  if (kind === 'runs' && id) return <RunTrail session={session} runId={id} />;
  return <AuditHome session={session} />;
}

/** Who each `key:<id>` is, from the key directory auditors read (`GET /v1/keys`); empty until it loads or if refused. */
type KeyNames = Map<string, { name: string | null; role: string; team: string }>;

function useKeyNames(session: Session): KeyNames {
  const keys = useResource(() => session.client.get(KeysAnswerSchema, '/v1/keys?revoked=true'), [session.key]);
  return new Map((keys.data?.keys ?? []).map((k) => [k.id, { name: k.name, role: k.role, team: k.team }]));
}

/** An actor by name where the directory knows the key (the id in the tooltip), else as the trail spells it. */
function Actor({ actor, names }: { actor: string; names: KeyNames }) {
  const key = actor.startsWith('key:') ? names.get(actor.slice(4)) : undefined;
  if (!key) return <span className="mono">{actor}</span>;
  return (
    <span className="actor" title={actor} data-actor={actor}>
      {key.name ?? `unnamed ${key.role} key`}{' '}
      <span className="muted">
        ({key.role}, {key.team})
      </span>
    </span>
  );
}

/** Where a failure of the verify report can be seen: the sample's trail, at the event, or the run's. */
function failureHref(f: { chain?: string | null; event_id?: string | null }): string | null {
  if (f.chain?.startsWith('sample:')) return href(`/audit/samples/${f.chain.slice('sample:'.length)}`, { event: f.event_id ?? undefined });
  if (f.chain?.startsWith('run:')) return href(`/audit/runs/${f.chain.slice('run:'.length)}`, { event: f.event_id ?? undefined });
  return null;
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
  const names = useKeyNames(session);
  const runId = trail.data?.run_id ?? sample.data?.run_id;
  const focus = parseHash(window.location.hash).query.get('event');

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
              [
                'run',
                <a className="mono" href={href(`/audit/runs/${sample.data.run_id}`)}>
                  {sample.data.run_id}
                </a>,
              ],
              ['index', sample.data.index],
              ['status', <StatusBadge status={sample.data.status} />],
              ['prompt', <div className="text">{sample.data.prompt}</div>],
              ...(trail.data
                ? ([
                    [
                      'chain',
                      trail.data.chain.ok
                        ? `intact: ${trail.data.chain.events} event(s) recompute`
                        : `broken: ${trail.data.chain.first_failure?.message ?? ''}`,
                    ],
                  ] as [string, string][])
                : []),
            ]}
          />
        </Section>
      ) : null}
      {verify ? <VerifyResult report={verify} /> : null}
      <Section title="Trail">
        {trail.error ? <ErrorView error={trail.error} what="The audit trail" /> : null}
        {!trail.data && !trail.error ? <Loading what="the trail" /> : null}
        {trail.data ? (
          <Timeline events={trail.data.events} failures={[...(verify?.failures ?? []), ...trail.data.chain.failures]} names={names} focus={focus} />
        ) : null}
      </Section>
    </div>
  );
}

function RunTrail({ session, runId }: { session: Session; runId: string }) {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [verify, setVerify] = useState<RunVerify | null>(null);
  const names = useKeyNames(session);
  const focus = parseHash(window.location.hash).query.get('event');
  const list = useResource(() => session.client.get(SampleListSchema, `/v1/runs/${runId}/samples?limit=1000`), [runId, session.key]);

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
          <a href={href('/audit')}>Audit</a> / run{' '}
          <a className="mono" href={href(`/runs/${runId}`)}>
            {shortId(runId)}
          </a>
        </h1>
        <VerifyButton session={session} runId={runId} onResult={setVerify} />
      </div>
      {verify ? <VerifyResult report={verify} /> : null}
      {error ? <ErrorView error={error} what="The audit trail" /> : null}
      {cursor === undefined && !error ? <Loading what="the trail" /> : null}
      {cursor !== undefined ? (
        <>
          <Section title={`Run events (${runLevel.length})`}>
            <Timeline events={runLevel} failures={verify?.failures ?? []} names={names} focus={focus} />
          </Section>
          <Section
            title={`Samples (${list.data ? `${list.data.samples.length}${list.data.next_cursor !== null ? '+' : ''}` : samples.length})`}
            actions={cursor ? <button onClick={() => load(cursor)}>Load more events</button> : null}
          >
            {list.error ? <ErrorView error={list.error} what="The samples" /> : null}
            <SampleRows samples={list.data?.samples ?? samples.map((id) => ({ id }))} bad={badSamples(verify)} />
            {list.data?.next_cursor != null ? <div className="muted small">The first 1,000 samples; open any other by its id above.</div> : null}
          </Section>
        </>
      ) : null}
    </div>
  );
}

/** The samples a verify report names: in a failing chain, or whose rows or pair differ from the trail. */
function badSamples(report: RunVerify | null): Set<string> {
  const bad = new Set<string>();
  for (const f of report?.failures ?? []) if (f.chain?.startsWith('sample:')) bad.add(f.chain.slice('sample:'.length));
  for (const f of report?.dataset?.failures ?? []) if (f.sample_id) bad.add(f.sample_id);
  for (const f of report?.rows?.failures ?? []) {
    const sample = rowSample(f);
    if (sample) bad.add(sample);
  }
  return bad;
}

/** The sample a row verify names belongs to: a sample row's key is its id, a stage record's `<sample id>:<position>`. */
function rowSample(f: { table: string; key: string }): string | null {
  if (f.table === 'samples') return f.key;
  if (f.table === 'stage_records') return f.key.split(':')[0] ?? null;
  return null;
}

type SampleRow = { id: string; index?: number; status?: string; prompt_preview?: string };

/** One row a sample: index, status and the start of its prompt, each a link to its trail; those verify named first and marked. */
function SampleRows({ samples, bad }: { samples: SampleRow[]; bad: Set<string> }) {
  const rows = [...samples].sort((a, b) => Number(bad.has(b.id)) - Number(bad.has(a.id)));
  return (
    <table className="table" data-testid="audit-samples">
      <tbody>
        {rows.map((s) => {
          const to = href(`/audit/samples/${s.id}`);
          return (
            <tr key={s.id} className={bad.has(s.id) ? 'bad' : ''} data-sample={s.id}>
              <td className="num">
                <a href={to}>{s.index !== undefined ? `#${s.index}` : shortId(s.id)}</a>
              </td>
              <td>{s.status ? <StatusBadge status={s.status} /> : null}</td>
              <td className="grow">
                <a href={to} title={s.prompt_preview}>
                  {s.prompt_preview === undefined ? (
                    <span className="mono">{shortId(s.id)}</span>
                  ) : s.prompt_preview.length > 80 ? (
                    `${s.prompt_preview.slice(0, 80)}…`
                  ) : (
                    s.prompt_preview || '(empty)'
                  )}
                </a>
              </td>
              <td>{bad.has(s.id) ? <span className="badge bad">altered</span> : null}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
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

/** One problem verify found: what it is, a link to the sample's trail at the event where there is one, and why. */
function FailureItem({ kind, to, what, message }: { kind: 'chain' | 'row' | 'dataset'; to: string | null; what: React.ReactNode; message: string }) {
  return (
    <li data-failure={kind}>
      {to ? (
        <a href={to} className="failure-link">
          {what}
        </a>
      ) : (
        what
      )}
      : {message}
    </li>
  );
}

function VerifyResult({ report }: { report: RunVerify }) {
  const failures = report.failures;
  const rows = report.rows?.failures ?? [];
  const dataset = report.dataset?.failures ?? [];
  const problems = failures.length + rows.length + dataset.length;
  return (
    <div className={`notice ${report.ok ? 'ok' : 'error'} verify-result`} data-testid="verify-result" data-ok={report.ok}>
      <strong>{report.ok ? 'Intact.' : 'Altered.'}</strong>{' '}
      {report.ok
        ? `Every hash recomputes${report.events !== undefined ? ` over ${report.events} event(s)` : ''}${report.chains !== undefined ? ` in ${report.chains} chain(s)` : ''}${
            report.sealed ? `, and the seal matches${report.seals && report.seals > 1 ? ` (${report.seals} seals)` : ''}` : ''
          }.`
        : `${problems} problem(s):`}
      {report.failures_total > failures.length ? ` (${report.failures_total} in all)` : ''}
      {problems ? (
        <ul>
          {failures.map((f, i) => {
            const to = failureHref(f);
            const what = (
              <>
                <span className="badge bad">{f.reason}</span> {f.type ? <span className="mono">{f.type}</span> : null}
                {f.seq !== null && f.seq !== undefined ? ` at seq ${f.seq}` : ''}
                {f.chain ? <span className="muted"> in {f.chain}</span> : null}
              </>
            );
            return <FailureItem key={`c${i}`} kind="chain" to={to} what={what} message={f.message} />;
          })}
          {rows.map((f, i) => {
            const sample = rowSample(f);
            const to = sample ? href(`/audit/samples/${sample}`, { event: f.event_id ?? undefined }) : null;
            const what = (
              <>
                <span className="badge bad">{f.reason}</span>{' '}
                <span className="mono">
                  {f.table}.{f.field}
                </span>{' '}
                <span className="muted mono">{f.key}</span>
              </>
            );
            return <FailureItem key={`r${i}`} kind="row" to={to} what={what} message={f.message} />;
          })}
          {dataset.map((f, i) => {
            const what = (
              <>
                <span className="badge bad">{f.reason}</span> <span className="mono">{f.kind}</span> <span className="muted mono">{f.id ?? ''}</span>
              </>
            );
            const to = f.sample_id ? href(`/audit/samples/${f.sample_id}`, { event: f.event_id ?? undefined }) : null;
            return <FailureItem key={`d${i}`} kind="dataset" to={to} what={what} message={f.message} />;
          })}
        </ul>
      ) : null}
    </div>
  );
}

function Timeline({
  events,
  failures,
  names,
  focus,
}: {
  events: AuditEvent[];
  failures: z.infer<typeof VerifyFailureSchema>[];
  names: KeyNames;
  focus?: string | null;
}) {
  const bad = new Set(failures.map((f) => f.event_id).filter(Boolean));
  // A link from a verify failure names its event: bring it into view once it is on the page.
  useEffect(() => {
    if (focus) document.getElementById(`event-${focus}`)?.scrollIntoView({ block: 'center' });
  }, [focus, events.length]);
  if (events.length === 0) return <div className="muted">No events.</div>;
  return (
    <ol className="timeline" data-testid="timeline">
      {events.map((e) => (
        <li
          key={e.event_id}
          id={`event-${e.event_id}`}
          className={`${bad.has(e.event_id) ? 'bad' : ''}${focus === e.event_id ? ' focus' : ''}`}
          data-type={e.type}
        >
          <div className="timeline-dot" />
          <div className="timeline-body">
            <div className="row wrap">
              <span className="badge event">{e.type}</span>
              <span className="small">{formatTime(e.at)}</span>
              <span className="small">
                <span className="muted">by</span> <Actor actor={e.actor} names={names} />
              </span>
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
  Array.isArray(v) &&
  v.length > 0 &&
  v.every((m) => m && typeof m === 'object' && typeof (m as Message).role === 'string' && typeof (m as Message).content === 'string');

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
  const scalars = entries
    .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
    .filter(([, v]) => typeof v !== 'string' || v.length <= 120);
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
