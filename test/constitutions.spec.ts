import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { parse as parseYaml } from 'yaml';
import { ConstitutionSchema, constitutionSha256, importH4, parseConstitutionYaml } from '@amend/constitution';
import { ConstitutionDiffSchema, ConstitutionDocumentSchema, ConstitutionListSchema, ErrorBodySchema, PublishResultSchema, RunSchema } from '@amend/contracts';
import { loadConfig } from '@amend/contracts';
import { createApiApp } from '../apps/api/src/app';
import { ROOT, json, ndjson, pgForFile, stackForFile, testEnv, waitForRun, type Stack } from './support/stack';
import { amendCli } from './support/capture';

const env = testEnv('constitutions');
let stack: Stack;
let pg: Client;

const h4Fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/h4/constitution_anthropic.json'), 'utf8'));

const yamlOf = (name: string, version: string, extra = '') => `name: ${name}
version: ${version}
title: Kindness
changelog: ${version === '1.0.0' ? 'First version.' : 'Sharper critique.'}
principles:
  - id: kind
    tags: [kindness]
    critique: Identify ways in which the last response is unkind.
    revision: Rewrite the response to be kind.${extra}
  - id: brief
    tags: [style]
    critique: Identify padding in the last response.
    revision: Rewrite the response to be brief.
`;

/** Authors publish and read constitutions; runs are a submitter's. */
let authorKey: string;
let authorActor: string;
const keyFor = (path: string) => (path.startsWith('/v1/constitutions') ? authorKey : stack.submitterKey);
const post = (path: string, body: string | unknown, contentType = 'application/json') =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) }, keyFor(path));
const get = (path: string, headers: Record<string, string> = {}) => stack.fetch(path, { headers }, keyFor(path));

async function errorOf(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status);
  const body = ErrorBodySchema.parse(await json(res));
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

async function auditEvents(type: string) {
  const r = await pg.query(`select actor, payload from "${env.DATABASE_SCHEMA}".audit_events where type = $1 order by id`, [type]);
  return r.rows as { actor: string; payload: any }[];
}

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));
beforeAll(async () => {
  authorKey = await stack.mintKey('author');
  authorActor = `key:${(await json(await stack.fetch('/v1/keys/me', {}, authorKey))).id}`;
});

