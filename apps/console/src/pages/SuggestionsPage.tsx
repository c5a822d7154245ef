import { useState } from 'react';
import { z } from 'zod';
import { ConstitutionListSchema, SuggestionSetListSchema, SuggestionSetSchema, type Suggestion, type SuggestionSet } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useAction, useResource } from '../lib/hooks';
import { formatNumber, formatTime, shortId } from '../lib/format';
import { href, navigate } from '../lib/router';
import { ErrorView, Field, KeyValue, Loading, Section, StatusBadge, TableHead, num } from '../components/common';
import { ListPage } from '../components/ListPage';

const POLL_MS = 1500;
const running = (s: { status: string }) => s.status === 'queued' || s.status === 'running';

/** Principle suggestions: the team's sets, and (authors) a new one from a run's reviews or a preference file. */
export function SuggestionsPage({ session }: { session: Session }) {
  const list = useResource(() => session.client.get(SuggestionSetListSchema, '/v1/suggestions?limit=50'), [session.key], {
    pollMs: POLL_MS,
    poll: (data) => !data || data.suggestions.some(running),
  });
  return (
    <ListPage
      title="Suggestions"
      newLabel="Learn principles"
      canCreate={session.can.suggest}
      form={<NewSuggestionsForm session={session} />}
      intro={
        <p className="muted">
          Principles the constitution may be missing, learnt from labelled pairs (after Inverse Constitutional AI): proposed per pair, merged, tested as a judge
          on every pair, ranked by how well they reproduce the people's choices.
        </p>
      }
      list={list}
      items={(data) => data.suggestions}
      testId="suggestions-table"
      columns={['set', 'status', 'constitution', 'source', num('pairs'), num('candidates'), num('calls'), 'created']}
      empty="No suggestion sets yet."
      row={(s) => (
        <tr key={s.id}>
          <td className="mono">
            <a href={href(`/suggestions/${s.id}`)}>{shortId(s.id)}</a>
          </td>
          <td>
            <StatusBadge status={s.status} />
          </td>
          <td className="mono">{`${s.constitution.name}@${s.constitution.version}`}</td>
          <td>{sourceText(s)}</td>
          <td className="num">{s.pairs}</td>
          <td className="num">{s.candidates ?? '–'}</td>
          <td className="num">
            {s.progress.calls}/{s.progress.calls_planned}
          </td>
          <td>{formatTime(s.created_at)}</td>
        </tr>
      )}
    />
  );
}

function sourceText(s: Pick<SuggestionSet, 'source'>): string {
  return s.source.kind === 'run' ? `run ${shortId(s.source.run_id ?? '')} (${s.source.pairs_from})` : 'preference file';
}

function NewSuggestionsForm({ session }: { session: Session }) {
  const constitutions = useResource(() => session.client.get(ConstitutionListSchema, '/v1/constitutions'), [session.key]);
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'run' | 'file'>('run');
  const [run, setRun] = useState('');
  const [overturned, setOverturned] = useState(false);
  const [file, setFile] = useState<string | null>(null);
  const { busy, error, run: act } = useAction();
  const chosen = name || constitutions.data?.constitutions[0]?.name || '';

  const start = () =>
    act(async () => {
      const path = `/v1/constitutions/${encodeURIComponent(chosen)}/suggestions`;
      const set =
        kind === 'run'
          ? await session.client.send(SuggestionSetSchema, 'POST', path, { run: run.trim(), pairs_from: overturned ? 'overturned' : 'reviewed' })
          : SuggestionSetSchema.parse(
              await (await session.client.raw(path, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: file ?? '' })).json(),
            );
      navigate(`/suggestions/${set.id}`);
    });

  return (
    <Section title="Learn principles from labelled pairs">
      <div className="form-grid">
        <Field label="constitution" hint="suggestions are compared with its newest version">
          <select value={chosen} onChange={(e) => setName(e.target.value)} data-testid="suggest-constitution">
            {(constitutions.data?.constitutions ?? []).map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="pairs from">
          <select value={kind} onChange={(e) => setKind(e.target.value as 'run' | 'file')} data-testid="suggest-source">
            <option value="run">a run's reviews</option>
            <option value="file">a preference file (JSON Lines)</option>
          </select>
        </Field>
        {kind === 'run' ? (
          <>
            <Field label="run id">
              <input className="mono" value={run} onChange={(e) => setRun(e.target.value)} placeholder="0b5c…" data-testid="suggest-run" />
            </Field>
            <Field label="only overturned" hint="only the pairs reviewers swapped">
              <input type="checkbox" checked={overturned} onChange={(e) => setOverturned(e.target.checked)} />
            </Field>
          </>
        ) : (
          <Field label="file" hint='one pair a line: {"prompt", "chosen", "rejected"}'>
            <input
              type="file"
              accept=".jsonl,.ndjson,.json"
              onChange={async (e) => setFile((await e.target.files?.[0]?.text()) ?? null)}
              data-testid="suggest-file"
            />
          </Field>
        )}
      </div>
      {error ? <ErrorView error={error} /> : null}
      <button className="primary" disabled={busy || !chosen || (kind === 'run' ? !run.trim() : file === null)} onClick={() => void start()}>
        {busy ? 'Starting…' : 'Start'}
      </button>
    </Section>
  );
}

