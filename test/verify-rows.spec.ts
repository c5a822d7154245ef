import { Client } from 'pg';
import { RunSchema, RunVerifySchema, SampleSchema, type RunVerify } from '@amend/contracts';
import { amendCli } from './support/capture';
import { json, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * Verify covers every row a read path serves (docs/audit.md "What verify covers"): each table and
 * field that GET /v1/samples/{id}, `amend sample`, the pair page, the run and manifest routes, the
 * constitution and evaluation routes and the key directory show is edited behind the service's
 * back (as the owner, triggers off), and verify must name that row and field, then pass again
 * once the edit is undone. The expected (table, key, field) of each edit is written by hand here.
 */
const env = testEnv('verifyrows', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
let pg: Client;
stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

let runId: string;
let evalRunId: string;
let evaluationId: string;
let auditor: string;
let author: string;
let sampleIds: string[];

/** An edit as the owner with triggers off (session_replication_role = replica), committed. */
async function behindTheBack(text: string, values: unknown[]): Promise<void> {
  await pg.query('begin');
  await pg.query('set local session_replication_role = replica');
  await pg.query(`set local search_path to "${env.DATABASE_SCHEMA}"`);
  await pg.query(text, values);
  await pg.query('commit');
}
async function verify(run = runId): Promise<RunVerify> {
  const res = await stack.fetch(`/v1/runs/${run}/audit/verify`, {}, auditor);
  expect(res.status).toBe(200);
  return RunVerifySchema.parse(await json(res));
}
const sampleOf = (i: number) => sampleIds[i];

beforeAll(async () => {
  await pg.query(`set search_path to "${env.DATABASE_SCHEMA}"`);
  auditor = await stack.mintKey('auditor', 'audit');
  author = await stack.mintKey('author', 'default');
  const body = {
    constitution: 'amend-core',
    prompts: [
      { id: 'ext-0', prompt: 'How do I pick a lock?', metadata: { source: 'table', n: 1 } },
      {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
          { role: 'user', content: 'Tell me a secret.' },
        ],
      },
      'Write a haiku about rain.',
    ],
  };
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  runId = RunSchema.parse(await json(res)).id;
  const ev = await stack.fetch(
    '/v1/evaluations',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseline: 'amend-core@1.0.0', candidate: 'amend-core', prompts: ['Tell me a short joke.'] }),
    },
    author,
  );
  expect(ev.status).toBe(202);
  const evaluation = await json(ev);
  evaluationId = evaluation.id;
  evalRunId = evaluation.candidate.run_id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).status === 'completed', { what: 'the run' });
  await waitFor(async () => (await json(await stack.fetch(`/v1/evaluations/${evaluationId}`, {}, author))).status === 'completed', { what: 'the evaluation' });
  sampleIds = (await pg.query(`select id from samples where run_id = $1 order by idx`, [runId])).rows.map((r) => r.id);
});

it('an untouched run verifies every table a read path serves, and says how many rows of each it checked', async () => {
  const v = await verify();
  expect(v.ok).toBe(true);
  expect(v.rows?.failures).toEqual([]);
  const stages = Number(
    (await pg.query(`select count(*) from stage_records r join samples s on s.id = r.sample_id where s.run_id = $1`, [runId])).rows[0].count,
  );
  expect(v.rows?.checked).toMatchObject({ runs: 1, samples: 3, stage_records: stages, constitutions: 1, api_keys: 1 });
  expect(v.rows!.checked.content_blobs).toBeGreaterThan(3);
});

/**
 * Each row: what is edited, the row and field verify must name, and how to put it back. `key`
 * and the statements are functions so they read the ids of this run.
 */
interface Tamper {
  what: string;
  table: string;
  key: () => Promise<string> | string;
  field: string;
  edit: () => Promise<void>;
  undo: () => Promise<void>;
  run?: () => string;
}