describe('publishing a constitution version over REST', () => {
  it('publishes YAML as a new immutable version with its hash, publisher, time, changelog and audit event', async () => {
    const res = await post('/v1/constitutions', yamlOf('kind', '1.0.0'), 'application/yaml');
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/v1/constitutions/kind/1.0.0');
    const v = PublishResultSchema.parse(await json(res));
    expect(v).toMatchObject({ name: 'kind', version: '1.0.0', created: true, published_by: authorActor, source: 'api', changelog: 'First version.' });
    expect(v.sha256).toBe(constitutionSha256(parseConstitutionYaml(yamlOf('kind', '1.0.0'))));
    expect(Date.parse(v.published_at)).toBeGreaterThan(Date.now() - 60_000);
    const events = await auditEvents('constitution.published');
    expect(events.find((e) => e.payload.name === 'kind')).toMatchObject({ actor: authorActor, payload: { version: '1.0.0', sha256: v.sha256 } });
  });

  it('accepts text/yaml and JSON bodies too', async () => {
    expect((await post('/v1/constitutions', yamlOf('kind', '1.1.0', ' Be specific.'), 'text/yaml')).status).toBe(201);
    const asJson = parseYaml(yamlOf('kind-json', '1.0.0'));
    const res = await post('/v1/constitutions', asJson);
    expect(res.status).toBe(201);
    expect((await json(res)).sha256).toBe(constitutionSha256(ConstitutionSchema.parse(asJson)));
  });

  it('answers 200 and changes nothing when the same content is published again, written differently', async () => {
    const sameContent = { ...parseYaml(yamlOf('kind', '1.0.0')) };
    const res = await post('/v1/constitutions', sameContent);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ created: false, version: '1.0.0' });
    expect((await auditEvents('constitution.published')).filter((e) => e.payload.name === 'kind' && e.payload.version === '1.0.0')).toHaveLength(1);
  });

  it('refuses other content under a published version with 409 and names the next free version', async () => {
    const err = await errorOf(await post('/v1/constitutions', yamlOf('kind', '1.0.0', ' Changed.'), 'application/yaml'), 409, 'constitution_immutable');
    expect(err.message).toContain('kind@1.0.0 is already published with other content');
    expect(err.message).toContain('publish 1.0.1 instead');
    const doc = ConstitutionDocumentSchema.parse(await json(await get('/v1/constitutions/kind/1.0.0')));
    expect((doc.content as any).principles[0].revision).toBe('Rewrite the response to be kind.');
  });

  it('answers a schema error with 422 and the located issues, for YAML and for JSON bodies', async () => {
    const broken = yamlOf('kind', '2.0.0').replace('    revision: Rewrite the response to be brief.\n', '');
    const err = await errorOf(await post('/v1/constitutions', broken, 'application/yaml'), 422, 'constitution_invalid');
    expect(err.message).toContain('request body:10:5: principles[1].revision: required field "revision" is missing');
    expect((err.details as any).issues).toEqual([
      expect.objectContaining({ path: 'principles[1].revision', line: 10, col: 5, fix: expect.stringContaining('rewrite') }),
    ]);

    const jsonText = '{\n  "name": "kind",\n  "version": "2.0.0",\n  "principles": [\n    {"id": "a", "critique": "c", "revision": "r", "severity": 3}\n  ]\n}';
    const jsonErr = await errorOf(await post('/v1/constitutions', jsonText), 422, 'constitution_invalid');
    expect((jsonErr.details as any).issues[0]).toMatchObject({ path: 'principles[0].severity', line: 5, message: 'unknown field "severity"' });
  });

  it('answers broken YAML with 400, a body of another type with 415 and an oversized one with 413', async () => {
    const syntax = await errorOf(await post('/v1/constitutions', 'name: kind\nversion: [1.0.0\n', 'application/yaml'), 400, 'constitution_syntax');
    expect((syntax.details as any).issues[0].line).toBeGreaterThan(0);
    await errorOf(await post('/v1/constitutions', 'name: kind', 'text/plain'), 415, 'unsupported_media_type');
    await errorOf(await post('/v1/constitutions', 'x'.repeat(1024 * 1024 + 1), 'application/yaml'), 413, 'body_too_large');
  });
});

describe('concurrent publishes of one version', () => {
  it('with different content: exactly one 201, nine 409', async () => {
    const bodies = Array.from({ length: 10 }, (_, i) => yamlOf('race', '1.0.0', ` Variant ${i}.`));
    const statuses = (await Promise.all(bodies.map((b) => post('/v1/constitutions', b, 'application/yaml')))).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    expect(await auditEvents('constitution.published').then((e) => e.filter((x) => x.payload.name === 'race'))).toHaveLength(1);
  });

  it('with identical content: one 201 and nine idempotent 200s with the same hash', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, () => post('/v1/constitutions', yamlOf('race-same', '1.0.0'), 'application/yaml')));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    const hashes = new Set(await Promise.all(responses.map(async (r) => (await json(r)).sha256)));
    expect(hashes.size).toBe(1);
  });
});

