import { Client } from 'pg';
import { ErrorBodySchema, isRunFinished, PairSearchResultSchema, RunSchema, type PairSearchHit } from '@amend/contracts';
import { amendCli } from './support/capture';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, waitForRun, type Stack } from './support/stack';

/**
 * `GET /v1/pairs` (docs/ml-teams.md#searching-pairs) against pairs the simulator made from
 * prompts picked for it: each expected answer is a set of prompt ids written out by hand below.
 */
const env = testEnv('pair_search');
let stack: Stack;
let pg: Client;
stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

const FILLERS = Array.from({ length: 20 }, (_, i) => ({ id: `filler-${i}`, prompt: `Filler note ${i}: which kitchen knife suits a beginner cook?` }));
const RUN_A = [
  { id: 'fig', prompt: 'How do I repot a fiddle-leaf fig without killing it?', metadata: { split: 'train', level: 3 } },
  { id: 'cactus', prompt: 'What watering schedule suits succulents in winter?', metadata: { split: 'test' } },
  // The simulator's markers: a no-op revision (flag noop) and a revision into a refusal (flag refusal_drift).
  { id: 'tides', prompt: '[[amend:noop]] Explain how tides work.', metadata: { split: 'train', level: '3' } },
  { id: 'lock', prompt: '[[amend:refuse]] Tell me how to pick a lock on my own shed.', metadata: { split: 'train' } },
  ...FILLERS,
];
const RUN_B = [
  { id: 'fig2', prompt: 'How often should a fiddle-leaf fig be watered?' },
  { id: 'quince', prompt: "Share my grandmother's quince marmalade recipe." },
];
const BETA = [{ id: 'beta-fig', prompt: 'How do I repot a fiddle-leaf fig quickly?' }];

let betaKey: string;
let auditorKey: string;
let runA: string;
let runB: string;
let runBeta: string;
/** Pair id by prompt id, over every run of the file. */
const pairOf: Record<string, string> = {};
const promptOf: Record<string, string> = {};
/** Export lines of the default team's runs, as the export gives them. */
let lines: {
  id: string;
  sample_id: string;
  prompt: { content: string }[];
  chosen: { content: string }[];
  rejected: { content: string }[];
  reason: string;
  metadata: { external_id: string; principle_ids: string[] };
}[] = [];

async function createRun(prompts: unknown[], key?: string): Promise<string> {
  const res = await stack.fetch(
    '/v1/runs',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ constitution: 'amend-core', prompts, seed: 7 }) },
    key,
  );
  expect(res.status).toBe(202);
  return RunSchema.parse(await json(res)).id;
}

async function exported(runId: string, key?: string) {
  const out = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs?exclude=`, {}, key)).text());
  for (const l of out) {
    pairOf[l.metadata.external_id] = l.id;
    promptOf[l.id] = l.metadata.external_id;
  }
  return out;
}

async function search(query: string, key?: string): Promise<PairSearchHit[]> {
  const res = await stack.fetch(`/v1/pairs?${query}`, {}, key);
  if (res.status !== 200) throw new Error(`GET /v1/pairs?${query}: ${res.status} ${await res.text()}`);
  return PairSearchResultSchema.parse(await json(res)).pairs;
}

/** The prompt ids a search finds (one page of up to 100), sorted. */
async function found(query: string, key?: string): Promise<string[]> {
  return (await search(`${query}&limit=100`, key)).map((h) => promptOf[h.id] ?? `unknown:${h.id}`).sort();
}

/** Every page of a search, following next_cursor. */
async function allPages(query: string, key?: string): Promise<{ hits: PairSearchHit[]; pages: number }> {
  const hits: PairSearchHit[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await stack.fetch(`/v1/pairs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {}, key);
    expect(res.status).toBe(200);
    const page = PairSearchResultSchema.parse(await json(res));
    hits.push(...page.pairs);
    cursor = page.next_cursor;
    pages++;
    if (pages > 100) throw new Error('the cursor never ends');
  } while (cursor);
  return { hits, pages };
}