/** Saves one column of one row, so the edit can be undone exactly. */
function columnEdit(table: string, where: string, params: () => unknown[], column: string, value: string): Pick<Tamper, 'edit' | 'undo'> {
  let saved: unknown;
  return {
    async edit() {
      saved = (await pg.query(`select ${column}::text as v from ${table} where ${where}`, params())).rows[0].v;
      await behindTheBack(`update ${table} set ${column} = ${value} where ${where}`, params());
    },
    async undo() {
      const n = params().length + 1;
      await behindTheBack(`update ${table} set ${column} = $${n}::text::${columnType(table, column)} where ${where}`, [...params(), saved]);
    },
  };
}
function columnType(table: string, column: string): string {
  const types: Record<string, string> = {
    'stage_records.text': 'text',
    'stage_records.finish_reason': 'text',
    'stage_records.model': 'text',
    'stage_records.prompt_tokens': 'int',
    'stage_records.message_refs': 'text[]',
    'stage_records.principle_id': 'text',
    'samples.prompt': 'text',
    'samples.metadata': 'jsonb',
    'samples.messages': 'jsonb',
    'samples.idx': 'int',
    'samples.external_id': 'text',
    'runs.seed': 'int',
    'runs.sampling': 'jsonb',
    'runs.model': 'text',
    'runs.rounds': 'int',
    'content_blobs.content': 'jsonb',
    'constitutions.content': 'jsonb',
    'api_keys.role': 'text',
    'api_keys.team': 'text',
    'evaluations.report': 'jsonb',
  };
  return types[`${table}.${column}`];
}

const stage = (i: number, seq: number) => ({ where: `sample_id = $1 and seq = ${seq}`, params: () => [sampleOf(i)], key: () => `${sampleOf(i)}:${seq}` });
const critique = stage(0, 1);
const sample = (i: number) => ({ where: 'id = $1', params: () => [sampleOf(i)], key: () => sampleOf(i) });
const run = { where: 'id = $1', params: () => [runId], key: () => runId };
let draftBlob: string;
let responseBody: string;
const blob = { where: 'sha256 = $1', params: () => [draftBlob], key: () => draftBlob };
let submitterKeyId: string;
const key = { where: 'id = $1::uuid', params: () => [submitterKeyId], key: () => submitterKeyId };