describe('reading the registry', () => {
  it('lists constitutions with their versions, bundled ones included', async () => {
    const list = ConstitutionListSchema.parse(await json(await get('/v1/constitutions')));
    const kind = list.constitutions.find((c) => c.name === 'kind')!;
    expect(kind.versions.map((v) => v.version)).toEqual(['1.0.0', '1.1.0']);
    expect(kind.latest).toBe('1.1.0');
    const core = list.constitutions.find((c) => c.name === 'amend-core')!;
    expect(core.versions[0].published_by).toMatch(/^file:.*constitutions\/amend-core\/1\.0\.0\.yaml$/);
    expect(core.versions[0].source).toBe('file');
  });

  it('reads one version as JSON, as YAML with Accept: application/yaml, and names the versions when one is missing', async () => {
    const doc = ConstitutionDocumentSchema.parse(await json(await get('/v1/constitutions/kind/1.1.0')));
    expect(doc).toMatchObject({ name: 'kind', version: '1.1.0', deprecated: false });
    const yamlRes = await get('/v1/constitutions/kind/1.1.0', { accept: 'application/yaml' });
    expect(yamlRes.headers.get('content-type')).toContain('application/yaml');
    const fromYaml = parseConstitutionYaml(await yamlRes.text());
    expect(constitutionSha256(fromYaml)).toBe(doc.sha256);
    expect((await json(await get('/v1/constitutions/kind/latest'))).version).toBe('1.1.0');
    const missing = await errorOf(await get('/v1/constitutions/kind/9.9.9'), 404, 'constitution_not_found');
    expect(missing.message).toContain('versions: 1.0.0, 1.1.0');
    await errorOf(await get('/v1/constitutions/nope/1.0.0'), 404, 'constitution_not_found');
    await errorOf(await get('/v1/constitutions/kind/1.0.0?format=csv'), 422, 'invalid_request');
  });
});

describe('the OpenAPI document', () => {
  it('describes every constitution route', async () => {
    const doc = await json(await get('/docs/openapi.json'));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/constitutions',
        '/v1/constitutions/import',
        '/v1/constitutions/{name}',
        '/v1/constitutions/{name}/diff',
        '/v1/constitutions/{name}/{version}',
        '/v1/constitutions/{name}/{version}/deprecate',
        '/v1/constitutions/{name}/{version}/preview',
      ]),
    );
    expect(Object.keys(doc.paths['/v1/constitutions'].post.requestBody.content)).toEqual(['application/json', 'application/yaml', 'text/yaml']);
  });
});

describe('deprecating a version', () => {
  it('keeps it readable and runnable by exact version, while the bare name resolves to the newest other version', async () => {
    const res = await post('/v1/constitutions/kind/1.1.0/deprecate', { reason: 'critique too vague' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ version: '1.1.0', deprecated: true, deprecated_by: authorActor, deprecation_reason: 'critique too vague' });

    const list = ConstitutionListSchema.parse(await json(await get('/v1/constitutions')));
    expect(list.constitutions.find((c) => c.name === 'kind')!.latest).toBe('1.0.0');
    expect((await json(await get('/v1/constitutions/kind/1.1.0'))).deprecated).toBe(true);

    const byName = RunSchema.parse(await json(await post('/v1/runs', { constitution: 'kind', prompts: ['hello'] })));
    expect(byName.constitution.version).toBe('1.0.0');
    const exact = RunSchema.parse(await json(await post('/v1/runs', { constitution: 'kind@1.1.0', prompts: ['hello'] })));
    expect(exact.constitution.version).toBe('1.1.0');
  });

  it('records one audit event, even when deprecated twice', async () => {
    expect((await post('/v1/constitutions/kind/1.1.0/deprecate', {})).status).toBe(200);
    const events = (await auditEvents('constitution.deprecated')).filter((e) => e.payload.name === 'kind');
    expect(events).toEqual([{ actor: authorActor, payload: expect.objectContaining({ version: '1.1.0', reason: 'critique too vague' }) }]);
  });

  it('answers 404 for a version that does not exist', async () => {
    await errorOf(await post('/v1/constitutions/kind/3.0.0/deprecate', {}), 404, 'constitution_not_found');
  });
});

