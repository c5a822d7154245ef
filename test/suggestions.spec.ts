import { ErrorBodySchema, SuggestionEstimateSchema, SuggestionSetSchema, type SuggestionSet } from '@amend/contracts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbForFile, json, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '@amend/store';
import { SEEDED } from './support/seeded-preferences';

/*
 * Principle suggestions end to end on the simulator: the API, the suggestions queue, the worker
 * and Postgres. The seeded set below is built so that one principle is right: the simulator's
 * model (libs/llm/src/simulator/suggest.ts) knows four traits readable from the text, and in these
 * pairs the preferred answer names a source in four of the five pairs where exactly one does.
 */

const env = testEnv('suggestions', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
let db: Kysely<Database>;
const keys = {} as Record<'author' | 'otherAuthor' | 'auditor' | 'submitter', string>;

const EXPECTED = [
  { trait: /source/i, agree: 4, disagree: 1, not_applicable: 1, explains: ['p1', 'p2', 'p3', 'p4'] },
  { trait: /detail/i, agree: 3, disagree: 1, not_applicable: 2, explains: ['p3', 'p4', 'p6'] },
  { trait: /encourag/i, agree: 1, disagree: 0, not_applicable: 5, explains: ['p6'] },
  { trait: /accurate/i, agree: 0, disagree: 0, not_applicable: 6, explains: [] },
  { trait: /concise/i, agree: 1, disagree: 3, not_applicable: 2, explains: ['p2'] },
];

const post = (path: string, body: unknown, key = keys.author, type = 'application/json') =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) }, key);

async function finished(id: string, key = keys.author): Promise<SuggestionSet> {
  return waitFor(
    async () => {
      const s = SuggestionSetSchema.parse(await json(await stack.fetch(`/v1/suggestions/${id}`, {}, key)));
      return s.status === 'queued' || s.status === 'running' ? undefined : s;
    },
    { timeoutMs: 60_000, what: `suggestion set ${id}` },
  );
}

stackForFile(env, {}, (s) => (stack = s));
dbForFile(env, (d) => (db = d));
beforeAll(async () => {
  keys.author = await stack.mintKey('author', 'alpha');
  keys.otherAuthor = await stack.mintKey('author', 'beta');
  keys.auditor = await stack.mintKey('auditor', 'audit');
  keys.submitter = await stack.mintKey('submitter', 'alpha');
});

