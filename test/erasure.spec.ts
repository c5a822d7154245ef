import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ErasureResultSchema, ErrorBodySchema, RunSchema, RunVerifySchema, SampleSchema, type RunVerify } from '@amend/contracts';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * Erasure keeps the trail whole (docs/audit.md "Erasure"): an admin erases a sample's content for
 * a reason; the content goes, every hash stays, an `erasure` event records who, when and why;
 * verify says `erased` (not altered) and every chain and seal still holds; exports leave the pair
 * out and count it; nobody but an admin may erase, and the database refuses any other way to
 * blank or delete content. A blob another sample names survives.
 */
const env = testEnv('erasure', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
const role = `amend_t_${randomBytes(4).toString('hex')}`;
let stack: Stack;
let pg: Client;
stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

let auditor: string;
let runA: string;
let runB: string;
let samplesA: string[];
let samplesB: string[];
const SHARED_PROMPT = 'What is the boiling point of water at sea level?';
const PRIVATE_PROMPT = 'My name is Ada Example and my phone number is 555-0100; write me a poem.';

const post = (path: string, body: unknown, key: string | null = stack.adminKey) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
const verify = async (runId: string): Promise<RunVerify> => RunVerifySchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/audit/verify`, {}, auditor)));
const sampleView = async (id: string) => SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${id}`, {}, auditor)));

