import { useCallback, useEffect, useState } from 'react';
import { DRAFT_NAME, DraftListSchema, DraftSchema, EvaluationSchema, PreviewResultSchema, PublishResultSchema } from '@amend/contracts';
import type { DraftSummary, PreviewResult, PublishResult } from '@amend/contracts';
import type { Session } from '../lib/session';
import { ErrorAnswer } from '../lib/api';
import { compareSemver } from '../lib/versioning';
import { href } from '../lib/router';
import { ErrorView, Section } from '../components/common';

/**
 * The editor's drafts: save the text as a draft of the team, open one, preview it on a prompt,
 * evaluate it against the newest published version, and publish it. Every action is the API's
 * drafts routes; an error answer is shown where the action was taken.
 */
export function DraftsPanel({
  session,
  name,
  published,
  text,
  onOpen,
}: {
  session: Session;
  /** The constitution the drafts belong to: the route's, else the name in the (valid) text. */
  name: string | null;
  /** The published versions of `name`. */
  published: string[];
  text: string;
  onOpen: (yaml: string) => void;
}) {
  const [draft, setDraft] = useState('');
  const [drafts, setDrafts] = useState<DraftSummary[]>([]);
  const [saved, setSaved] = useState<string | null>(null);
  const [prompt, setPrompt] = useState('');
  const [preview, setPreview] = useState<PreviewResult | null>(null);
  const [evaluation, setEvaluation] = useState<string | null>(null);
  const [version, setVersion] = useState('');
  const [publishedDraft, setPublishedDraft] = useState<PublishResult | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<{ what: string; error: unknown } | null>(null);

  const base = name ? `/v1/constitutions/${name}/drafts` : null;
  const refresh = useCallback(async () => {
    if (!base) return setDrafts([]);
    try {
      setDrafts((await session.client.get(DraftListSchema, base)).drafts);
    } catch (e) {
      // A name nobody published yet has no drafts list to show; the save answers for itself.
      setDrafts([]);
      if (!(e instanceof ErrorAnswer && e.status === 404)) setError({ what: 'Drafts', error: e });
    }
  }, [base, session.client]);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const act = async (what: string, fn: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError({ what, error: e });
    } finally {
      setBusy(null);
    }
  };
  const newest = [...published].sort(compareSemver).pop();
  const ready = !!base && DRAFT_NAME.test(draft);
  const path = `${base}/${draft}`;

  return (
    <Section title="Drafts">
      {!name ? <p className="muted small">Give the constitution a name in the YAML to save drafts of it.</p> : null}
      <p className="muted small">A draft is your team&apos;s mutable copy: save it as often as you like, try it, then publish it as a version.</p>
      <div className="row">
        <input name="draft-name" placeholder="draft name, e.g. kinder-tone" value={draft} onChange={(e) => setDraft(e.target.value.trim())} />
        <button
          className="primary"
          disabled={!ready || busy !== null}
          onClick={() =>
            act('Save draft', async () => {
              const d = await session.client.send(DraftSchema, 'PUT', path, text);
              setSaved(`${d.created ? 'Saved new draft' : 'Saved'} ${d.name}#${d.draft} (${d.version}, sha256 ${d.sha256.slice(0, 12)})`);
              await refresh();
            })
          }
        >
          {busy === 'Save draft' ? 'Saving…' : 'Save draft'}
        </button>
      </div>
      {draft && !DRAFT_NAME.test(draft) ? <p className="muted small">A draft name is a lowercase slug such as kinder-tone.</p> : null}
      {saved ? (
        <div className="notice ok" data-testid="draft-saved">
          {saved}
        </div>
      ) : null}
      {drafts.length ? (
        <ul className="drafts" data-testid="drafts-list">
          {drafts.map((d) => (
            <li key={d.draft}>
              <button
                className="link"
                onClick={() =>
                  act('Open draft', async () => {
                    const res = await session.client.raw(`${base}/${d.draft}?format=yaml`, { headers: { accept: 'application/yaml' } });
                    onOpen(await res.text());
                    setDraft(d.draft);
                  })
                }
              >
                {d.draft}
              </button>{' '}
              <span className="muted small">
                {d.version}, {d.principles} principle(s), saved by {d.saved_by} {d.saved_at.slice(0, 16).replace('T', ' ')}
              </span>
            </li>
          ))}
        </ul>
      ) : null}

      {session.can.preview ? (
        <>
          <h3>Preview</h3>
          <textarea name="draft-prompt" rows={2} placeholder="A prompt to try the saved draft on" value={prompt} onChange={(e) => setPrompt(e.target.value)} />
          <button
            disabled={!ready || !prompt.trim() || busy !== null}
            onClick={() =>
              act('Preview', async () => {
                setPreview(null);
                setPreview(await session.client.send(PreviewResultSchema, 'POST', `${path}/preview`, { prompts: [prompt] }));
              })
            }
          >
            {busy === 'Preview' ? 'Previewing…' : 'Preview draft'}
          </button>
          {preview ? (
            <div className="notice" data-testid="draft-preview">
              {preview.status}
              {preview.simulated ? ' (simulator)' : ''}:{' '}
              {preview.results.map((r) => (
                <div key={r.sample_id}>
                  {r.pair ? (
                    <>
                      <strong>revised</strong> {r.pair.chosen}
                    </>
                  ) : (
                    `${r.status}: ${r.failure_reason ?? ''}`
                  )}
                </div>
              ))}
            </div>
          ) : null}
        </>
      ) : null}

      {session.can.evaluate ? (
        <>
          <h3>Evaluate against published</h3>
          <button
            disabled={!ready || !newest || !prompt.trim() || busy !== null}
            onClick={() =>
              act('Evaluate', async () => {
                const ev = await session.client.send(EvaluationSchema, 'POST', '/v1/evaluations', {
                  baseline: `${name}@${newest}`,
                  candidate: `${name}#${draft}`,
                  prompts: [prompt],
                });
                setEvaluation(ev.id);
              })
            }
          >
            {newest ? `Evaluate #${draft || 'draft'} against ${newest}` : 'Evaluate (nothing published yet)'}
          </button>
          <span className="muted small"> on the preview prompt</span>
          {evaluation ? (
            <div className="notice ok" data-testid="draft-evaluation">
              Evaluation started: <a href={href(`/evaluations/${evaluation}`)}>open it</a>
            </div>
          ) : null}
        </>
      ) : null}

      {session.can.publish ? (
        <>
          <h3>Publish the draft</h3>
          <div className="row">
            <input name="draft-version" placeholder="version (else the draft's own)" value={version} onChange={(e) => setVersion(e.target.value.trim())} />
            <button
              disabled={!ready || busy !== null}
              onClick={() =>
                act('Publish draft', async () => {
                  setPublishedDraft(await session.client.send(PublishResultSchema, 'POST', `${path}/publish`, version ? { version } : {}));
                })
              }
            >
              {busy === 'Publish draft' ? 'Publishing…' : 'Publish draft'}
            </button>
          </div>
          {publishedDraft ? (
            <div className="notice ok" data-testid="draft-published">
              {publishedDraft.created ? 'Published' : 'Already published with this content:'} {publishedDraft.name}@{publishedDraft.version}.{' '}
              <a href={href(`/constitutions/${publishedDraft.name}/${publishedDraft.version}`)}>Open it</a>
            </div>
          ) : null}
        </>
      ) : null}
      {error ? (
        <div data-testid="draft-error">
          <ErrorView error={error.error} what={error.what} />
        </div>
      ) : null}
    </Section>
  );
}
