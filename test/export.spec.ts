import { randomUUID } from 'node:crypto';
import { DEFAULT_EXCLUDE, PAIR_FORMATS, RunSchema, isRunFinished, type PairFlag, type PairRecord } from '@amend/contracts';
import { formatPair, toSft } from '@amend/pipeline';
import type { Kysely } from 'kysely';
import { Store, type Database } from '@amend/store';
import { dbForFile, json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * The export built by Postgres (libs/store pair-lines.ts, streamed by COPY) against the
 * TypeScript that defines the formats (libs/pipeline formats.ts): for every format, every line
 * must parse to what formatPair / toSft make of the stored pair.
 */
const env = testEnv('export');
let stack: Stack;
let store: Store;
let db: Kysely<Database>;

// Characters a line builder can get wrong: quotes, backslashes, newlines, tabs, control
// characters, the COPY delimiters, non-ASCII and astral characters.
const awkward = 'He said "no" \\ then: line1\nline2\ttab \u0001\u0002 ctrl, ;| é ß 😀 \\n not a newline';

async function finishedRun(body: Record<string, unknown>): Promise<string> {
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`run not created (${res.status}): ${await res.text()}`);
  const { id } = await json(res);
  await waitFor(async () => isRunFinished(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`))).status), {
    timeoutMs: 90_000,
    what: `run ${id}`,
  });
  return id;
}

/** The stored pairs an export without `exclude` holds (DEFAULT_EXCLUDE left out; SFT's: `truncated` only). */
async function stored(runId: string, exclude: readonly PairFlag[] = DEFAULT_EXCLUDE.pairs): Promise<PairRecord[]> {
  const out: PairRecord[] = [];
  for await (const p of store.pairs.stream(runId, undefined, { exclude })) out.push(p);
  return out;
}

/**
 * A pair no run of the simulator makes yet, written straight into the run: a multi-turn prompt
 * with a system message, a judgement with scores (margin as JavaScript subtracts), two rounds.
 */
async function addCraftedPair(runId: string): Promise<void> {
  const [model] = await stored(runId, []);
  const sampleId = randomUUID();
  await db.executeQuery({
    sql: `insert into samples select (jsonb_populate_record(null::samples, to_jsonb(s) || jsonb_build_object('id', $1::uuid, 'idx', 1000))).* from samples s where id = $2`,
    parameters: [sampleId, model.sample_id],
    query: { kind: 'RawNode' } as any,
    queryId: { queryId: 'crafted' } as any,
  });
  const record = {
    ...model,
    id: randomUUID(),
    sample_id: sampleId,
    prompt_messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: awkward },
      { role: 'assistant', content: 'Earlier answer "quoted"' },
      { role: 'user', content: 'And now?' },
    ],
    metadata: { ...model.metadata, sample_index: 1000, judgement: { p_chosen: 0.7, source: 'logprobs' }, score_chosen: 0.7, score_rejected: 0.3 },
  };
  await db
    .insertInto('pairs')
    .values({ id: record.id, run_id: runId, sample_id: sampleId, idx: 1000, record: JSON.stringify(record), flags: [] })
    .execute();
}

let critiqueRun: string;
let feedbackRun: string;

stackForFile(env, {}, (s) => {
  stack = s;
  store = s.api.get(Store);
});
dbForFile(env, (d) => (db = d));
beforeAll(async () => {
  const prompts = Array.from({ length: 12 }, (_, i) => `${awkward} #${i}`);
  critiqueRun = await finishedRun({ constitution: 'amend-core', prompts, rounds: 2, seed: 3, verify: true });
  feedbackRun = await finishedRun({ constitution: 'amend-core', mode: 'ai-feedback', prompts: prompts.slice(0, 6), seed: 4 });
  await addCraftedPair(critiqueRun);
}, 180_000);

describe('pairs exported by Postgres', () => {
  it.each(PAIR_FORMATS)('%s lines are exactly what formatPair makes of each stored pair, in sample order', async (format) => {
    for (const runId of [critiqueRun, feedbackRun]) {
      const expected = (await stored(runId)).map((p) => JSON.parse(JSON.stringify(formatPair(p, format))));
      expect(expected.length).toBeGreaterThan(0);
      const res = await stack.fetch(`/v1/runs/${runId}/pairs?format=${format}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      const text = await res.text();
      expect(text.endsWith('\n')).toBe(true);
      expect(ndjson(text)).toEqual(expected);
    }
  });

  it('sft lines are what toSft makes of each stored pair', async () => {
    const expected = (await stored(critiqueRun, DEFAULT_EXCLUDE.sft)).map((p) => JSON.parse(JSON.stringify(toSft(p))));
    expect(ndjson(await (await stack.fetch(`/v1/runs/${critiqueRun}/sft`)).text())).toEqual(expected);
  });

  it('exclude leaves out exactly the pairs carrying those flags; reviewed=accepted with no reviews is empty', async () => {
    const all = await stored(critiqueRun, []);
    for (const exclude of [[], ['rejected_by_judge'], ['noop', 'rejected_by_judge']] as PairFlag[][]) {
      const expected = all.filter((p) => !(p.metadata.flags ?? []).some((f) => exclude.includes(f))).map((p) => p.id);
      const lines = ndjson(await (await stack.fetch(`/v1/runs/${critiqueRun}/pairs?format=standard&exclude=${exclude.join(',')}`)).text());
      expect(lines.map((l) => l.id)).toEqual(expected);
    }
    expect(await (await stack.fetch(`/v1/runs/${critiqueRun}/pairs?reviewed=accepted`)).text()).toBe('');
  });

  it('a client that stops reading mid-export leaves the API serving, and the next export whole', async () => {
    const res = await stack.fetch(`/v1/runs/${critiqueRun}/pairs`);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const again = ndjson(await (await stack.fetch(`/v1/runs/${critiqueRun}/pairs`)).text());
    expect(again).toHaveLength((await stored(critiqueRun)).length);
  });
});