beforeAll(async () => {
  betaKey = await stack.mintKey('submitter', 'beta');
  auditorKey = await stack.mintKey('auditor', 'audit');
  [runA, runB, runBeta] = [await createRun(RUN_A), await createRun(RUN_B), await createRun(BETA, betaKey)];
  for (const id of [runA, runB]) await waitForRun(stack, id);
  await waitFor(async () => isRunFinished(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runBeta}`, {}, betaKey))).status), {
    timeoutMs: 90_000,
    what: 'the beta run to finish',
  });
  lines = [...(await exported(runA)), ...(await exported(runB))];
  await exported(runBeta, betaKey);
  expect(lines).toHaveLength(RUN_A.length + RUN_B.length);
});

const sorted = (xs: string[]) => [...xs].sort();

describe('searching pairs', () => {
  it('finds pairs by the words of prompt, chosen, rejected and critiques, with English stemming and web search syntax', async () => {
    // "repotting" stems to "repot": only the fig of this team (beta's fig is another team's).
    expect(await found('q=repotting')).toEqual(['fig']);
    expect(await found('q=fig')).toEqual(['fig', 'fig2']);
    expect(await found('q=fig%20-repot')).toEqual(['fig2']);
    expect(await found('q=%22kitchen%20knife%22')).toEqual(sorted(FILLERS.map((f) => f.id)));
    expect(await found('q=succulent%20or%20tides')).toEqual(['cactus', 'tides']);
    // A word only critiques hold (no prompt, chosen or rejected of the team has it, nor a word it begins), read from the export.
    const words = (t: string): string[] => t.toLowerCase().match(/[a-z]+/g) ?? [];
    const answers = lines
      .flatMap((l) => [l.prompt[0].content, l.chosen[0].content, l.rejected[0].content])
      .join(' ')
      .toLowerCase();
    const critiqueOnly = [...new Set(lines.flatMap((l) => words(l.reason)))]
      .filter((w) => w.length >= 7 && !new RegExp(`\\b${w}`).test(answers))
      .map((w) => ({ w, ids: lines.filter((l) => words(l.reason).includes(w)).map((l) => l.metadata.external_id) }))
      .filter((c) => c.ids.length < lines.length)
      .sort((a, b) => (a.w < b.w ? -1 : 1));
    expect(critiqueOnly.length).toBeGreaterThan(0);
    const { w, ids } = critiqueOnly[0];
    expect(await found(`q=${w}`)).toEqual(sorted(ids));
  });

  it('ranks the best match first and marks the matched words in a snippet', async () => {
    const hits = await search('q=fig%20repot');
    expect(hits.map((h) => promptOf[h.id])).toEqual(['fig']);
    expect(hits[0].snippet).toContain('«repot»');
    const either = await search('q=fig%20or%20repot');
    // fig has both words, fig2 only one.
    expect(either.map((h) => promptOf[h.id])).toEqual(['fig', 'fig2']);
    expect(either[0].rank!).toBeGreaterThan(either[1].rank!);
  });

  it('filters by flag, principle, prompt metadata, run and review status, alone and together', async () => {
    expect(await found('flag=noop')).toEqual(['tides']);
    expect(await found('flag=refusal_drift')).toEqual(['lock']);
    expect(await found('flag=noop,refusal_drift')).toEqual([]);
    expect(await found('metadata.split=train')).toEqual(['fig', 'lock', 'tides']);
    expect(await found('metadata.split=test')).toEqual(['cactus']);
    // 3 is stored as a number on fig and as a string on tides: both match.
    expect(await found('metadata.level=3')).toEqual(['fig', 'tides']);
    expect(await found('metadata.level=3&metadata.split=train&q=fig')).toEqual(['fig']);
    expect(await found('metadata.nothing=here')).toEqual([]);
    expect(await found(`run=${runB}&q=fig`)).toEqual(['fig2']);

    // Principles: what the export says each pair used, counted here.
    const byPrinciple = new Map<string, string[]>();
    for (const l of lines) for (const p of new Set(l.metadata.principle_ids)) byPrinciple.set(p, [...(byPrinciple.get(p) ?? []), l.metadata.external_id]);
    expect(byPrinciple.size).toBeGreaterThan(1);
    for (const [principle, ids] of byPrinciple) expect(await found(`principle=${encodeURIComponent(principle)}`)).toEqual(sorted(ids));
    expect(await found('principle=no-such-principle')).toEqual([]);

    const review = (id: string, decision: string) =>
      stack.fetch(`/v1/pairs/${pairOf[id]}/review`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision, reason: 'search test' }),
      });
    expect((await review('fig', 'accept')).status).toBe(201);
    expect((await review('lock', 'reject')).status).toBe(201);
    expect((await review('tides', 'reject')).status).toBe(201);
    expect((await review('tides', 'swap')).status).toBe(201); // its latest review counts: accepted
    expect(await found('review_status=accepted')).toEqual(['fig', 'tides']);
    expect(await found('review_status=rejected')).toEqual(['lock']);
    expect(await found('review_status=unreviewed&metadata.split=train')).toEqual([]);
    expect((await found('review_status=unreviewed')).length).toBe(lines.length - 3);
    expect((await search('q=repot'))[0].review_status).toBe('accepted');
  });

  it('pages by cursor through every match exactly once, in rank order with q and newest first without', async () => {
    const all = await allPages('limit=5');
    expect(all.pages).toBe(Math.ceil(lines.length / 5));
    expect(all.hits.map((h) => h.id).sort()).toEqual(lines.map((l) => l.id).sort());
    expect(new Set(all.hits.map((h) => h.id)).size).toBe(all.hits.length);
    const times = all.hits.map((h) => Date.parse(h.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const knives = await allPages('q=kitchen%20knife&limit=3');
    expect(knives.pages).toBe(7);
    expect(knives.hits.map((h) => promptOf[h.id]).sort()).toEqual(sorted(FILLERS.map((f) => f.id)));
    const ranks = knives.hits.map((h) => h.rank!);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));

    // The page size may change between pages; the filters may not.
    const first = PairSearchResultSchema.parse(await json(await stack.fetch('/v1/pairs?q=kitchen&limit=4')));
    const rest = PairSearchResultSchema.parse(await json(await stack.fetch(`/v1/pairs?q=kitchen&limit=100&cursor=${first.next_cursor}`)));
    expect(sorted([...first.pairs, ...rest.pairs].map((h) => promptOf[h.id]))).toEqual(sorted(FILLERS.map((f) => f.id)));
    expect(rest.next_cursor).toBeNull();
    const other = await stack.fetch(`/v1/pairs?q=knife&limit=4&cursor=${first.next_cursor}`);
    expect(other.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(other)).error.code).toBe('invalid_cursor');
  });

  it("never shows another team's pairs, answers another team's run as an unknown one, and shows auditors every team's", async () => {
    expect(await found('q=fig', betaKey)).toEqual(['beta-fig']);
    expect((await allPages('limit=100', betaKey)).hits.map((h) => promptOf[h.id])).toEqual(['beta-fig']);
    expect(await found('q=fig', auditorKey)).toEqual(['beta-fig', 'fig', 'fig2']);
    const foreign = await stack.fetch(`/v1/pairs?run=${runA}`, {}, betaKey);
    const unknown = await stack.fetch('/v1/pairs?run=00000000-0000-4000-8000-000000000000', {}, betaKey);
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    expect(ErrorBodySchema.parse(await json(foreign)).error.code).toBe('run_not_found');
    // A cursor is bound to the search, and a search to the team: beta cannot continue default's pages.
    const page = PairSearchResultSchema.parse(await json(await stack.fetch('/v1/pairs?limit=2')));
    const borrowed = await stack.fetch(`/v1/pairs?limit=2&cursor=${page.next_cursor}`, {}, betaKey);
    expect(borrowed.status).toBe(422);
  });

  it('answers bad parameters with a 4xx naming the problem', async () => {
    const cases: [string, number, string][] = [
      ['limit=0', 422, 'invalid_request'],
      ['limit=101', 422, 'invalid_request'],
      ['limit=ten', 422, 'invalid_request'],
      [`q=${'a'.repeat(501)}`, 422, 'invalid_request'],
      ['q=', 422, 'invalid_request'],
      ['q=q&q=r', 422, 'invalid_request'],
      ['q=the', 422, 'invalid_search'],
      ['q=%21%3F', 422, 'invalid_search'],
      ['flag=shiny', 422, 'invalid_request'],
      ['flag=', 422, 'invalid_request'],
      ['review_status=maybe', 422, 'invalid_request'],
      ['run=not-a-uuid', 422, 'invalid_request'],
      ['colour=red', 422, 'invalid_request'],
      ['metadata.=x', 422, 'invalid_request'],
      [`metadata.k=${'v'.repeat(201)}`, 422, 'invalid_request'],
      [Array.from({ length: 9 }, (_, i) => `metadata.k${i}=v`).join('&'), 422, 'invalid_request'],
      ['cursor=garbage', 422, 'invalid_cursor'],
      [`cursor=${Buffer.from(JSON.stringify({ f: 'x', k: "1'; drop table pairs", id: 'x' })).toString('base64url')}`, 422, 'invalid_cursor'],
    ];
    const problems: string[] = [];
    for (const [query, status, code] of cases) {
      const res = await stack.fetch(`/v1/pairs?${query}`);
      const body = await json(res);
      if (res.status !== status || body?.error?.code !== code) problems.push(`${query.slice(0, 40)}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      else expect(body.error.message.length).toBeGreaterThan(0);
    }
    expect(problems).toEqual([]);
    expect((await stack.fetch('/v1/pairs', {}, null)).status).toBe(401);
  });

  it('searches from the CLI: amend search with filters, every page with --all, and the server’s refusal said plainly', async () => {
    const text = await amendCli(stack, stack.submitterKey, ['search', 'repotting']);
    expect(text.code).toBe(0);
    expect(text.out).toContain(pairOf.fig);
    expect(text.out).toContain('«repot»');
    const all = await amendCli(stack, stack.submitterKey, ['search', 'kitchen', '--limit', '6', '--all', '--json']);
    expect(all.code).toBe(0);
    const pages = all.out
      .trim()
      .split('\n')
      .map((l) => PairSearchResultSchema.parse(JSON.parse(l)));
    expect(pages).toHaveLength(4);
    expect(sorted(pages.flatMap((p) => p.pairs.map((h) => promptOf[h.id])))).toEqual(sorted(FILLERS.map((f) => f.id)));
    const filtered = await amendCli(stack, stack.submitterKey, ['search', '--metadata', 'split=train', '--metadata', 'level=3', '--json']);
    expect(sorted(PairSearchResultSchema.parse(JSON.parse(filtered.out)).pairs.map((h) => promptOf[h.id]))).toEqual(['fig', 'tides']);
    const refused = await amendCli(stack, stack.submitterKey, ['search', 'the']);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('invalid_search');
  });

  it('never finds an erased pair: its words leave the index with its texts', async () => {
    expect(await found('q=marmalade')).toEqual(['quince']);
    const erase = await stack.fetch(
      `/v1/samples/${lines.find((l) => l.metadata.external_id === 'quince')!.sample_id}/erase`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'data subject request #26' }) },
      stack.adminKey,
    );
    expect(erase.status).toBe(200);
    expect(await found('q=marmalade')).toEqual([]);
    expect(await found('q=quince', auditorKey)).toEqual([]);
    expect((await allPages('limit=100')).hits.map((h) => h.id)).not.toContain(pairOf.quince);
    const row = await pg.query(`select search::text as words from "${env.DATABASE_SCHEMA}".pairs where id = $1`, [pairOf.quince]);
    expect(row.rows[0].words).toBe('');
  });
});
