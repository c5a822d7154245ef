import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { QualityReportSchema, RunSchema, isRunFinished, type QualityReport } from '@amend/contracts';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { startGatedModel, type GatedModel } from './support/gated-model';

/*
 * The quality report is computed from the figures the worker stored with each pair (pairs.quality
 * and pairs.flags), never from the texts, and a finished run's report is computed once and kept in
 * run_reports. Expected figures are counted by hand from the simulator's markers:
 * [[amend:noop]] makes the revision repeat the draft (a no-op), [[amend:refuse]] makes it a refusal
 * of a helpful draft of a benign prompt (refusal drift).
 */

const HOLD = 'HOLD-7f3a';
const base = (i: number) => `Prompt ${i}: what is a good way to plan a weekend hike with friends?`;
/** Five answered at once, two held until the test releases them. */
const PROMPTS = [
  base(0),
  `${base(1)} [[amend:noop]]`,
  `${base(2)} [[amend:refuse]]`,
  base(3),
  `${base(4)} [[amend:noop]]`,
  `${base(5)} ${HOLD}`,
  `${base(6)} [[amend:refuse]] ${HOLD}`,
];

let env: Record<string, string> | undefined;
let stack: Stack;
let model: GatedModel;
let pg: Client;
let schema: string;

beforeAll(async () => {
  model = await startGatedModel({ holdToken: HOLD });
  env = testEnv('report', {
    AMEND_MODELS: JSON.stringify({ default: { simulator: true }, gated: { base_url: model.url, model: 'gated-sim', max_attempts: 1 } }),
  });
  schema = env.DATABASE_SCHEMA;
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
pgForFile(
  () => env,
  (c) => (pg = c),
);
afterAll(() => model?.close());

const get = (path: string) => stack.fetch(path);
const report = async (id: string): Promise<QualityReport> => QualityReportSchema.parse(await json(await get(`/v1/runs/${id}/report`)));
const run = async (id: string) => RunSchema.parse(await json(await get(`/v1/runs/${id}`)));
async function create(prompts: string[]): Promise<string> {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', model: 'gated', prompts, seed: 3 }),
  });
  if (res.status !== 202) throw new Error(`run not created (${res.status}): ${await res.text()}`);
  return (await json(res)).id;
}
const cachedRows = async (id: string) => (await pg.query(`select version, report from "${schema}".run_reports where run_id = $1`, [id])).rows;

describe('the quality report of a run', () => {
  let id: string;
  let whileRunning: QualityReport;
  let stateThen: { status: string; completed: number; pending: number; running: number };

  beforeAll(async () => {
    id = await create(PROMPTS);
    // Five pairs made, two samples held at the model: the run is still going.
    await waitFor(async () => (await run(id)).counts.completed === 5 && model.held() >= 2, { what: 'five pairs and two held samples', timeoutMs: 60_000 });
    const r = await run(id);
    stateThen = { status: r.status, completed: r.counts.completed, pending: r.counts.pending, running: r.counts.running };
    whileRunning = await report(id);
  });

  it('while the run goes on is computed from the stored figures of the pairs made so far, and not kept', async () => {
    expect(stateThen.status).toBe('running');
    expect(stateThen.completed).toBe(5);
    expect(stateThen.pending + stateThen.running).toBe(2);
    expect(whileRunning.status).toBe('running');
    // Pairs 0-4: no-ops at 1 and 4, a refusal (drift) at 2.
    expect(whileRunning.overall).toMatchObject({
      pairs: 5,
      noop_share: 0.4,
      refusal_rate_chosen: 0.2,
      refusal_rate_rejected: 0,
      refusal_drift: 1,
      refusal_drift_share: 0.2,
    });
    expect(whileRunning.overall.flags).toEqual({ noop: 2, rejected_by_judge: 0, refusal_drift: 1, low_margin: 0, truncated: 0, judges_split: 0 });
    expect(await cachedRows(id)).toEqual([]);
    // Every pair the worker emitted carries its figures.
    const rows = (await pg.query(`select quality from "${schema}".pairs where run_id = $1`, [id])).rows;
    expect(rows).toHaveLength(5);
    for (const r of rows)
      expect(r.quality).toMatchObject({ chosen_chars: expect.any(Number), rejected_chars: expect.any(Number), chosen_refuses: expect.any(Boolean) });
  });

  it('of a finished run matches the hand count, with the length ratio of the exported texts, and is kept in run_reports', async () => {
    model.release();
    await waitFor(async () => isRunFinished((await run(id)).status), { what: `run ${id} to finish` });
    const finished = await report(id);
    expect(finished.status).toBe('completed');
    expect(finished.overall).toMatchObject({ pairs: 7, refusal_rate_rejected: 0, refusal_drift: 2 });
    expect(finished.overall.noop_share).toBeCloseTo(2 / 7, 4);
    expect(finished.overall.refusal_rate_chosen).toBeCloseTo(2 / 7, 4);
    expect(finished.overall.flags).toEqual({ noop: 2, rejected_by_judge: 0, refusal_drift: 2, low_margin: 0, truncated: 0, judges_split: 0 });
    // Every pair, noop ones too (the export leaves those out by default): the report covers them all.
    const lines = ndjson(await (await get(`/v1/runs/${id}/pairs?exclude=`)).text());
    const chars = (k: 'chosen' | 'rejected') => lines.reduce((s, l) => s + (l[k][0].content as string).length, 0);
    expect(finished.overall.length_ratio).toBeCloseTo(chars('chosen') / chars('rejected'), 4);
    const rows = await cachedRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0].version).toBe('3');
    expect(rows[0].report).toEqual(finished);
  });

  it('of a finished run is served from run_reports: a pair slipped into Postgres afterwards does not change it', async () => {
    const before = await report(id);
    const sampleId = randomUUID();
    await pg.query(`insert into "${schema}".samples (id, run_id, idx, prompt, status, stage) values ($1, $2, 99, 'slipped in', 'completed', 'done')`, [
      sampleId,
      id,
    ]);
    const quality = {
      chosen_chars: 10,
      rejected_chars: 10,
      chosen_refuses: true,
      rejected_refuses: false,
      p_chosen: null,
      principle_ids: ['x'],
      comparisons: [],
    };
    await pg.query(`insert into "${schema}".pairs (id, run_id, sample_id, idx, record, flags, quality) values ($1, $2, $3, 99, '{}', '{noop}', $4)`, [
      randomUUID(),
      id,
      sampleId,
      JSON.stringify(quality),
    ]);
    expect(await report(id)).toEqual(before);
    expect(await cachedRows(id)).toHaveLength(1);
  });
});

