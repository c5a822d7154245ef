import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import YAML from 'yaml';
import { RunSchema } from '@amend/contracts';
import { amendCli } from './support/capture';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * What an export leaves out is counted and said before the stream (`Amend-Excluded`), and the
 * counts match what the stream leaves out: every pair is either a line or counted once. The run's
 * eight pairs get the flags of the table below behind the service's back; one is erased; then
 * reviews. Every expected header and line list is worked out by hand from that table.
 */
const env = testEnv('export_excluded', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
let pg: Client;
stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));
const dir = mkdtempSync(join(tmpdir(), 'amend-export-excluded-'));

/** By sample index: the flags each pair is given. Pair 6 is erased as well. */
const FLAGS: string[][] = [[], ['truncated'], ['noop'], ['noop', 'truncated'], ['rejected_by_judge'], ['low_margin'], ['truncated'], []];
const ERASED = 6;
let runId: string;

async function exported(path: string): Promise<{ header: string | null; indexes: number[] }> {
  const res = await stack.fetch(path);
  expect(res.status).toBe(200);
  const header = res.headers.get('amend-excluded');
  const indexes = ndjson(await res.text()).map((l) => l.sample_index as number);
  return { header, indexes };
}

/** The counts of a header added up: with the lines, every one of the eight pairs. */
const total = (header: string | null) => (header === 'none' ? 0 : header!.split(',').reduce((n, part) => n + Number(part.split('=')[1]), 0));

beforeAll(async () => {
  const prompts = FLAGS.map((_, i) => `Prompt number ${i}: how do I water a fern?`);
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts }),
  });
  expect(res.status).toBe(202);
  runId = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).status === 'completed', { what: `run ${runId}` });
  // The flags, behind the service's back (as the owner, triggers off): column and record alike.
  await pg.query('begin');
  await pg.query('set local session_replication_role = replica');
  await pg.query(`set local search_path to "${env.DATABASE_SCHEMA}"`);
  for (const [i, flags] of FLAGS.entries()) {
    const r = await pg.query(
      `update pairs set flags = $3::text[], record = jsonb_set(record, '{metadata,flags}', to_jsonb($3::text[])) where run_id = $1 and (record#>>'{metadata,sample_index}')::int = $2`,
      [runId, i, flags],
    );
    expect(r.rowCount).toBe(1);
  }
  await pg.query('commit');
  const sample = await pg.query(`select id from "${env.DATABASE_SCHEMA}".samples where run_id = $1 and idx = $2`, [runId, ERASED]);
  const erase = await stack.fetch(
    `/v1/samples/${sample.rows[0].id}/erase`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'asked by the prompt author' }) },
    stack.adminKey,
  );
  expect(erase.status).toBeLessThan(300);
}, 120_000);

