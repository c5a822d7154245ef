import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { DraftListSchema, DraftSchema, ErrorBodySchema, EvaluationSchema, PreviewResultSchema, PublishResultSchema, type Evaluation } from '@amend/contracts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';

/*
 * Constitution drafts end to end (docs/policy-authors.md#drafts): saved and validated like a
 * publish, read back, previewed as `name#draft`, refused by POST /v1/runs, kept to their team,
 * published as an immutable version, and pinned by the evaluations that use them.
 */

const env = testEnv('drafts', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
const keys = {} as Record<'author' | 'admin' | 'betaAuthor' | 'auditor' | 'submitter', string>;

const NAME = 'kind-tutor';
const yaml = (o: { name?: string; version?: string; critique?: string; comparison?: string } = {}) =>
  [
    `name: ${o.name ?? NAME}`,
    `version: ${o.version ?? '1.0.0'}`,
    'title: Kind tutor',
    'principles:',
    '  - id: encouragement',
    `    critique: ${o.critique ?? 'Does the response encourage the learner, or does it make them feel small?'}`,
    '    revision: Rewrite the response so that it encourages the learner.',
    ...(o.comparison ? [`    comparison: ${o.comparison}`] : []),
    '',
  ].join('\n');

const put = (path: string, body: string, key = keys.author, type = 'application/yaml') =>
  stack.fetch(path, { method: 'PUT', headers: { 'content-type': type }, body }, key);
const post = (path: string, body: unknown, key = keys.author) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
const get = (path: string, key = keys.author) => stack.fetch(path, {}, key);

/** The constitution hash (libs/constitution hash.ts), worked out here from the content as the API returns it. */
const sha256Of = (content: unknown) =>
  createHash('sha256')
    .update(canonicalize(content) ?? '')
    .digest('hex');

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  keys.author = await stack.mintKey('author', 'alpha');
  keys.admin = await stack.mintKey('admin', 'alpha');
  keys.betaAuthor = await stack.mintKey('author', 'beta');
  keys.auditor = await stack.mintKey('auditor', 'audit');
  keys.submitter = await stack.mintKey('submitter', 'alpha');
});

describe('saving and reading drafts', () => {
  it('creates a draft (201), replaces it (200) and reads it back with its content hash', async () => {
    const first = await put(`/v1/constitutions/${NAME}/drafts/idea`, yaml());
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/v1/constitutions/${NAME}/drafts/idea`);
    const created = DraftSchema.parse(await json(first));
    expect(created).toMatchObject({ name: NAME, draft: 'idea', team: 'alpha', version: '1.0.0', principles: 1, created: true });
    // Defaults filled in (tags, weight, examples), then hashed as a published version is.
    expect((created.content.principles as unknown[])[0]).toMatchObject({ tags: [], weight: 1 });
    expect(created.sha256).toBe(sha256Of(created.content));

    const second = await put(
      `/v1/constitutions/${NAME}/drafts/idea`,
      JSON.stringify({ ...created.content, title: 'Kinder tutor' }),
      keys.author,
      'application/json',
    );
    expect(second.status).toBe(200);
    const replaced = DraftSchema.parse(await json(second));
    expect(replaced.created).toBe(false);
    expect(replaced.title).toBe('Kinder tutor');
    expect(replaced.sha256).not.toBe(created.sha256);

    const read = DraftSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts/idea`)));
    expect(read.sha256).toBe(replaced.sha256);
    expect(read.content.title).toBe('Kinder tutor');
    const asYaml = await get(`/v1/constitutions/${NAME}/drafts/idea?format=yaml`);
    expect(asYaml.headers.get('content-type')).toMatch(/application\/yaml/);
    expect(asYaml.headers.get('x-constitution-sha256')).toBe(replaced.sha256);
    expect(await asYaml.text()).toMatch(/title: Kinder tutor/);
  });

  it('lists the team’s drafts of a name', async () => {
    expect((await put(`/v1/constitutions/${NAME}/drafts/another`, yaml({ version: '1.1.0' }))).status).toBe(201);
    const list = DraftListSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts`)));
    expect(list.drafts.map((d) => [d.draft, d.version])).toEqual([
      ['another', '1.1.0'],
      ['idea', '1.0.0'],
    ]);
  });

  it('validates on save with the messages of a publish, and refuses a body of another name', async () => {
    const bad = yaml().replace('    revision: Rewrite the response so that it encourages the learner.\n', '');
    const asDraft = await put(`/v1/constitutions/${NAME}/drafts/bad`, bad);
    const asPublish = await stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: bad }, keys.author);
    expect(asDraft.status).toBe(422);
    expect(asPublish.status).toBe(422);
    const draftError = ErrorBodySchema.parse(await json(asDraft)).error;
    const publishError = ErrorBodySchema.parse(await json(asPublish)).error;
    expect(draftError.code).toBe('constitution_invalid');
    expect(draftError.message).toBe(publishError.message);
    expect(draftError.message).toMatch(/principles\[0\]\.revision/);

    const syntax = await put(`/v1/constitutions/${NAME}/drafts/bad`, 'name: [unclosed');
    expect(syntax.status).toBe(400);
    expect(ErrorBodySchema.parse(await json(syntax)).error.code).toBe('constitution_syntax');

    const other = await put(`/v1/constitutions/${NAME}/drafts/bad`, yaml({ name: 'other-name' }));
    expect(other.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(other)).error.message).toMatch(/name: is "other-name", but this draft is of "kind-tutor"/);

    const badName = await put(`/v1/constitutions/${NAME}/drafts/Bad_Name`, yaml());
    expect(badName.status).toBe(422);
    // Nothing of the refused saves was kept.
    const list = DraftListSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts`)));
    expect(list.drafts.map((d) => d.draft)).toEqual(['another', 'idea']);
  });

  it('records each save in the global chain with the sha256 it replaced', async () => {
    const events = (await json(await get('/v1/audit/events?type=constitution.draft_saved&limit=100', keys.auditor))).events as {
      actor: string;
      payload: Record<string, unknown>;
    }[];
    const idea = events.filter((e) => e.payload.draft === 'idea');
    expect(idea).toHaveLength(2);
    expect(idea[0].payload.previous_sha256).toBeNull();
    expect(idea[1].payload.previous_sha256).toBe(idea[0].payload.sha256);
    expect(idea.every((e) => e.payload.team === 'alpha' && e.actor.startsWith('key:'))).toBe(true);
    const verify = await json(await get('/v1/audit/verify', keys.auditor));
    expect(verify.ok).toBe(true);
  });
});