describe('the figures a report reads', () => {
  it('are the stored quality and flags of each pair, not its texts; a pair stored without figures is read from its record', async () => {
    model.hold();
    const id = await create([`${base(10)} ${HOLD}`, `${base(11)} ${HOLD}`, `${base(12)} ${HOLD}`]);
    await waitFor(async () => (await run(id)).counts.running === 3, { what: 'three held samples' });
    const samples = (await pg.query(`select id, idx from "${schema}".samples where run_id = $1 order by idx`, [id])).rows;
    const record = (chosen: string, rejected: string, principle: string) => ({ chosen, rejected, metadata: { principle_ids: [principle], judgement: null } });
    // Figures that contradict the texts: the report must follow the figures (a no-op and a refusal by flag and figure only).
    await pg.query(
      `insert into "${schema}".pairs (id, run_id, sample_id, idx, record, flags, quality) values ($1, $2, $3, 0, $4, '{noop,refusal_drift}', $5)`,
      [
        randomUUID(),
        id,
        samples[0].id,
        JSON.stringify(record('Plain helpful answer one.', 'Another, quite different answer.', 'p1')),
        JSON.stringify({
          chosen_chars: 1000,
          rejected_chars: 500,
          chosen_refuses: true,
          rejected_refuses: false,
          p_chosen: null,
          principle_ids: ['p1'],
          comparisons: [],
        }),
      ],
    );
    // A pair from before migration 0015: no figures, so its record's texts are read (linear; its no-op verdict is its flags').
    const refusal = "I'm sorry, but I can't help with that.";
    const helpful = 'Sure: pack water, snacks and a map.';
    await pg.query(`insert into "${schema}".pairs (id, run_id, sample_id, idx, record, flags) values ($1, $2, $3, 1, $4, '{}')`, [
      randomUUID(),
      id,
      samples[1].id,
      JSON.stringify(record(refusal, helpful, 'p2')),
    ]);

    const r = await report(id);
    expect(r.status).toBe('running');
    expect(r.overall).toMatchObject({ pairs: 2, noop_share: 0.5, refusal_rate_chosen: 1, refusal_rate_rejected: 0, refusal_drift: 1 });
    expect(r.overall.length_ratio).toBeCloseTo((1000 + refusal.length) / (500 + helpful.length), 4);
    expect(Object.keys(r.principles)).toEqual(['p1', 'p2']);
    expect(r.principles.p1).toMatchObject({ pairs: 1, noop_share: 1, length_ratio: 2 });
    expect(await cachedRows(id)).toEqual([]);

    // Cancelled, the run is finished: its report is computed once more and kept.
    expect((await stack.fetch(`/v1/runs/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    const done = await report(id);
    expect(done).toMatchObject({ status: 'cancelled', overall: { pairs: 2 } });
    expect((await cachedRows(id)).map((x) => x.report)).toEqual([done]);
  });
});