describe('suggestions on a seeded set where the right principle is known', () => {
  let set: SuggestionSet;

  beforeAll(async () => {
    const res = await post('/v1/constitutions/amend-core/suggestions', { pairs: SEEDED, seed: 7 });
    expect(res.status).toBe(202);
    const created = SuggestionSetSchema.parse(await json(res));
    expect(res.headers.get('location')).toBe(`/v1/suggestions/${created.id}`);
    set = await finished(created.id);
  });

  it('completes, merging 10 proposals into 5 candidates and testing each on all 6 pairs', () => {
    expect(set.status).toBe('completed');
    expect(set.error).toBeNull();
    expect(set.simulated).toBe(true);
    expect(set.proposals).toBe(10);
    expect(set.candidates).toBe(5);
    // 6 propose calls, then 5 candidates x 6 pairs.
    expect(set.progress).toEqual({ stage: 'done', calls: 6 + 30, calls_planned: 36 });
    expect(set.suggestions).toHaveLength(5);
  });

  it('ranks the source-citing principle first, with the agreement worked out by hand', () => {
    const first = set.suggestions[0];
    expect(first.principle.comparison).toMatch(/cites? (a )?sources?/i);
    expect(first.agreement).toBeCloseTo(4 / 5, 12);
    expect(first.relevance).toBeCloseTo(5 / 6, 12);
    expect(first.score).toBeCloseTo(3 / 6, 12);
    expect(first.proposals).toBe(4);
    expect(first.principle.critique.length).toBeGreaterThan(0);
    expect(first.principle.revision.length).toBeGreaterThan(0);
    expect(first.examples.map((e) => e.pair)).toEqual(['p1', 'p2', 'p3']);
    expect(first.examples[0]).toEqual({ pair: 'p1', prompt: SEEDED[0].prompt, chosen: SEEDED[0].chosen, rejected: SEEDED[0].rejected });
    // amend-core has no principle about sources: the closest is named, and it is not close.
    expect(first.closest).not.toBeNull();
    expect(first.closest!.similarity).toBeLessThan(0.85);
  });

  it('gives every candidate the votes of the hand-worked table, in its order', () => {
    expect(set.suggestions.map((s) => s.rank)).toEqual([1, 2, 3, 4, 5]);
    set.suggestions.forEach((s, i) => {
      const e = EXPECTED[i];
      expect(s.principle.comparison).toMatch(e.trait);
      expect(s.votes).toEqual({ agree: e.agree, disagree: e.disagree, not_applicable: e.not_applicable, unreadable: 0 });
      expect(s.explains).toEqual(e.explains);
      const applicable = e.agree + e.disagree;
      expect(s.agreement).toBeCloseTo(applicable ? e.agree / applicable : 0, 12);
      expect(s.relevance).toBeCloseTo(applicable / 6, 12);
    });
    // Ids are slugs a constitution takes, each once.
    const ids = set.suggestions.map((s) => s.principle.id);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
  });

  it('audits every call in the set chain, and verify holds the rows to it', async () => {
    const events = await db
      .selectFrom('audit_events')
      .select(['type', 'payload', 'run_id', 'sample_id'])
      .where('chain', '=', `suggestion:${set.id}`)
      .orderBy('seq')
      .execute();
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('suggestion.created');
    expect(types.filter((t) => t === 'principles.proposed')).toHaveLength(6);
    expect(types.filter((t) => t === 'principle.tested')).toHaveLength(30);
    expect(types[types.length - 1]).toBe('suggestion.ranked');
    expect(events).toHaveLength(1 + 36 + 1);
    // One event per call seq: none twice, none missing.
    const seqs = events.filter((e) => e.type === 'principles.proposed' || e.type === 'principle.tested').map((e) => (e.payload as { seq: number }).seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 36 }, (_, i) => i));
    for (const e of events) expect([e.run_id, e.sample_id]).toEqual([null, null]);
    const call = events.find((e) => e.type === 'principle.tested')!.payload as Record<string, any>;
    expect(call.request.messages_sha256).toHaveLength(1);
    expect(call.response_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(call.simulated).toBe(true);

    const verify = await json(await stack.fetch(`/v1/suggestions/${set.id}/audit/verify`, {}, keys.auditor));
    expect(verify.ok).toBe(true);
    expect(verify.chain.events).toBe(38);
    expect(verify.rows.checked).toEqual({ suggestion_sets: 1, suggestion_calls: 36 });
  });

  it('names a call row changed behind the service and a result changed after its ranking', async () => {
    await sql`alter table suggestion_calls disable trigger suggestion_calls_no_update_delete`.execute(db);
    try {
      await sql`update suggestion_calls set text = 'tampered' where suggestion_id = ${set.id} and seq = 10`.execute(db);
    } finally {
      await sql`alter table suggestion_calls enable trigger suggestion_calls_no_update_delete`.execute(db);
    }
    await sql`update suggestion_sets set result = jsonb_set(result, '{suggestions,0,agreement}', '1') where id = ${set.id}`.execute(db);
    const verify = await json(await stack.fetch(`/v1/suggestions/${set.id}/audit/verify`, {}, keys.auditor));
    expect(verify.ok).toBe(false);
    expect(verify.chain.ok).toBe(true);
    expect(verify.rows.failures.map((f: { table: string; key: string; field: string }) => [f.table, f.key, f.field])).toEqual([
      ['suggestion_calls', `${set.id}/10`, 'text'],
      ['suggestion_sets', set.id, 'result'],
    ]);
  });

  it('is read by its team and auditors only', async () => {
    expect((await stack.fetch(`/v1/suggestions/${set.id}`, {}, keys.otherAuthor)).status).toBe(404);
    expect((await stack.fetch(`/v1/suggestions/${set.id}`, {}, keys.auditor)).status).toBe(200);
    expect((await stack.fetch(`/v1/suggestions/${set.id}`, {}, keys.submitter)).status).toBe(403);
    const list = await json(await stack.fetch('/v1/suggestions?constitution=amend-core', {}, keys.author));
    expect(list.suggestions.map((s: { id: string }) => s.id)).toContain(set.id);
  });
});

