import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { cleanup, ndjson, startStack, testEnv, type Stack } from '../support/stack';
import { createRun, exited, printFigures, prompts, startWorker, waitForRun } from './support/runs';

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
  stack = await startStack(env, { workers: 0 });
});

afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  await stack?.close();
  await sim?.close();
  await cleanup(env);
});

// Skipped, not yet passing: on the shared 2-core machine the run did not finish within 180 s
// (Redis commands timing out under load); whether the forked processes start under ts-node and
// take jobs is still to be checked. WORKER_PROCESSES > 1 is documented as not yet verified.
it.skip('two worker processes (WORKER_PROCESSES=2) on one queue lose no sample and duplicate nothing, and both work during the run', async () => {
  worker = startWorker(env);
  const runId = await createRun(stack, { constitution: 'amend-core', prompts: prompts(N, 'two') });
  const run = await waitForRun(stack, runId, 180_000);
  expect(run.status).toBe('completed');

  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  try {
    // Counted from the trail itself, not behind a unique index: one pair.emitted per sample.
    const emitted = (await pg.query(`select sample_id, count(*)::int as n from audit_events where run_id = $1 and type = 'pair.emitted' group by sample_id`, [runId])).rows;
    expect(emitted).toHaveLength(N);
    expect(emitted.filter((r) => r.n !== 1)).toEqual([]);
    // Each stage called and recorded once per sample: draft, critique, revision.
    const stages = (await pg.query(`select count(*)::int as n from audit_events where run_id = $1 and type like '%.generated'`, [runId])).rows[0].n;
    expect(stages).toBe(N * 3);
    // Both processes did work while the run was going: each wrote pairs before the run finished.
    const byActor = (
      await pg.query(
        `select actor, count(*)::int as n from audit_events e join runs r on r.id = e.run_id
         where e.run_id = $1 and e.type = 'pair.emitted' and e.at <= r.finished_at group by actor order by actor`,
        [runId],
      )
    ).rows;
    expect(byActor).toHaveLength(2);
    for (const a of byActor) expect(a.n).toBeGreaterThan(0);
    printFigures('fault two-workers', { N, pairs: emitted.length, ...Object.fromEntries(byActor.map((a, i) => [`process ${i + 1} pairs`, a.n])) });
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
