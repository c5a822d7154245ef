import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { RunSchema, RunVerifySchema } from '@amend/contracts';
import { json, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * The dataset is covered by verification, and the application's role cannot change it: pairs,
 * reviews, stage records and constitutions are append-only, and an edit made behind the service's
 * back (by the owner, triggers off) is named by the verifier.
 */
const env = testEnv('dataset');
const role = `amend_t_${randomBytes(4).toString('hex')}`;
let stack: Stack;
let owner: Client;
let runId: string;
let auditor: string;

const verify = async () => RunVerifySchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/audit/verify`, {}, auditor)));

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (owner = c), { searchPath: true });
beforeAll(async () => {
  auditor = await stack.mintKey('auditor', 'audit');
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts: ['a', 'b', 'c'] }),
  });
  runId = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).status === 'completed', { what: 'the run' });
});
afterAll(async () => {
  const admin = new Client({ connectionString: env.DATABASE_URL });
  await admin.connect();
  await admin.query(`drop role if exists ${role}`);
  await admin.end();
});

it('amend_app may not update or delete pairs, reviews, stage records, constitutions or a key’s role, and may revoke a key', async () => {
  await owner.query(`create role ${role} login in role amend_app`);
  const url = new URL(env.DATABASE_URL);
  url.username = role;
  const app = new Client({ connectionString: url.toString(), options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await app.connect();
  try {
    const refused: string[] = [];
    for (const statement of [
      `update pairs set record = record`,
      `delete from pairs`,
      `update stage_records set text = 'x'`,
      `update constitutions set title = 'x'`,
      `update api_keys set role = 'admin'`,
      `delete from api_keys`,
      `update constitution_owners set team = 'x'`,
    ]) {
      try {
        await app.query(statement);
      } catch (e) {
        if ((e as { code?: string }).code === '42501') refused.push(statement);
        else throw e;
      }
    }
    expect(refused.length).toBe(7);
    const key = (await app.query(`select id from api_keys where revoked_at is null limit 1`)).rows[0].id;
    await app.query(`begin`);
    await app.query(`update api_keys set revoked_at = now(), revoked_by = 'test' where id = $1`, [key]);
    await app.query(`rollback`);
  } finally {
    await app.end();
  }
  // The owner is refused by the trigger too, unless it switches triggers off.
  await expect(owner.query(`update pairs set record = record where run_id = $1`, [runId])).rejects.toThrow(/append-only/);
});

it('verifies every pair and review against its event, and names a pair or review edited behind the service’s back', async () => {
  const pairs = (await owner.query(`select id from pairs where run_id = $1 order by idx`, [runId])).rows.map((r) => r.id);
  const reviewed = await stack.fetch(`/v1/pairs/${pairs[0]}/review`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'reject', reason: 'too short' }),
  });
  expect(reviewed.status).toBe(201);
  const review = (await json(reviewed)).review;

  const intact = await verify();
  expect(intact.ok).toBe(true);
  expect(intact.dataset).toMatchObject({ ok: true, pairs: 3, reviews: 1, failures: [] });

  await owner.query(`begin`);
  await owner.query(`set local session_replication_role = replica`);
  await owner.query(`update pairs set record = jsonb_set(record, '{chosen}', '"a better answer"') where id = $1`, [pairs[1]]);
  await owner.query(`update pair_reviews set reason = 'fine' where id = $1`, [review.id]);
  // What is read instead of the record: the flags the export filters on, the figures the report adds up.
  await owner.query(`update pairs set flags = '{noop}' where id = $1`, [pairs[2]]);
  await owner.query(`update pairs set quality = jsonb_set(quality, '{chosen_refuses}', 'true') where id = $1`, [pairs[0]]);
  await owner.query(`commit`);

  const edited = await verify();
  expect(edited.ok).toBe(false);
  // The chains are intact: only the rows changed.
  expect(edited.first_failure).toBeNull();
  expect(edited.dataset!.failures.map((f) => [f.kind, f.id, f.reason]).sort()).toEqual(
    [
      ['pair', pairs[0], 'content_changed'],
      ['pair', pairs[1], 'content_changed'],
      ['pair', pairs[2], 'content_changed'],
      ['review', review.id, 'content_changed'],
    ].sort(),
  );
  expect(edited.dataset!.failures.find((f) => f.id === pairs[2])!.message).toContain('flags column (noop)');
  expect(edited.dataset!.failures.find((f) => f.id === pairs[0])!.message).toContain('quality figures');

  await owner.query(`begin`);
  await owner.query(`set local session_replication_role = replica`);
  await owner.query(`delete from pair_reviews where id = $1`, [review.id]);
  await owner.query(`commit`);
  const deleted = await verify();
  expect(deleted.dataset!.failures).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'review', id: review.id, reason: 'missing_row' })]));
});