describe('diffing two versions', () => {
  it('shows the changed principle with a word-level diff and the changelog change', async () => {
    const res = await get('/v1/constitutions/kind/diff?from=1.0.0&to=1.1.0');
    expect(res.status).toBe(200);
    const d = ConstitutionDiffSchema.parse(await json(res));
    expect(d.identical).toBe(false);
    expect(d.principles.added).toEqual([]);
    expect(d.principles.removed).toEqual([]);
    expect(d.principles.unchanged).toEqual(['brief']);
    expect(d.principles.changed).toEqual([
      expect.objectContaining({ id: 'kind', revision: expect.objectContaining({ inline: 'Rewrite the response to be kind. {+Be specific.+}' }) }),
    ]);
    expect(d.metadata.changelog).toMatchObject({ from: 'First version.', to: 'Sharper critique.' });
  });

  it('refuses a bad query with 422 and an unknown version with 404', async () => {
    await errorOf(await get('/v1/constitutions/kind/diff?from=1.0.0'), 422, 'invalid_request');
    await errorOf(await get('/v1/constitutions/kind/diff?from=1.0.0&to=7.0.0'), 404, 'constitution_not_found');
  });
});

describe('Hugging Face H4 import and export', () => {
  it('imports the shared H4 fixture as a new version, and exports it back to equal H4 JSON', async () => {
    const res = await post('/v1/constitutions/import?format=h4&name=h4-anthropic&version=1.0.0&tags=harmlessness', h4Fixture);
    expect(res.status).toBe(201);
    const v = PublishResultSchema.parse(await json(res));
    expect(v.source).toBe('h4-import');
    const expected = importH4(h4Fixture, { name: 'h4-anthropic', version: '1.0.0', tags: ['harmlessness'] });
    expect(v.sha256).toBe(constitutionSha256(expected));

    const doc = ConstitutionDocumentSchema.parse(await json(await get('/v1/constitutions/h4-anthropic/1.0.0')));
    expect((doc.content as any).principles).toHaveLength(16);
    expect((doc.content as any).examples).toHaveLength(4);
    expect(await json(await get('/v1/constitutions/h4-anthropic/1.0.0?format=h4'))).toEqual(h4Fixture);
    // Same file again: idempotent.
    expect((await post('/v1/constitutions/import?format=h4&name=h4-anthropic&version=1.0.0&tags=harmlessness', h4Fixture)).status).toBe(200);
  });

  it('refuses a body that is not H4 with 422 naming the field, and a bad query with 422', async () => {
    const err = await errorOf(
      await post('/v1/constitutions/import?format=h4&name=bad&version=1.0.0', { constitutions: [{ critic: 'x' }] }),
      422,
      'constitution_invalid',
    );
    expect((err.details as any).issues[0].path).toBe('constitutions[0].revision');
    await errorOf(await post('/v1/constitutions/import?format=csv&name=bad&version=1.0.0', h4Fixture), 422, 'invalid_request');
    await errorOf(await post('/v1/constitutions/import?format=h4&name=bad&version=1.0', h4Fixture), 422, 'invalid_request');
  });
});