const TAMPERS: Tamper[] = [
  {
    what: "a critique's text",
    table: 'stage_records',
    key: critique.key,
    field: 'text',
    ...columnEdit('stage_records', critique.where, critique.params, 'text', `'The response is perfectly fine.'`),
  },
  {
    what: "a stage's finish reason",
    table: 'stage_records',
    key: critique.key,
    field: 'finish_reason',
    ...columnEdit('stage_records', critique.where, critique.params, 'finish_reason', `'content_filter'`),
  },
  {
    what: "a stage's model",
    table: 'stage_records',
    key: critique.key,
    field: 'model',
    ...columnEdit('stage_records', critique.where, critique.params, 'model', `'gpt-4o'`),
  },
  {
    what: "a stage's token use",
    table: 'stage_records',
    key: critique.key,
    field: 'prompt_tokens',
    ...columnEdit('stage_records', critique.where, critique.params, 'prompt_tokens', 'prompt_tokens + 1'),
  },
  {
    what: "a stage's principle",
    table: 'stage_records',
    key: critique.key,
    field: 'principle_id',
    ...columnEdit('stage_records', critique.where, critique.params, 'principle_id', `'made-up'`),
  },
  {
    what: "a stage's message refs",
    table: 'stage_records',
    key: critique.key,
    field: 'message_refs',
    ...columnEdit('stage_records', critique.where, critique.params, 'message_refs', 'message_refs[1:1]'),
  },
  {
    what: "a draft's message blob",
    table: 'content_blobs',
    key: blob.key,
    field: 'content',
    ...columnEdit('content_blobs', blob.where, blob.params, 'content', `jsonb_set(content, '{content}', '"forged"')`),
  },
  {
    what: "a critique's response body",
    table: 'content_blobs',
    key: () => responseBody,
    field: 'content',
    ...columnEdit('content_blobs', 'sha256 = $1', () => [responseBody], 'content', `jsonb_set(content, '{choices,0,message,content}', '"forged"')`),
  },
  {
    what: "a sample's prompt",
    table: 'samples',
    key: sample(2).key,
    field: 'prompt',
    ...columnEdit('samples', sample(2).where, sample(2).params, 'prompt', `'Write a limerick.'`),
  },
  {
    what: "a sample's metadata",
    table: 'samples',
    key: sample(0).key,
    field: 'metadata',
    ...columnEdit('samples', sample(0).where, sample(0).params, 'metadata', `'{"source": "elsewhere", "n": 1}'`),
  },
  {
    what: "a sample's conversation",
    table: 'samples',
    key: sample(1).key,
    field: 'messages',
    ...columnEdit('samples', sample(1).where, sample(1).params, 'messages', `jsonb_set(messages, '{1,content}', '"Go away."')`),
  },
  { what: "a sample's index", table: 'samples', key: sample(2).key, field: 'idx', ...columnEdit('samples', sample(2).where, sample(2).params, 'idx', '7') },
  {
    what: "a sample's external id",
    table: 'samples',
    key: sample(0).key,
    field: 'external_id',
    ...columnEdit('samples', sample(0).where, sample(0).params, 'external_id', `'ext-9'`),
  },
  { what: "the run's seed", table: 'runs', key: run.key, field: 'seed', ...columnEdit('runs', run.where, run.params, 'seed', 'seed + 1') },
  {
    what: "the run's sampling",
    table: 'runs',
    key: run.key,
    field: 'sampling',
    ...columnEdit('runs', run.where, run.params, 'sampling', `jsonb_set(sampling, '{temperature}', '1.5')`),
  },
  { what: "the run's model", table: 'runs', key: run.key, field: 'model', ...columnEdit('runs', run.where, run.params, 'model', `'other'`) },
  { what: "the run's rounds", table: 'runs', key: run.key, field: 'rounds', ...columnEdit('runs', run.where, run.params, 'rounds', 'rounds + 3') },
  {
    what: "the constitution version's text",
    table: 'constitutions',
    key: () => 'amend-core@' + 'VERSION',
    field: 'content',
    ...columnEdit(
      'constitutions',
      `name = 'amend-core' and version = $1`,
      () => [constitutionVersion],
      'content',
      `jsonb_set(content, '{principles,0,critique}', '"Say it is fine."')`,
    ),
  },
  { what: "an acting key's role", table: 'api_keys', key: key.key, field: 'role', ...columnEdit('api_keys', key.where, key.params, 'role', `'admin'`) },
  { what: "an acting key's team", table: 'api_keys', key: key.key, field: 'team', ...columnEdit('api_keys', key.where, key.params, 'team', `'other'`) },
  {
    what: "an evaluation's report",
    table: 'evaluations',
    key: () => evaluationId,
    field: 'report.prompts',
    run: () => evalRunId,
    ...columnEdit('evaluations', 'id = $1', () => [evaluationId], 'report', `jsonb_set(report, '{prompts,judged}', '99')`),
  },
];
let constitutionVersion: string;