describe('Amend-Excluded before the stream', () => {
  // [path, header, sample indexes of the lines], by hand from FLAGS: pair 6 is erased (its
  // truncated flag does not count twice), truncated is counted before noop (pair 3 has both).
  it.each([
    ['pairs', 'erased=1,truncated=2,noop=1', [0, 4, 5, 7]],
    ['pairs?format=h4', 'erased=1,truncated=2,noop=1', [0, 4, 5, 7]],
    ['pairs?exclude=', 'erased=1', [0, 1, 2, 3, 4, 5, 7]],
    ['pairs?exclude=noop', 'erased=1,noop=2', [0, 1, 4, 5, 7]],
    ['pairs?exclude=low_margin,rejected_by_judge', 'erased=1,rejected_by_judge=1,low_margin=1', [0, 1, 2, 3, 7]],
    ['pairs?reviewed=accepted', 'erased=1,truncated=2,noop=1,not_accepted=4', []],
    ['sft', 'erased=1,truncated=2', [0, 2, 4, 5, 7]],
    ['sft?exclude=noop,truncated', 'erased=1,truncated=2,noop=1', [0, 4, 5, 7]],
  ])('an unreviewed run (exported by COPY): %s says %s', async (path, header, indexes) => {
    const got = await exported(`/v1/runs/${runId}/${path}`);
    expect(got).toEqual({ header, indexes });
    expect(total(got.header) + got.indexes.length).toBe(FLAGS.length);
  });

  it('the CLI says what it wrote and left out; an empty export says so and exits 3', async () => {
    const file = join(dir, 'pairs.jsonl');
    const some = await amendCli(stack, stack.submitterKey, ['pairs', runId, '--out', file]);
    expect(some).toEqual({
      code: 0,
      out: '',
      err: `4 pairs written to ${file}; 4 left out: truncated 2, noop 1 (--exclude= keeps them); erased 1 (erased on request; nothing brings them back)\n`,
    });
    const none = await amendCli(stack, stack.submitterKey, ['pairs', runId, '--reviewed', 'accepted']);
    expect(none.code).toBe(3);
    expect(none.out).toBe('');
    expect(none.err).toBe(
      'the export is empty: 0 pairs written; 8 left out: truncated 2, noop 1 (--exclude= keeps them); erased 1 (erased on request; nothing brings them back); ' +
        'not_accepted 4 (not accepted by a reviewer; without --reviewed they are kept)\n',
    );
    const sft = await amendCli(stack, stack.submitterKey, ['sft', runId, '--exclude=']);
    expect(sft.code).toBe(0);
    expect(sft.err).toBe('7 SFT records written; 1 left out: erased 1 (erased on request; nothing brings them back)\n');
  });

  it('the HF folder has no empty split: 4 pairs at test size 0.1 make no test file, and the card says why; an empty export writes no folder', async () => {
    const hf = join(dir, 'hf');
    const r = await amendCli(stack, stack.submitterKey, ['export', runId, '--hf', hf]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `4 train pairs written to ${hf} (README.md dataset card; load with datasets.load_dataset("${hf}")); no test split: test_size 0.1 of 4 pairs rounds to 0; ` +
        '4 left out: truncated 2, noop 1 (--exclude= keeps them); erased 1 (erased on request; nothing brings them back)\n',
    );
    expect(existsSync(join(hf, 'test.jsonl'))).toBe(false);
    expect(ndjson(readFileSync(join(hf, 'train.jsonl'), 'utf8')).map((l) => l.sample_index)).toEqual([0, 4, 5, 7]);
    const card = readFileSync(join(hf, 'README.md'), 'utf8');
    expect(card).toContain('    data_files:\n      - split: train\n        path: train.jsonl\ntask_categories:');
    expect(YAML.parse(card.split('---\n')[1]).amend).toMatchObject({ splits_left_out: ['test'], excluded: { erased: 1, truncated: 2, noop: 1 } });
    expect(card).toContain('No `test` split: it would be empty (test_size 0.1 of 4 pairs rounds to 0)');

    const empty = join(dir, 'hf-empty');
    const e = await amendCli(stack, stack.submitterKey, ['export', runId, '--hf', empty, '--reviewed', 'accepted']);
    expect(e.code).toBe(3);
    expect(e.err).toBe(
      `the export is empty: nothing written to ${empty}; 8 left out: truncated 2, noop 1 (--exclude= keeps them); erased 1 (erased on request; nothing brings them back); ` +
        'not_accepted 4 (not accepted by a reviewer; without --reviewed they are kept)\n',
    );
    expect(existsSync(empty)).toBe(false);
  });

  it('a reviewed run (exported by the API): reviews are counted after the flags, each pair once', async () => {
    const pairs = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs?exclude=`)).text());
    const byIndex = new Map(pairs.map((p) => [p.sample_index as number, p.id as string]));
    const review = (i: number, decision: string) =>
      stack.fetch(`/v1/pairs/${byIndex.get(i)}/review`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision, reason: 'checked by hand' }),
      });
    for (const [i, decision] of [
      [0, 'accept'],
      [4, 'reject'],
      [1, 'accept'],
    ] as const)
      expect((await review(i, decision)).status).toBeLessThan(300);
    for (const [path, header, indexes] of [
      // A rejected pair stays in the preference formats, with its review.
      ['pairs', 'erased=1,truncated=2,noop=1', [0, 4, 5, 7]],
      // Pair 1 was accepted but is truncated: counted under truncated, before its review.
      ['pairs?reviewed=accepted', 'erased=1,truncated=2,noop=1,not_accepted=3', [0]],
      ['sft', 'erased=1,truncated=2,rejected_by_reviewer=1', [0, 2, 5, 7]],
      ['sft?reviewed=accepted', 'erased=1,truncated=2,rejected_by_reviewer=1,not_accepted=3', [0]],
      ['sft?reviewed=accepted&exclude=', 'erased=1,rejected_by_reviewer=1,not_accepted=4', [0, 1]],
    ] as const) {
      const got = await exported(`/v1/runs/${runId}/${path}`);
      expect([path, got]).toEqual([path, { header, indexes }]);
      expect(total(got.header) + got.indexes.length).toBe(FLAGS.length);
    }
  });
});