describe('adding a suggestion to a draft in one step', () => {
  it("appends the suggestion's principle to a new draft made from the version compared with, then to the same draft", async () => {
    // A constitution of the author's team (bundled ones belong to the operator's team, which alone drafts them).
    const yaml =
      'name: tutor\nversion: 1.0.0\ntitle: Tutor\nprinciples:\n' +
      '  - id: kind\n    critique: Identify where the response is unkind.\n    revision: Rewrite it kindly.\n    comparison: Which response is kinder?\n' +
      '  - id: clear\n    critique: Identify what is unclear.\n    revision: Rewrite it clearly.\n';
    expect((await post('/v1/constitutions', yaml, keys.author, 'application/yaml')).status).toBe(201);
    const res = await post('/v1/constitutions/tutor/suggestions', { pairs: SEEDED, seed: 7 });
    const set = await finished(SuggestionSetSchema.parse(await json(res)).id);
    const first = set.suggestions[0];
    expect(first.closest?.id).toBe('kind');
    const added = await post(`/v1/suggestions/${set.id}/add-to-draft`, { rank: 1, draft: 'with-sources' });
    expect(added.status).toBe(201);
    expect(added.headers.get('location')).toBe('/v1/constitutions/tutor/drafts/with-sources');
    const draft = await json(added);
    // tutor@1.0.0 has 2 principles; the draft has them and the suggestion.
    expect(draft.principles).toBe(3);
    const read = await json(await stack.fetch('/v1/constitutions/tutor/drafts/with-sources', {}, keys.author));
    const principles = read.content.principles as { id: string; critique: string; revision: string; comparison: string; tags: string[] }[];
    expect(principles.slice(0, 2).map((p) => p.id)).toEqual(['kind', 'clear']);
    expect(principles[2]).toMatchObject({
      id: first.principle.id,
      critique: first.principle.critique,
      revision: first.principle.revision,
      comparison: first.principle.comparison,
      tags: ['suggested'],
    });

    // Again: the same id is refused with what to do; another rank goes into the same draft (200).
    const again = await post(`/v1/suggestions/${set.id}/add-to-draft`, { rank: 1, draft: 'with-sources' });
    expect(again.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(again)).error.message).toMatch(/already has a principle .*give another principle_id/);
    const second = await post(`/v1/suggestions/${set.id}/add-to-draft`, { rank: 2, draft: 'with-sources', principle_id: 'more-detail' });
    expect(second.status).toBe(200);
    expect((await json(second)).principles).toBe(4);

    const noRank = await post(`/v1/suggestions/${set.id}/add-to-draft`, { rank: 99, draft: 'with-sources' });
    expect([noRank.status, ErrorBodySchema.parse(await json(noRank)).error.code]).toEqual([409, 'suggestion_not_ready']);
    // Another team's set is a 404, as for reading it.
    expect((await post(`/v1/suggestions/${set.id}/add-to-draft`, { rank: 1, draft: 'x' }, keys.otherAuthor)).status).toBe(404);
  });
});

describe('a preference file uploaded as JSON Lines', () => {
  it('learns from its lines, with the options on a first line', async () => {
    const body = [
      JSON.stringify({ seed: 3, max_candidates: 2 }),
      ...SEEDED.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })),
    ].join('\n');
    const res = await post('/v1/constitutions/amend-core/suggestions', body, keys.author, 'application/x-ndjson');
    expect(res.status).toBe(202);
    const set = await finished(SuggestionSetSchema.parse(await json(res)).id);
    expect(set.status).toBe('completed');
    expect(set.source.kind).toBe('file');
    // The two most proposed candidates only: sources (4 proposals) and detailed (3).
    expect(set.candidates).toBe(2);
    expect(set.suggestions[0].explains).toEqual(['line-2', 'line-3', 'line-4', 'line-5']);
    expect(set.suggestions[0].agreement).toBeCloseTo(0.8, 12);
  });

  it('estimates before it starts: one propose call a pair, at most max_candidates tests a pair', async () => {
    const res = await post('/v1/constitutions/amend-core/suggestions/estimate', { pairs: SEEDED, max_candidates: 4 });
    expect(res.status).toBe(200);
    const e = SuggestionEstimateSchema.parse(await json(res));
    expect(e.calls).toEqual({ propose: 6, test_max: 24, max: 30 });
    expect(e.pairs).toBe(6);
    expect(e.tokens_max).toBeGreaterThan(6 * 600);
    expect(e.cost_usd_max).toBeNull();
  });
});

