import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { ndjson, stackForFile, testEnv, waitForRun, type Stack } from '../support/stack';
import { createRun, exited, printFigures, prompts, startWorker } from './support/runs';

const N = 96;

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  // Latency long enough that the run lasts while both processes take jobs.
  sim = await startSimulatorServer({ latencyMs: 150 });
  env = testEnv('two_workers', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: '16',
    WORKER_PROCESSES: '2',
  });
});
afterAll(() => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
});
stackForFile(
  () => env,
  { workers: 0 },
  (s) => (stack = s),
);
afterAll(() => sim?.close());

it('two worker processes (WORKER_PROCESSES=2) on one queue lose no sample and duplicate nothing, and both work during the run', async () => {
  worker = startWorker(env);
  const runId = await createRun(stack, { constitution: 'amend-core', prompts: prompts(N, 'two') });
  const run = await waitForRun(stack, runId, 180_000);
  expect(run.status).toBe('completed');

  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  try {
    // Counted from the trail itself, not behind a unique index: one pair.emitted per sample.
    const emitted = (
      await pg.query(`select sample_id, count(*)::int as n from audit_events where run_id = $1 and type = 'pair.emitted' group by sample_id`, [runId])
    ).rows;
    expect(emitted).toHaveLength(N);
    expect(emitted.filter((r) => r.n !== 1)).toEqual([]);
    // Each stage called and recorded once per sample: draft, critique, revision.
    const stages = (await pg.query(`select count(*)::int as n from audit_events where run_id = $1 and type like '%.generated'`, [runId])).rows[0].n;
    expect(stages).toBe(N * 3);
    // Both processes worked while the run was going: their spans of emitted pairs overlap (each
    // emitted its first pair before the other emitted its last), not one after the other.
    const byActor = (
      await pg.query(
        `select actor, count(*)::int as n, min(at) as first, max(at) as last from audit_events
         where run_id = $1 and type = 'pair.emitted' group by actor order by actor`,
        [runId],
      )
    ).rows;
    expect(byActor).toHaveLength(2);
    for (const p of byActor) expect(p.n).toBeGreaterThan(0);
    const [a, b] = byActor;
    expect(a.first.getTime()).toBeLessThan(b.last.getTime());
    expect(b.first.getTime()).toBeLessThan(a.last.getTime());
    printFigures('fault two-workers', { N, pairs: emitted.length, ...Object.fromEntries(byActor.map((p, i) => [`process ${i + 1} pairs`, p.n])) });
  } finally {
    await pg.end();
  }
  // The export has every sample once.
  const lines = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs`)).text());
  expect(lines).toHaveLength(N);
  expect(new Set(lines.map((l) => l.sample_id)).size).toBe(N);
  expect(sim.stats().calls).toBe(N * 3);

  worker.kill('SIGTERM');
  expect((await exited(worker)).code).toBe(0);
}, 300_000);