describe('team ownership', () => {
  it("hides a team's drafts from another team (404) and refuses drafts of a name another team owns (403)", async () => {
    const read = await get(`/v1/constitutions/${NAME}/drafts/idea`, keys.betaAuthor);
    expect(read.status).toBe(404);
    expect(ErrorBodySchema.parse(await json(read)).error.code).toBe('draft_not_found');
    expect(DraftListSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts`, keys.betaAuthor))).drafts).toEqual([]);
    const preview = await post(`/v1/constitutions/${NAME}/drafts/idea/preview`, { prompts: ['Hi'] }, keys.betaAuthor);
    expect(preview.status).toBe(404);
    const evaluation = await post('/v1/evaluations', { baseline: 'amend-core@1.0.0', candidate: `${NAME}#idea`, prompts: ['Hi'] }, keys.betaAuthor);
    expect(evaluation.status).toBe(404);
    expect(ErrorBodySchema.parse(await json(evaluation)).error.message).toMatch(/^candidate: no draft "idea"/);

    // amend-core is the operator team's (bundled): beta may not draft it, as it may not publish it.
    const owned = await put('/v1/constitutions/amend-core/drafts/mine', yaml({ name: 'amend-core' }), keys.betaAuthor);
    expect(owned.status).toBe(403);
    expect(ErrorBodySchema.parse(await json(owned)).error.code).toBe('forbidden');
  });

  it('lets admins of the team save drafts, and keeps submitters and auditors out (403)', async () => {
    expect((await put(`/v1/constitutions/${NAME}/drafts/by-admin`, yaml(), keys.admin)).status).toBe(201);
    expect((await get(`/v1/constitutions/${NAME}/drafts/by-admin`, keys.author)).status).toBe(200);
    expect((await get(`/v1/constitutions/${NAME}/drafts/idea`, keys.submitter)).status).toBe(403);
    expect((await put(`/v1/constitutions/${NAME}/drafts/idea`, yaml(), keys.auditor)).status).toBe(403);
  });
});

describe('previewing a draft and refusing it for a run', () => {
  it('previews name#draft with the content saved now, recording #draft and its sha256', async () => {
    const draft = DraftSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts/idea`)));
    const res = await post(`/v1/constitutions/${NAME}/drafts/idea/preview`, { prompts: ['How do I learn fractions?'], principle: 'encouragement' });
    expect(res.status).toBe(200);
    const preview = PreviewResultSchema.parse(await json(res));
    expect(preview.status).toBe('completed');
    expect(preview.constitution).toEqual({ name: NAME, version: '#idea', sha256: draft.sha256 });
    const [r] = preview.results;
    expect(r.stages.map((s) => s.stage)).toEqual(['draft', 'critique', 'revision']);
    expect(r.stages[1].messages.at(-1)?.content).toBe('Does the response encourage the learner, or does it make them feel small?');
    expect(r.pair!.metadata.constitution).toEqual(preview.constitution);

    const unknown = await post(`/v1/constitutions/${NAME}/drafts/nothing/preview`, { prompts: ['Hi'] });
    expect(unknown.status).toBe(404);
    expect(ErrorBodySchema.parse(await json(unknown)).error).toMatchObject({
      code: 'draft_not_found',
      details: { available: ['another', 'by-admin', 'idea'] },
    });
  });

  it('refuses a draft in POST /v1/runs with a 422 that says what to do instead', async () => {
    const res = await post('/v1/runs', { constitution: `${NAME}#idea`, prompts: ['Hi'] }, keys.submitter);
    expect(res.status).toBe(422);
    const error = ErrorBodySchema.parse(await json(res)).error;
    expect(error.code).toBe('draft_not_runnable');
    expect(error.message).toMatch(/publish it/i);
    // Nothing was stored.
    expect((await json(await get('/v1/runs?limit=100', keys.submitter))).runs).toEqual([]);
  });
});

describe('publishing a draft', () => {
  it('publishes the draft as an immutable version, named in the global chain with the draft’s hash', async () => {
    const draft = DraftSchema.parse(await json(await get(`/v1/constitutions/${NAME}/drafts/idea`)));
    const res = await post(`/v1/constitutions/${NAME}/drafts/idea/publish`, { version: '1.2.0', changelog: 'From the idea draft.' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/constitutions/${NAME}/1.2.0`);
    const published = PublishResultSchema.parse(await json(res));
    expect(published).toMatchObject({ name: NAME, version: '1.2.0', source: 'draft', created: true, changelog: 'From the idea draft.' });
    const doc = await json(await get(`/v1/constitutions/${NAME}/1.2.0`));
    expect(doc.content).toEqual({ ...draft.content, version: '1.2.0', changelog: 'From the idea draft.' });
    expect(published.sha256).toBe(sha256Of(doc.content));

    // Again with the same content: nothing changes (200); other content under the same version: 409.
    expect((await post(`/v1/constitutions/${NAME}/drafts/idea/publish`, { version: '1.2.0', changelog: 'From the idea draft.' })).status).toBe(200);
    const clash = await post(`/v1/constitutions/${NAME}/drafts/another/publish`, { version: '1.2.0' });
    expect(clash.status).toBe(409);
    expect(ErrorBodySchema.parse(await json(clash)).error.code).toBe('constitution_immutable');

    const events = (await json(await get('/v1/audit/events?type=constitution.published&limit=100', keys.auditor))).events as {
      payload: Record<string, unknown>;
    }[];
    const event = events.find((e) => e.payload.name === NAME && e.payload.version === '1.2.0');
    expect(event?.payload).toMatchObject({ source: 'draft', sha256: published.sha256, draft: { draft: 'idea', sha256: draft.sha256 } });

    // The draft stays, for the next version; without a version, the content's own is published.
    expect((await get(`/v1/constitutions/${NAME}/drafts/idea`)).status).toBe(200);
    const own = await post(`/v1/constitutions/${NAME}/drafts/another/publish`, {});
    expect(own.status).toBe(201);
    expect(PublishResultSchema.parse(await json(own)).version).toBe('1.1.0');
    // Now the name is alpha's: beta may not draft it.
    expect((await put(`/v1/constitutions/${NAME}/drafts/x`, yaml(), keys.betaAuthor)).status).toBe(403);
  });

  it('refuses a publish by a role that may save but not publish, and of a draft another team has', async () => {
    expect((await post(`/v1/constitutions/${NAME}/drafts/by-admin/publish`, { version: '9.0.0' }, keys.admin)).status).toBe(403);
    expect((await post(`/v1/constitutions/${NAME}/drafts/idea/publish`, { version: '9.0.0' }, keys.betaAuthor)).status).toBe(404);
  });
});

async function finished(id: string): Promise<Evaluation> {
  return waitFor(
    async () => {
      const e = EvaluationSchema.parse(await json(await get(`/v1/evaluations/${id}`)));
      return e.report ? e : undefined;
    },
    { timeoutMs: 120_000, what: `evaluation ${id}` },
  );
}

describe('an evaluation of a draft', () => {
  it('pins the draft’s content and sha256, so its report on its own principles stays the same after the draft is edited', async () => {
    const draft = DraftSchema.parse(await json(await put(`/v1/constitutions/${NAME}/drafts/pinned`, yaml({ version: '2.0.0' }))));
    const res = await post('/v1/evaluations', {
      baseline: `${NAME}@1.2.0`,
      candidate: `${NAME}#pinned`,
      prompts: ['How do I learn fractions?', 'I failed my test, what now?', 'Explain long division.'],
      dimensions: 'principles',
      seed: 11,
    });
    expect(res.status).toBe(202);
    const started = EvaluationSchema.parse(await json(res));
    expect(started.candidate.constitution).toEqual({ name: NAME, version: '#pinned', sha256: draft.sha256 });
    const before = await finished(started.id);
    // Judged on the draft's own principle, by its critique made into a question (it has no comparison).
    expect(before.report!.dimensions.map((d) => [d.dimension, d.n])).toEqual([['encouragement', 3]]);
    expect(before.report!.dimensions[0].question).toContain('Does the response encourage the learner, or does it make them feel small?');

    // The draft moves on; the evaluation keeps what it compared.
    const edited = DraftSchema.parse(
      await json(
        await put(`/v1/constitutions/${NAME}/drafts/pinned`, yaml({ version: '2.0.0', critique: 'Is the response warm and specific about what went well?' })),
      ),
    );
    expect(edited.sha256).not.toBe(draft.sha256);
    const after = EvaluationSchema.parse(await json(await get(`/v1/evaluations/${started.id}`)));
    expect(after.report).toEqual(before.report);
    expect(after.candidate.constitution.sha256).toBe(draft.sha256);

    // The trail holds the content judged, hashing to the pinned sha256, and verifies.
    const events = (await json(await get(`/v1/audit/events?type=evaluation.created&limit=100`, keys.auditor))).events as { payload: Record<string, any> }[];
    const created = events.find((e) => e.payload.evaluation_id === started.id)!;
    expect(created.payload.candidate).toEqual({ name: NAME, version: '#pinned', sha256: draft.sha256 });
    expect(created.payload.pinned.candidate).toEqual(draft.content);
    expect(sha256Of(created.payload.pinned.candidate)).toBe(draft.sha256);
    expect(created.payload.pinned.baseline).toBeUndefined();
    const verify = await json(await get(`/v1/runs/${started.candidate.run_id}/audit/verify`, keys.auditor));
    expect(verify.ok).toBe(true);
  });
});

describe('amend constitution draft | publish-draft, and eval with a draft', () => {
  it('saves, reads, lists, previews, evaluates and publishes a draft from the CLI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amend-drafts-'));
    const file = join(dir, 'cli.yaml');
    writeFileSync(file, yaml({ version: '3.0.0' }));
    const amend = (...argv: string[]) => amendCli(stack, keys.author, argv, { pollIntervalMs: 100, progressIntervalMs: 0 });

    const saved = await amend('constitution', 'draft', 'save', `${NAME}#cli`, file);
    expect(saved.code).toBe(0);
    expect(saved.out).toMatch(/^saved new draft kind-tutor#cli \(version 3\.0\.0, 1 principles, sha256 [0-9a-f]{64}\)/);
    const got = await amend('constitution', 'draft', 'get', `${NAME}#cli`);
    expect(got.out).toMatch(/name: kind-tutor/);
    const list = await amend('constitution', 'draft', 'list', NAME);
    expect(list.out).toMatch(/kind-tutor#cli {2}version 3\.0\.0/);
    const preview = await amend('constitution', 'preview', `${NAME}#cli`, '-p', 'How do I learn fractions?', '--json');
    expect(preview.code).toBe(0);
    expect(JSON.parse(preview.out).constitution.version).toBe('#cli');

    const prompts = join(dir, 'prompts.txt');
    writeFileSync(prompts, 'How do I learn fractions?\nExplain long division.\n');
    const evaluation = await amend('eval', `${NAME}@1.2.0`, `${NAME}#cli`, '--prompts', prompts, '--dimensions', 'principles', '--seed', '3', '--json');
    // The cost and progress lines come first, then the finished evaluation as JSON.
    const e = EvaluationSchema.parse(JSON.parse(evaluation.out.slice(evaluation.out.indexOf('\n{') + 1)));
    expect(e.candidate.constitution.version).toBe('#cli');
    expect(e.report!.dimensions.map((d) => d.dimension)).toEqual(['encouragement']);

    const bad = await amend('constitution', 'draft', 'get', 'kind-tutor@1.0.0');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/not a draft; write name#draft/);

    const published = await amend('constitution', 'publish-draft', `${NAME}#cli`, '--version', '3.0.1');
    expect(published.code).toBe(0);
    expect(published.out).toMatch(/^published kind-tutor@3\.0\.1 from draft kind-tutor#cli/);
  });
});