describe('runs restricted to some principles', () => {
  it('samples only the named principle ids, and every pair records them with the version and hash', async () => {
    const res = await post('/v1/runs', {
      constitution: 'amend-core',
      prompts: ['a', 'b', 'c', 'd', 'e', 'f'],
      rounds: 3,
      principles: { ids: ['privacy', 'honesty'] },
    });
    expect(res.status).toBe(202);
    const run = RunSchema.parse(await json(res));
    expect(run.principles).toEqual({ ids: ['privacy', 'honesty'] });
    expect((await waitForRun(stack, run.id)).status).toBe('completed');
    const pairs = ndjson(await (await get(`/v1/runs/${run.id}/pairs`)).text());
    expect(pairs).toHaveLength(6);
    for (const p of pairs) {
      expect(p.metadata.principle_ids).toHaveLength(3);
      for (const id of p.metadata.principle_ids) expect(['privacy', 'honesty']).toContain(id);
      expect(p.metadata.constitution).toEqual(run.constitution);
    }
  });

  it('samples principles by tag', async () => {
    const run = RunSchema.parse(
      await json(await post('/v1/runs', { constitution: 'amend-core', prompts: ['a', 'b', 'c'], rounds: 2, principles: { tags: ['over-refusal'] } })),
    );
    await waitForRun(stack, run.id);
    const pairs = ndjson(await (await get(`/v1/runs/${run.id}/pairs`)).text());
    expect(new Set(pairs.flatMap((p) => p.metadata.principle_ids))).toEqual(new Set(['over-refusal']));
  });

  it('refuses unknown ids or tags with 422 listing the valid ones', async () => {
    const ids = await errorOf(
      await post('/v1/runs', { constitution: 'amend-core', prompts: ['a'], principles: { ids: ['privacy', 'telepathy'] } }),
      422,
      'unknown_principles',
    );
    expect(ids.message).toContain('"telepathy"');
    expect(ids.details).toEqual({ unknown: ['telepathy'], valid_ids: expect.arrayContaining(['privacy', 'honesty', 'over-refusal']) });
    const tags = await errorOf(
      await post('/v1/runs', { constitution: 'amend-core', prompts: ['a'], principles: { tags: ['nope'] } }),
      422,
      'unknown_principles',
    );
    expect((tags.details as any).valid_tags).toContain('privacy');
    await errorOf(await post('/v1/runs', { constitution: 'amend-core', prompts: ['a'], principles: { ids: [] } }), 422, 'invalid_request');
  });
});

describe('constitution files at boot', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'amend-boot-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writeFile(rel: string, text: string) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }

  async function boot() {
    const app = await createApiApp(loadConfig({ ...env, CONSTITUTIONS_DIR: dir }));
    try {
      await app.init();
    } finally {
      await app.close();
    }
  }

  it('registers new files and is idempotent on the next boot', async () => {
    writeFile('gentle/1.0.0.yaml', yamlOf('gentle', '1.0.0'));
    await boot();
    await boot();
    const summary = await json(await get('/v1/constitutions/gentle'));
    expect(summary.versions.map((v: any) => v.version)).toEqual(['1.0.0']);
    expect(summary.versions[0].published_by).toBe(`file:${join(dir, 'gentle/1.0.0.yaml')}`);
    expect((await auditEvents('constitution.published')).filter((e) => e.payload.name === 'gentle')).toHaveLength(1);
  });

  it('refuses to start when a file changed under a published version, and says which version to publish', async () => {
    writeFile('gentle/1.0.0.yaml', yamlOf('gentle', '1.0.0', ' Edited in place.'));
    await expect(boot()).rejects.toThrow(
      /refusing to start: .*gentle\/1\.0\.0\.yaml: gentle@1\.0\.0 is already published with other content .*publish 1\.0\.1 instead/,
    );
  });

  it('refuses to start when a file differs from a version first published over REST', async () => {
    rmSync(join(dir, 'gentle'), { recursive: true });
    writeFile('kind/1.0.0.yaml', yamlOf('kind', '1.0.0', ' Not what was published.'));
    // kind has 1.0.0 and 1.1.0, so the next free number in the 1.0 line is 1.0.1.
    await expect(boot()).rejects.toThrow(/kind@1\.0\.0 is already published with other content.*publish 1\.0\.1 instead/);
  });
});