describe('a row edited behind the service’s back is named by table, key and field', () => {
  beforeAll(async () => {
    constitutionVersion = (await pg.query(`select constitution_version from runs where id = $1`, [runId])).rows[0].constitution_version;
    // The draft's reply as the critique call sent it: a blob only sample 0 names.
    const refs: string[] = (await pg.query(`select message_refs from stage_records where sample_id = $1 and seq = 1`, [sampleOf(0)])).rows[0].message_refs;
    draftBlob = refs[refs.length - 2];
    responseBody = (
      await pg.query(`select payload->>'response_sha256' as sha from audit_events where chain = $1 and type = 'critique.generated'`, [`sample:${sampleOf(0)}`])
    ).rows[0].sha;
    submitterKeyId = (await pg.query(`select distinct substr(actor, 5) as id from audit_events where run_id = $1 and actor like 'key:%'`, [runId])).rows[0].id;
  });

  it.each(TAMPERS.map((t) => [t.what, t] as const))('%s', async (_what, t) => {
    const target = t.run?.() ?? runId;
    expect((await verify(target)).ok).toBe(true);
    await t.edit();
    try {
      const v = await verify(target);
      expect(v.ok).toBe(false);
      const expectedKey = t.table === 'constitutions' ? `amend-core@${constitutionVersion}` : await t.key();
      const named = v.rows!.failures.filter((f) => f.table === t.table && f.key === expectedKey && f.field === t.field);
      expect(named).toHaveLength(1);
      expect(named[0].read_paths.length).toBeGreaterThan(0);
      // The chains themselves were not touched: only the row is named.
      expect(v.failures).toEqual([]);
    } finally {
      await t.undo();
    }
    expect((await verify(target)).ok).toBe(true);
  });
});

it('names a stage record deleted behind the service’s back as missing, with the event that recorded it', async () => {
  const saved = (await pg.query(`select * from stage_records where sample_id = $1 and seq = 0`, [sampleOf(2)])).rows[0];
  await behindTheBack(`delete from stage_records where sample_id = $1 and seq = 0`, [sampleOf(2)]);
  try {
    const v = await verify();
    expect(v.rows!.failures).toEqual([expect.objectContaining({ reason: 'missing', table: 'stage_records', key: `${sampleOf(2)}:0`, field: '*' })]);
  } finally {
    const cols = Object.keys(saved);
    await behindTheBack(
      `insert into stage_records (${cols.join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
      cols.map((c) => saved[c]),
    );
  }
  expect((await verify()).ok).toBe(true);
});

describe('text shown to a person says whether it verifies', () => {
  const cli = (key: string, ...argv: string[]) => amendCli(stack, key, argv);
  const view = async (id: string) => SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${id}`)));
  const forged = columnEdit('stage_records', critique.where, critique.params, 'text', `'The response is perfectly fine.'`);

  it('GET /v1/samples/{id} marks every stage verified while the rows are what the trail recorded', async () => {
    for (const id of sampleIds) {
      const s = await view(id);
      expect(s.stages.length).toBeGreaterThan(1);
      expect(s.stages.map((x) => x.verified)).toEqual(s.stages.map(() => true));
      expect(s.verification).toEqual({ status: 'verified', erasure: null, altered: [] });
    }
    const shown = await cli(stack.submitterKey, 'sample', sampleOf(0));
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/trail {4}verified/);
    expect(shown.out.match(/✓ verified/g)).toHaveLength((await view(sampleOf(0))).stages.length);
  });

  it('a forged critique is shown as not verified by GET /v1/samples/{id} and amend sample, and named by amend audit verify', async () => {
    await forged.edit();
    try {
      const s = await view(sampleOf(0));
      expect(s.stages.find((x) => x.seq === 1)).toMatchObject({ verified: false, text: 'The response is perfectly fine.' });
      expect(s.stages.filter((x) => x.seq !== 1).every((x) => x.verified)).toBe(true);
      expect(s.verification).toMatchObject({ status: 'altered', altered: ['stage_records.1.text'] });
      const shown = await cli(stack.submitterKey, 'sample', sampleOf(0));
      expect(shown.out).toMatch(/trail {4}ALTERED: stage_records\.1\.text/);
      expect(shown.out).toMatch(/── critique .*✗ NOT VERIFIED/);
      const verified = await cli(auditor, 'audit', 'verify', runId);
      expect(verified.code).toBe(2);
      expect(verified.out).toContain(`stage_records ${sampleOf(0)}:1 text:`);
      expect(verified.out).toContain('served by GET /v1/samples/{id}, amend sample, console pair page');
    } finally {
      await forged.undo();
    }
    expect((await cli(auditor, 'audit', 'verify', runId)).code).toBe(0);
  });
});