describe("a run's reviewed pairs", () => {
  it('learns from the pairs reviewers kept, as they left them, or from the swapped ones only', async () => {
    const created = await json(
      await stack.fetch(
        '/v1/runs',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ constitution: 'amend-core', prompts: ['Name a fruit.', 'Name a tree.', 'Name a river.'] }),
        },
        keys.submitter,
      ),
    );
    await waitFor(async () => ((await json(await stack.fetch(`/v1/runs/${created.id}`, {}, keys.submitter))).status === 'completed' ? true : undefined), {
      what: 'the run',
    });
    const pairs = (await db.selectFrom('pairs').select(['id', 'idx', 'record']).where('run_id', '=', created.id).orderBy('idx').execute()) as {
      id: string;
      record: { chosen: string; rejected: string; prompt: string };
    }[];
    const review = async (pair: string, decision: string) =>
      expect(
        (
          await stack.fetch(
            `/v1/pairs/${pair}/review`,
            { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decision, reason: 'the test decides' }) },
            keys.submitter,
          )
        ).status,
      ).toBe(201);
    await review(pairs[0].id, 'swap');
    await review(pairs[1].id, 'accept');
    await review(pairs[2].id, 'reject');

    const reviewed = SuggestionSetSchema.parse(await json(await post('/v1/constitutions/amend-core/suggestions', { run: created.id })));
    expect(reviewed.pairs).toBe(2);
    expect(reviewed.source).toMatchObject({ kind: 'run', run_id: created.id, pairs_from: 'reviewed' });
    const stored = await db.selectFrom('suggestion_sets').select('pairs').where('id', '=', reviewed.id).executeTakeFirstOrThrow();
    // The swapped pair with its texts swapped, the accepted one as it was; the rejected one left out.
    expect(stored.pairs).toEqual([
      { id: pairs[0].id, prompt: pairs[0].record.prompt, chosen: pairs[0].record.rejected, rejected: pairs[0].record.chosen },
      { id: pairs[1].id, prompt: pairs[1].record.prompt, chosen: pairs[1].record.chosen, rejected: pairs[1].record.rejected },
    ]);
    const overturned = SuggestionSetSchema.parse(
      await json(await post('/v1/constitutions/amend-core/suggestions', { run: created.id, pairs_from: 'overturned' })),
    );
    expect(overturned.pairs).toBe(1);
    expect((await finished(overturned.id)).status).toBe('completed');
    // Another team's author cannot learn from this team's run: the same 404 as an unknown run.
    const foreign = await post('/v1/constitutions/amend-core/suggestions', { run: created.id }, keys.otherAuthor);
    expect(foreign.status).toBe(404);
  });
});

describe('the CLI', () => {
  it('amend constitution suggest shows the cost, progress and the ranking; amend audit verify --suggestion checks it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amend-suggest-'));
    writeFileSync(join(dir, 'prefs.jsonl'), SEEDED.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const r = await amendCli(stack, keys.author, ['constitution', 'suggest', 'amend-core', '--file', 'prefs.jsonl', '--seed', '7'], {
      cwd: dir,
      pollIntervalMs: 50,
      progressIntervalMs: 0,
    });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/cost before start: 6 pairs, 6 propose calls, at most 72 test calls/);
    expect(r.err).toMatch(/suggestions .*calls/);
    const lines = r.out.split('\n');
    const first = lines.find((l) => /^\s+1\s/.test(l))!;
    expect(first).toMatch(/^\s+1\s+0\.80\s+0\.83\s+0\.50\s+\S+: Which response cites/);
    expect(r.out).toMatch(/explains p1, p2, p3, p4/);
    const id = /suggestions ([0-9a-f-]{36})/.exec(r.out)![1];
    const v = await amendCli(stack, keys.auditor, ['audit', 'verify', '--suggestion', id]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/intact; 38 events/);
    const bad = await amendCli(stack, keys.author, ['constitution', 'suggest', 'amend-core']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/give either --run/);
  });
});