describe('the amend constitution commands against the API', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'amend-cli-registry-'));
    mkdirSync(join(dir, 'constitutions/cli-kind'), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const amend = (...args: string[]) => amendCli(stack, authorKey, args, { cwd: dir });

  it('publishes a file, answers a republish as unchanged, and refuses an edited version naming the next one', async () => {
    writeFileSync(join(dir, 'constitutions/cli-kind/1.0.0.yaml'), yamlOf('cli-kind', '1.0.0'));
    const first = await amend('constitution', 'publish', 'constitutions/cli-kind/1.0.0.yaml');
    expect(first).toMatchObject({ code: 0, out: expect.stringMatching(/^published cli-kind@1\.0\.0 \(sha256 [0-9a-f]{64}\)/) });
    expect((await amend('constitution', 'publish', 'constitutions/cli-kind/1.0.0.yaml')).out).toContain('already published with this content');

    writeFileSync(join(dir, 'constitutions/cli-kind/1.0.0.yaml'), yamlOf('cli-kind', '1.0.0', ' Edited.'));
    const edited = await amend('constitution', 'publish', 'constitutions/cli-kind/1.0.0.yaml');
    expect(edited.code).toBe(1);
    expect(edited.err).toContain('error: constitution_immutable (HTTP 409): cli-kind@1.0.0 is already published with other content');
    expect(edited.err).toContain('publish 1.0.1 instead');

    writeFileSync(join(dir, 'constitutions/cli-kind/1.0.1.yaml'), yamlOf('cli-kind', '1.0.1', ' Edited.'));
    expect((await amend('constitution', 'publish', 'constitutions/cli-kind/1.0.1.yaml')).code).toBe(0);
  });

  it('diffs two published versions through the API, and a file against a published version', async () => {
    const remote = await amend('constitution', 'diff', 'cli-kind@1.0.0', 'cli-kind@1.0.1');
    expect(remote.code).toBe(0);
    expect(remote.out).toContain('cli-kind@1.0.0 -> cli-kind@1.0.1');
    expect(remote.out).toContain('  ~ kind\n      revision: Rewrite the response to be kind. {+Edited.+}');
    expect(remote.out).toContain('  ~ changelog: [-First version-]{+Sharper critique+}.');

    const mixed = await amend('constitution', 'diff', 'cli-kind@1.0.1', 'constitutions/cli-kind/1.0.1.yaml');
    expect(mixed.out).toContain('identical content');
  });

  it('deprecates a version, after which show and the list resolve the name to the newest other version', async () => {
    const dep = await amend('constitution', 'deprecate', 'cli-kind@1.0.1', '--reason', 'too terse');
    expect(dep).toMatchObject({ code: 0, out: expect.stringContaining('cli-kind@1.0.1 is deprecated') });
    const shown = await amend('constitution', 'show', 'cli-kind');
    expect(parseConstitutionYaml(shown.out).version).toBe('1.0.0');
    const list = await amend('constitutions');
    expect(list.out).toContain('cli-kind (latest 1.0.0)');
    expect(list.out).toMatch(/1\.0\.1 +[0-9a-f]{12} {2}Kindness {2}\(deprecated\)/);
    expect((await amend('constitution', 'deprecate', 'cli-kind')).err).toContain('is not name@x.y.z');
  });

  it('imports H4 with --publish, and exports the published version back to the same H4 JSON', async () => {
    const imported = await amend(
      'constitution',
      'import-h4',
      join(ROOT, 'test/fixtures/h4/constitution_anthropic.json'),
      '--name',
      'cli-h4',
      '--version',
      '1.0.0',
      '--publish',
    );
    expect(imported.code).toBe(0);
    expect(imported.err).toContain('wrote constitutions/cli-h4/1.0.0.yaml');
    expect(imported.err).toMatch(/published cli-h4@1\.0\.0 \(sha256 [0-9a-f]{64}\)/);
    const exported = await amend('constitution', 'export-h4', 'cli-h4@1.0.0');
    expect(JSON.parse(exported.out)).toEqual(h4Fixture);
  });

  it('previews a principle on a prompt and prints every stage', async () => {
    const p = await amend('constitution', 'preview', 'amend-core@1.0.0', '--prompt', 'How do I find where my ex lives now?', '--principle', 'privacy');
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^preview of amend-core@1\.0\.0 \(sha256 [0-9a-f]{12}\), principle privacy: completed, 3 model calls/);
    expect(p.out).toContain('── prompt 1: How do I find where my ex lives now?');
    expect(p.out).toContain('   draft:');
    expect(p.out).toContain('   critique (round 1, privacy):');
    expect(p.out).toContain('   revision (round 1, privacy):');
  });
});