/** One set: its progress, then the ranking, each suggestion with its votes, examples and an "Add to draft" button. */
export function SuggestionSetPage({ session, id }: { session: Session; id: string }) {
  const set = useResource(() => session.client.get(SuggestionSetSchema, `/v1/suggestions/${id}`), [id, session.key], {
    pollMs: POLL_MS,
    poll: (data) => !data || running(data),
  });
  const [open, setOpen] = useState<number | null>(1);
  if (set.error && !set.data) return <ErrorView error={set.error} what="Suggestion set" />;
  if (!set.data) return <Loading what="the suggestions" />;
  const s = set.data;
  const planned = Math.max(s.progress.calls_planned, s.progress.calls, 1);
  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/suggestions')}>Suggestions</a> / <span className="mono">{shortId(s.id)}</span>
        </h1>
        <StatusBadge status={s.status} />
      </div>
      <Section title="Set">
        <KeyValue
          items={[
            ['constitution', <span className="mono">{`${s.constitution.name}@${s.constitution.version}`}</span>],
            ['pairs', `${s.pairs} from ${sourceText(s)}`],
            ['models', `propose ${s.settings.model}, test ${s.settings.judge_model}${s.simulated ? ' (built-in simulator)' : ''}`],
            [
              'progress',
              <div data-testid="suggestion-progress">
                <div className="progress" role="progressbar" aria-valuenow={s.progress.calls} aria-valuemax={planned}>
                  <div className="progress-completed" style={{ width: `${(100 * s.progress.calls) / planned}%` }} />
                </div>
                <span className="muted">
                  {s.progress.stage}: {s.progress.calls} of {s.progress.calls_planned} calls
                  {s.proposals !== null ? `; ${s.proposals} proposals merged into ${s.candidates} candidates` : ''}
                </span>
              </div>,
            ],
            ['tokens', `${formatNumber(s.usage.prompt_tokens + s.usage.completion_tokens)} (at most ${formatNumber(s.estimate.tokens_max)})`],
            ['created', formatTime(s.created_at)],
          ]}
        />
        {s.error ? <div className="notice error">{s.error}</div> : null}
      </Section>
      {s.suggestions.length ? (
        <Section title="Ranked suggestions">
          <p className="muted">
            agreement: of the pairs where the principle applies, the share where its verdict is the people's; relevance: the share of pairs where it applies;
            ranked by (agree − disagree) / pairs.
          </p>
          <table className="table" data-testid="suggestions-ranking">
            <TableHead columns={[num('rank'), 'principle', num('agreement'), num('relevance'), num('score'), num('explains'), 'closest existing']} />
            <tbody>
              {s.suggestions.map((x) => (
                <SuggestionRow key={x.rank} x={x} set={s} session={session} open={open === x.rank} toggle={() => setOpen(open === x.rank ? null : x.rank)} />
              ))}
            </tbody>
          </table>
        </Section>
      ) : running(s) ? (
        <p className="muted">The ranking appears here once every candidate is tested.</p>
      ) : null}
    </div>
  );
}

/** What add-to-draft answers: the draft as saved. */
const AddedSchema = z.looseObject({ name: z.string(), draft: z.string(), principles: z.number().int() });

function SuggestionRow({ x, set, session, open, toggle }: { x: Suggestion; set: SuggestionSet; session: Session; open: boolean; toggle: () => void }) {
  const [draft, setDraft] = useState('suggestions');
  const [added, setAdded] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const add = async () => {
    setError(null);
    try {
      const d = await session.client.send(AddedSchema, 'POST', `/v1/suggestions/${set.id}/add-to-draft`, { rank: x.rank, draft });
      setAdded(`added to draft ${d.name}#${d.draft} (${d.principles} principles)`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <tr data-rank={x.rank} onClick={toggle} className="clickable">
        <td className="num">{x.rank}</td>
        <td>
          <span className="mono">{x.principle.id}</span>: {x.principle.comparison}
        </td>
        <td className="num">{x.agreement.toFixed(2)}</td>
        <td className="num">{x.relevance.toFixed(2)}</td>
        <td className="num">{x.score.toFixed(2)}</td>
        <td className="num">{x.explains.length}</td>
        <td>{x.closest ? <span className="mono">{`${x.closest.id} (${x.closest.similarity.toFixed(2)})`}</span> : '–'}</td>
      </tr>
      {open ? (
        <tr>
          <td colSpan={7}>
            <KeyValue
              items={[
                ['critique', x.principle.critique],
                ['revision', x.principle.revision],
                ['comparison', x.principle.comparison],
                ['votes', `${x.votes.agree} agree, ${x.votes.disagree} disagree, ${x.votes.not_applicable} not applicable, ${x.votes.unreadable} unreadable`],
                ['merged', `${x.proposals} proposal(s): ${x.variants.join(' | ')}`],
                ['explains', <span className="mono">{x.explains.join(', ') || '–'}</span>],
              ]}
            />
            {x.examples.map((e) => (
              <div key={e.pair} className="example">
                <div className="muted mono">{e.pair}</div>
                <div>
                  <strong>prompt</strong> {e.prompt}
                </div>
                <div>
                  <strong>chosen</strong> {e.chosen}
                </div>
                <div>
                  <strong>rejected</strong> {e.rejected}
                </div>
              </div>
            ))}
            {session.can.suggest ? (
              <div className="inline-form">
                <label>
                  draft of {set.constitution.name}{' '}
                  <input className="mono" value={draft} onChange={(e) => setDraft(e.target.value)} data-testid={`draft-name-${x.rank}`} />
                </label>{' '}
                <button className="primary" onClick={() => void add()} data-testid={`add-to-draft-${x.rank}`}>
                  Add to draft
                </button>
                {added ? <span className="notice ok">{added}</span> : null}
                {error ? <ErrorView error={error} what="Add to draft" /> : null}
              </div>
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