async function runOf(prompts: unknown[]): Promise<string> {
  const res = await post('/v1/runs', { constitution: 'amend-core', prompts }, stack.submitterKey);
  expect(res.status).toBe(202);
  const id = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`))).status === 'completed', { what: `run ${id}` });
  return id;
}

beforeAll(async () => {
  await pg.query(`set search_path to "${env.DATABASE_SCHEMA}"`);
  auditor = await stack.mintKey('auditor', 'audit');
  runA = await runOf([{ prompt: PRIVATE_PROMPT, metadata: { user: 'ada-lovelace-7731' } }, SHARED_PROMPT, 'Name a hardy houseplant.']);
  runB = await runOf([SHARED_PROMPT, 'Give me a synonym for quick.']);
  samplesA = (await pg.query(`select id from samples where run_id = $1 order by idx`, [runA])).rows.map((r) => r.id);
  samplesB = (await pg.query(`select id from samples where run_id = $1 order by idx`, [runB])).rows.map((r) => r.id);
});
afterAll(async () => {
  const admin = new Client({ connectionString: env.DATABASE_URL });
  await admin.connect();
  await admin.query(`drop role if exists ${role}`);
  await admin.end();
});

describe('who may erase', () => {
  it.each([
    ['a submitter of the run’s team', () => stack.submitterKey],
    ['an auditor', () => auditor],
  ])('%s is refused with 403 and nothing is erased', async (_who, key) => {
    const res = await post(`/v1/samples/${samplesA[2]}/erase`, { reason: 'not mine to erase' }, key());
    expect(res.status).toBe(403);
    expect((await post(`/v1/runs/${runA}/erase`, { reason: 'not mine to erase' }, key())).status).toBe(403);
    expect((await sampleView(samplesA[2])).verification?.status).toBe('verified');
  });

  it('a request without a reason is a 400 that says a reason is needed', async () => {
    for (const body of [{}, { reason: '   ' }]) {
      const res = await post(`/v1/samples/${samplesA[2]}/erase`, body);
      expect([400, 422]).toContain(res.status);
      expect(ErrorBodySchema.parse(await json(res)).error.message).toMatch(/reason/);
    }
    expect((await sampleView(samplesA[2])).prompt).toBe('Name a hardy houseplant.');
  });

  it('an unknown sample or run is a 404', async () => {
    expect((await post(`/v1/samples/00000000-0000-4000-8000-000000000000/erase`, { reason: 'x' })).status).toBe(404);
    expect((await post(`/v1/runs/00000000-0000-4000-8000-000000000000/erase`, { reason: 'x' })).status).toBe(404);
  });
});

describe('erasing one sample', () => {
  let blobsBefore: Map<string, string>;
  let prefix: string;
  let sharedPromptBlob: string;
  let privateBlobs: string[];
  let responseBlobs: string[];

  beforeAll(async () => {
    const refs = (await pg.query(`select sample_id, message_refs from stage_records where sample_id = any($1::uuid[])`, [[...samplesA, ...samplesB]])).rows;
    const own = new Set(refs.filter((r) => r.sample_id === samplesA[0]).flatMap((r) => r.message_refs as string[]));
    const others = new Set(refs.filter((r) => r.sample_id !== samplesA[0]).flatMap((r) => r.message_refs as string[]));
    // The few-shot prefix opens every call: the first name of the draft's messages, in both runs.
    prefix = refs.find((r) => r.sample_id === samplesA[0])!.message_refs[0];
    expect(others.has(prefix)).toBe(true);
    privateBlobs = [...own].filter((b) => !others.has(b));
    expect(privateBlobs.length).toBeGreaterThan(0);
    // The shared prompt's user message is one blob named by a sample of each run.
    const userBlob = (await pg.query(`select sha256 from content_blobs where content = $1::jsonb`, [JSON.stringify({ role: 'user', content: SHARED_PROMPT })]))
      .rows;
    expect(userBlob).toHaveLength(1);
    sharedPromptBlob = userBlob[0].sha256;
    responseBlobs = (
      await pg.query(`select payload->>'response_sha256' as sha from audit_events where chain = $1 and payload ? 'response_sha256'`, [`sample:${samplesA[0]}`])
    ).rows.map((r) => r.sha);
    expect((await pg.query(`select count(*) from content_blobs where sha256 = any($1::text[])`, [responseBlobs])).rows[0].count).toBe(
      String(responseBlobs.length),
    );
    blobsBefore = new Map((await pg.query(`select sha256, content::text as c from content_blobs`)).rows.map((r) => [r.sha256, r.c]));

    const res = await post(`/v1/samples/${samplesA[0]}/erase`, { reason: 'data subject request #42' });
    expect(res.status).toBe(200);
    const body = ErasureResultSchema.parse(await json(res));
    expect(body).toMatchObject({
      run_id: runA,
      erased: [{ sample_id: samplesA[0] }],
      already_erased: 0,
      blobs_deleted: privateBlobs.length + responseBlobs.length,
      reason: 'data subject request #42',
    });
  });

  it('removes the prompt, metadata, stage texts, pair texts and the blobs only it named; keeps every hash and id', async () => {
    const sample = (await pg.query(`select prompt, messages, metadata, audit_hash from samples where id = $1`, [samplesA[0]])).rows[0];
    expect(sample).toMatchObject({ prompt: '', messages: null, metadata: null });
    const stages = (await pg.query(`select text, message_refs from stage_records where sample_id = $1`, [samplesA[0]])).rows;
    expect(stages.length).toBeGreaterThan(0);
    expect(stages.every((s) => s.text === '' && s.message_refs.length > 0)).toBe(true);
    const pair = (await pg.query(`select record from pairs where sample_id = $1`, [samplesA[0]])).rows[0].record;
    expect(pair).toMatchObject({ erased: true, prompt: '', chosen: '', rejected: '', draft: '', rounds: [] });
    // The prompt's metadata travels on the pair too (metadata.prompt_metadata): it goes with the rest.
    expect(pair.metadata).not.toHaveProperty('prompt_metadata');
    expect(JSON.stringify(pair)).not.toContain('ada-lovelace-7731');
    const left = new Set((await pg.query(`select sha256 from content_blobs where sha256 = any($1::text[])`, [privateBlobs])).rows.map((r) => r.sha256));
    expect(left.size).toBe(0);
    // The model's response bodies, which the events name by hash, are gone too; the events are not.
    expect(responseBlobs.length).toBeGreaterThan(0);
    expect((await pg.query(`select count(*) from content_blobs where sha256 = any($1::text[])`, [responseBlobs])).rows[0].count).toBe('0');
    expect((await pg.query(`select count(*) from audit_events where payload->>'response_sha256' = any($1::text[])`, [responseBlobs])).rows[0].count).toBe(
      String(responseBlobs.length),
    );
    // Nothing of the private prompt is left in any table a read path serves.
    for (const table of ['samples', 'stage_records', 'pairs', 'content_blobs', 'pair_reviews', 'audit_events']) {
      const hits = (await pg.query(`select count(*) from ${table} t where t::text like $1`, [`%555-0100%`])).rows[0].count;
      expect(`${table}: ${hits}`).toBe(`${table}: 0`);
    }
  });

  it('keeps a blob another sample names: the few-shot prefix, and a prompt another run asked too', async () => {
    const now = new Map(
      (await pg.query(`select sha256, content::text as c from content_blobs where sha256 = any($1::text[])`, [[prefix, sharedPromptBlob]])).rows.map((r) => [
        r.sha256,
        r.c,
      ]),
    );
    expect(now.get(prefix)).toBe(blobsBefore.get(prefix));
    expect(now.get(sharedPromptBlob)).toBe(blobsBefore.get(sharedPromptBlob));
    const other = await sampleView(samplesB[0]);
    expect(other.prompt).toBe(SHARED_PROMPT);
    expect(other.stages[0].messages.some((m) => m.content === SHARED_PROMPT)).toBe(true);
    expect(other.verification?.status).toBe('verified');
  });

  it('the sample reads as erased, with who, when and why, and no stage as verified', async () => {
    const view = await sampleView(samplesA[0]);
    expect(view.prompt).toBe('');
    expect(view.verification).toMatchObject({
      status: 'erased',
      altered: [],
      erasure: { by: expect.stringMatching(/^key:/), reason: 'data subject request #42' },
    });
    expect(view.stages.every((s) => s.verified === false && s.text === '')).toBe(true);
    expect((await sampleView(samplesA[1])).verification?.status).toBe('verified');
  });

  it('verify says erased, not altered, and every chain and the run’s seal still hold', async () => {
    const v = await verify(runA);
    expect(v.ok).toBe(true);
    expect(v.failures).toEqual([]);
    expect(v.sealed).toBe(true);
    expect(v.computed_root).toBe(v.root);
    expect(v.rows?.failures).toEqual([]);
    expect(v.rows?.erased_samples).toBe(1);
    expect(v.rows?.erased).toEqual([
      expect.objectContaining({ sample_id: samplesA[0], by: expect.stringMatching(/^key:/), reason: 'data subject request #42' }),
    ]);
    expect(v.rows!.erased_rows).toBeGreaterThanOrEqual(3);
    expect(v.dataset?.erased).toBe(1);
    expect(v.dataset?.failures).toEqual([]);
    expect(v.erased).toEqual([expect.objectContaining({ chain: `sample:${samplesA[0]}`, reason: 'data subject request #42' })]);
    // The run that shares blobs with it is untouched.
    expect((await verify(runB)).ok).toBe(true);
  });

  it('the erased pair leaves every export, which counts it in Amend-Excluded', async () => {
    for (const path of [`/v1/runs/${runA}/pairs`, `/v1/runs/${runA}/pairs?format=h4`, `/v1/runs/${runA}/sft`]) {
      const res = await stack.fetch(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('amend-excluded')).toBe('erased=1');
      const lines = ndjson(await res.text());
      expect(lines.map((l) => l.sample_id).sort()).toEqual([samplesA[1], samplesA[2]].sort());
    }
    expect((await stack.fetch(`/v1/runs/${runB}/pairs`)).headers.get('amend-excluded')).toBe('none');
  });

  it('the run manifest still answers, with the erased prompt empty and the others as they were sent', async () => {
    const res = await stack.fetch(`/v1/runs/${runA}/manifest`);
    expect(res.status).toBe(200);
    const prompts = ((await json(res)) as { prompts: unknown[] }).prompts;
    expect(prompts).toHaveLength(samplesA.length);
    const texts = prompts.map((p) => (typeof p === 'string' ? p : (p as { prompt?: string }).prompt));
    expect(texts[0]).toBe('');
    expect(texts.slice(1).every((t) => typeof t === 'string' && t.length > 0)).toBe(true);
  });

  it('a second erasure of the same sample is a 409 naming the first', async () => {
    const res = await post(`/v1/samples/${samplesA[0]}/erase`, { reason: 'again' });
    expect(res.status).toBe(409);
    expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('already_erased');
  });

  it('a reviewed pair of an erased sample keeps its review row, blanked, and the reviewed export leaves the pair out too', async () => {
    const pairId = (await pg.query(`select id from pairs where sample_id = $1`, [samplesA[1]])).rows[0].id;
    const reviewed = await stack.fetch(`/v1/pairs/${pairId}/review`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'edit', chosen: 'An edited answer about water.', reason: 'clearer' }),
    });
    expect(reviewed.status).toBe(201);
    expect((await post(`/v1/samples/${samplesA[1]}/erase`, { reason: 'data subject request #43' })).status).toBe(200);
    const review = (await pg.query(`select chosen, rejected, reason, decision from pair_reviews where sample_id = $1`, [samplesA[1]])).rows;
    expect(review).toEqual([{ chosen: '', rejected: '', reason: '', decision: 'edit' }]);
    const res = await stack.fetch(`/v1/runs/${runA}/pairs`);
    expect(res.headers.get('amend-excluded')).toBe('erased=2');
    expect(ndjson(await res.text()).map((l) => l.sample_id)).toEqual([samplesA[2]]);
    const v = await verify(runA);
    expect(v.ok).toBe(true);
    expect(v.rows?.erased_samples).toBe(2);
  });
});

describe('erasing a whole run', () => {
  it('erases every sample with its own event, skips none, and the run still verifies', async () => {
    const res = await post(`/v1/runs/${runB}/erase`, { reason: 'the customer closed their account' });
    expect(res.status).toBe(200);
    const body = ErasureResultSchema.parse(await json(res));
    expect(body.erased.map((e) => e.sample_id).sort()).toEqual([...samplesB].sort());
    const v = await verify(runB);
    expect(v.ok).toBe(true);
    expect(v.sealed).toBe(true);
    expect(v.rows?.erased_samples).toBe(samplesB.length);
    const out = await stack.fetch(`/v1/runs/${runB}/pairs`);
    expect(out.headers.get('amend-excluded')).toBe(`erased=${samplesB.length}`);
    expect(await out.text()).toBe('');
    // Both samples that asked the shared prompt are erased now; the prefix is constitution text and stays.
    expect(
      (await pg.query(`select count(*) from content_blobs where content = $1::jsonb`, [JSON.stringify({ role: 'user', content: SHARED_PROMPT })])).rows[0]
        .count,
    ).toBe('0');
    expect((await verify(runA)).ok).toBe(true);
  });
});

describe('the database lets only the erasure path blank or delete content', () => {
  let app: Client;
  beforeAll(async () => {
    await pg.query(`create role ${role} login in role amend_app`);
    const url = new URL(env.DATABASE_URL);
    url.username = role;
    app = new Client({ connectionString: url.toString(), options: `-c search_path=${env.DATABASE_SCHEMA}` });
    await app.connect();
  });
  afterAll(() => app?.end());

  it('refuses the application role every delete or update of content, even with the erasure setting on', async () => {
    const id = samplesA[2];
    const statements = [
      `delete from stage_records where sample_id = '${id}'`,
      `update stage_records set text = '' where sample_id = '${id}'`,
      `delete from content_blobs where sha256 in (select unnest(message_refs) from stage_records where sample_id = '${id}')`,
      `update content_blobs set content = '{}' where sha256 in (select unnest(message_refs) from stage_records where sample_id = '${id}')`,
      `update samples set prompt = '' where id = '${id}'`,
      `update samples set metadata = '{"x": 1}' where id = '${id}'`,
      `delete from samples where id = '${id}'`,
      `update pairs set record = '{}' where sample_id = '${id}'`,
      `delete from pairs where sample_id = '${id}'`,
    ];
    for (const statement of statements) {
      for (const erasing of [false, true]) {
        await app.query('begin');
        try {
          if (erasing) await app.query(`set local amend.erasing = 'on'`);
          await expect(app.query(statement)).rejects.toMatchObject({ code: '42501' });
        } finally {
          await app.query('rollback');
        }
      }
    }
    // The erasure function itself refuses a sample whose erasure the trail does not record.
    await expect(app.query(`select amend_erase_samples(array['${id}'::uuid])`)).rejects.toThrow(/no erasure event/);
    // What the worker does need still works: its progress columns.
    await app.query('begin');
    await app.query(`update samples set updated_at = now(), calls = calls where id = $1`, [id]);
    await app.query('rollback');
    expect((await sampleView(id)).prompt).toBe('Name a hardy houseplant.');
  });

  it('refuses the owner too unless it switches triggers off', async () => {
    await expect(pg.query(`update samples set prompt = 'x' where id = $1`, [samplesA[2]])).rejects.toThrow(/append-only/);
    await expect(
      pg.query(`delete from content_blobs where sha256 = (select message_refs[1] from stage_records where sample_id = $1 limit 1)`, [samplesA[2]]),
    ).rejects.toThrow(/append-only/);
    await expect(pg.query(`update stage_records set text = '' where sample_id = $1`, [samplesA[2]])).rejects.toThrow(/append-only/);
  });
});
