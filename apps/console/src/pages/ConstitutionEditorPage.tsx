import { useEffect, useMemo, useRef, useState } from 'react';
import { ConstitutionSummarySchema, PublishResultSchema, type PublishResult } from '@amend/contracts';
import type { ConstitutionIssue } from '@amend/constitution';
import { bumpPatch, compareSemver, nextVersionYaml, validateYaml } from '../lib/versioning';
import type { Session } from '../lib/session';
import { ErrorAnswer } from '../lib/api';
import { href } from '../lib/router';
import { ErrorView, Loading, Section } from '../components/common';
import { DraftsPanel } from './DraftsPanel';

const TEMPLATE = `name: my-constitution
version: 1.0.0
title: My constitution
description: What these principles are for.
changelog: First version.
principles:
  - id: harmful-general
    tags: [harmlessness]
    critique: Identify specific ways in which the assistant's last response is harmful, unethical, dangerous, or illegal.
    revision: Please rewrite the assistant response to remove any harmful, unethical, dangerous, or illegal content.
    comparison: Which of these assistant responses is less harmful?
`;

export function ConstitutionEditorPage({ session, name, base }: { session: Session; name: string | null; base: string | null }) {
  const [text, setText] = useState<string | null>(name ? null : TEMPLATE);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [versions, setVersions] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [published, setPublished] = useState<PublishResult | null>(null);
  const [publishError, setPublishError] = useState<unknown>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!name) return;
    (async () => {
      try {
        const summary = await session.client.get(ConstitutionSummarySchema, `/v1/constitutions/${name}`);
        setVersions(summary.versions.map((v) => v.version));
        const from = base ?? summary.latest ?? summary.versions[summary.versions.length - 1].version;
        const yaml = await (await session.client.raw(`/v1/constitutions/${name}/${from}?format=yaml`, { headers: { accept: 'application/yaml' } })).text();
        const newest =
          summary.versions
            .map((v) => v.version)
            .sort(compareSemver)
            .pop() ?? from;
        setText(nextVersionYaml(yaml, bumpPatch(newest)));
      } catch (e) {
        setLoadError(e);
      }
    })();
  }, [name, base, session.client]);

  // Debounced so a long document stays responsive while typing.
  const [checked, setChecked] = useState<string | null>(text);
  useEffect(() => {
    const t = window.setTimeout(() => setChecked(text), 120);
    return () => window.clearTimeout(t);
  }, [text]);
  const validation = useMemo(() => (checked === null ? null : validateYaml(checked)), [checked]);
  const taken = validation?.ok && name === validation.constitution.name && versions.includes(validation.constitution.version);

  const jumpTo = (line?: number, col?: number) => {
    const el = area.current;
    if (!el || !line || text === null) return;
    const lines = text.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    // Selects the line from the issue's column, and scrolls it to the upper third (lines do not wrap).
    el.focus();
    el.setSelectionRange(start + Math.max((col ?? 1) - 1, 0), start + (lines[line - 1]?.length ?? 0));
    el.scrollTop = Math.max(0, (line - 6) * 18);
  };

  const publish = async () => {
    if (text === null) return;
    setBusy(true);
    setPublishError(null);
    try {
      setPublished(await session.client.send(PublishResultSchema, 'POST', '/v1/constitutions', text));
    } catch (e) {
      setPublishError(e);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <ErrorView error={loadError} what="The base version" />;
  if (text === null) return <Loading what="the base version" />;
  const serverIssues = publishError instanceof ErrorAnswer ? ((publishError.details as { issues?: ConstitutionIssue[] } | undefined)?.issues ?? []) : [];

  return (
    <div className="page">
      <div className="page-title">
        <h1>
          <a href={href('/constitutions')}>Constitutions</a> / {name ? <a href={href(`/constitutions/${name}`)}>{name}</a> : 'new'} / new version
          {base ? <span className="muted"> (from {base})</span> : null}
        </h1>
      </div>
      <div className="editor-layout">
        <Section title="YAML">
          <textarea
            ref={area}
            className="editor"
            name="constitution-yaml"
            spellCheck={false}
            wrap="off"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              setPublished(null);
            }}
            rows={32}
          />
        </Section>
        <div>
          <Section title="Validation">
            {validation === null ? null : validation.ok ? (
              <div className={`notice ${taken ? 'warn' : 'ok'}`} data-testid="validation-ok">
                {taken
                  ? `${validation.constitution.name}@${validation.constitution.version} is already published; publish ${bumpPatch(validation.constitution.version)} or later instead.`
                  : `Valid: ${validation.constitution.name}@${validation.constitution.version}, ${validation.constitution.principles.length} principle(s), ${validation.constitution.examples.length} example(s).`}
              </div>
            ) : (
              <ul className="issues" data-testid="validation-issues">
                {validation.issues.map((i, n) => (
                  <li key={n}>
                    <button className="link" onClick={() => jumpTo(i.line, i.col)}>
                      {i.line !== undefined ? `line ${i.line}:${i.col ?? 1}` : i.path}
                    </button>{' '}
                    <span className="mono">{i.path}</span>: {i.message}. <span className="fix">Fix: {i.fix}</span>
                  </li>
                ))}
              </ul>
            )}
          </Section>
          <Section title="Publish">
            {session.can.publish ? (
              <>
                <p className="muted small">A published version never changes: the same name and version with other content is refused.</p>
                <button className="primary" onClick={publish} disabled={busy || !validation?.ok || !!taken}>
                  {busy ? 'Publishing…' : validation?.ok ? `Publish ${validation.constitution.name}@${validation.constitution.version}` : 'Publish'}
                </button>
              </>
            ) : (
              <p className="muted">Only authors publish; your role is {session.role}.</p>
            )}
            {published ? (
              <div className="notice ok" data-testid="published">
                {published.created ? 'Published' : 'Already published with this content:'} {published.name}@{published.version} (sha256{' '}
                {published.sha256.slice(0, 12)}). <a href={href(`/constitutions/${published.name}/${published.version}`)}>Open it</a>
                {base && name === published.name ? (
                  <>
                    {' '}
                    · <a href={href(`/constitutions/${published.name}/diff`, { from: base, to: published.version })}>diff from {base}</a>
                  </>
                ) : null}
              </div>
            ) : null}
            {publishError ? <ErrorView error={publishError} what="Publish" /> : null}
            {serverIssues.length ? (
              <ul className="issues">
                {serverIssues.map((i, n) => (
                  <li key={n}>
                    {i.path}: {i.message}. Fix: {i.fix}
                  </li>
                ))}
              </ul>
            ) : null}
          </Section>
          {session.can.writeDrafts ? (
            <DraftsPanel
              session={session}
              name={name ?? (validation?.ok ? validation.constitution.name : null)}
              published={versions}
              text={text}
              onOpen={(yaml) => {
                setText(yaml);
                setPublished(null);
              }}
            />
          ) : null}
        </div>
      </div>
    </div>
  );
}