describe('bad input is a clear 4xx', () => {
  const code = async (res: Response) => ErrorBodySchema.parse(await json(res)).error;

  it('an unknown run is a 404 run_not_found; another team run is the same 404', async () => {
    const res = await post('/v1/constitutions/amend-core/suggestions', { run: '00000000-0000-4000-8000-000000000000' });
    expect(res.status).toBe(404);
    expect((await code(res)).code).toBe('run_not_found');
  });

  it('a run nobody reviewed is a 422 no_labelled_pairs that says how many pairs wait for review', async () => {
    const run = await json(
      await stack.fetch(
        '/v1/runs',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ constitution: 'amend-core', prompts: ['Say hello.'] }) },
        keys.submitter,
      ),
    );
    await waitFor(async () => ((await json(await stack.fetch(`/v1/runs/${run.id}`, {}, keys.submitter))).status === 'completed' ? true : undefined), {
      what: 'the run',
    });
    const res = await post('/v1/constitutions/amend-core/suggestions', { run: run.id });
    expect(res.status).toBe(422);
    const error = await code(res);
    expect(error.code).toBe('no_labelled_pairs');
    expect(error.message).toMatch(/1 of 1 unreviewed/);
    expect(error.details).toMatchObject({ run_id: run.id, pairs: 1, unreviewed: 1 });
  });

  it('an empty file is a 422 no_labelled_pairs', async () => {
    const res = await post('/v1/constitutions/amend-core/suggestions', '\n\n', keys.author, 'application/x-ndjson');
    expect(res.status).toBe(422);
    expect((await code(res)).code).toBe('no_labelled_pairs');
    const empty = await post('/v1/constitutions/amend-core/suggestions', { pairs: [] });
    expect(empty.status).toBe(422);
    expect((await code(empty)).message).toMatch(/pairs is empty/);
  });

  it('malformed lines are a 422 naming each bad line', async () => {
    const lines = [
      JSON.stringify(SEEDED[0]),
      '{"prompt": "x", "chosen": "y"',
      JSON.stringify({ prompt: 'x', chosen: ' ', rejected: 'z' }),
      JSON.stringify(SEEDED[1]),
    ].join('\n');
    const res = await post('/v1/constitutions/amend-core/suggestions', lines, keys.author, 'application/x-ndjson');
    expect(res.status).toBe(422);
    const error = await code(res);
    expect(error.code).toBe('invalid_request');
    expect(error.details).toMatchObject({
      total: 2,
      issues: [
        { line: 2, message: expect.stringMatching(/not JSON/) },
        { line: 3, message: 'chosen: chosen is empty' },
      ],
    });
  });

  it('no source, an unknown constitution, an unknown model and a budget below the prompts are refused', async () => {
    const none = await post('/v1/constitutions/amend-core/suggestions', {});
    expect([none.status, (await code(none)).code]).toEqual([422, 'invalid_request']);
    const nope = await post('/v1/constitutions/no-such-thing/suggestions', { pairs: SEEDED });
    expect([nope.status, (await code(nope)).code]).toEqual([404, 'constitution_not_found']);
    const model = await post('/v1/constitutions/amend-core/suggestions', { pairs: SEEDED, model: 'nope' });
    expect([model.status, (await code(model)).code]).toEqual([422, 'unknown_model']);
    const budget = await post('/v1/constitutions/amend-core/suggestions', { pairs: SEEDED, budget: { tokens: 10 } });
    expect([budget.status, (await code(budget)).code]).toEqual([422, 'suggestion_over_budget']);
    expect((await post('/v1/constitutions/amend-core/suggestions', { pairs: SEEDED }, keys.submitter)).status).toBe(403);
  });
});

describe('a budget', () => {
  it('stops the job as budget_exhausted once spent, with its event', async () => {
    // Enough for the six proposals' prompts (the floor), not for every test call.
    const res = await post('/v1/constitutions/amend-core/suggestions', { pairs: SEEDED, budget: { tokens: 1500 } });
    expect(res.status).toBe(202);
    const set = await finished(SuggestionSetSchema.parse(await json(res)).id);
    expect(set.status).toBe('budget_exhausted');
    expect(set.usage.prompt_tokens + set.usage.completion_tokens).toBeGreaterThanOrEqual(1500);
    expect(set.progress.calls).toBeLessThan(36);
    const last = await db
      .selectFrom('audit_events')
      .select('type')
      .where('chain', '=', `suggestion:${set.id}`)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    expect(last.type).toBe('suggestion.budget_exhausted');
  });
});
