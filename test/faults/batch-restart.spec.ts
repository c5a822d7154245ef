import type { ChildProcess } from 'node:child_process';
import type { INestApplicationContext } from '@nestjs/common';
import { Client } from 'pg';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { createWorkerApp } from '../../apps/worker/src/app';
import { pgForFile, stackForFile, testEnv, waitFor, waitForRun, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import { createRun, exited, exportFigures, printFigures, prompts, runView, startWorker } from './support/runs';

const N = 12;

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
let pg: Client;
const children: ChildProcess[] = [];
const apps: INestApplicationContext[] = [];

beforeAll(async () => {
  // Each batch stays in progress 4 s: long enough to kill the coordinator while it is pending.
  sim = await startSimulatorServer({ batch: { delayMs: 4_000 } });
  env = testEnv('batchrestart', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'amend-simulator-1', batch: true } }),
    BATCH_POLL_MS: '100',
    BATCH_LEASE_MS: '1500',
  });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const a of apps) await a.close();
});
stackForFile(
  () => env,
  { workers: 0 },
  (s) => (stack = s),
);
pgForFile(
  () => env,
  (c) => (pg = c),
  { searchPath: true },
);
afterAll(() => sim?.close());

/** How many times the simulator was asked each (sample, stage), from its own log of submitted lines. */
function submissions(runSamples: Set<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of sim.batchLog()) {
    if (!runSamples.has(l.custom_id.split(':')[0])) continue;
    counts.set(l.custom_id, (counts.get(l.custom_id) ?? 0) + 1);
  }
  return counts;
}

async function sampleIds(runId: string): Promise<Set<string>> {
  const r = await pg.query('select id from samples where run_id = $1', [runId]);
  return new Set(r.rows.map((x) => x.id as string));
}

/** Waits until wave `wave` of the run is pending at the provider (its id saved in Postgres) and returns the provider batch. */
async function pendingWave(runId: string, wave: number): Promise<Record<string, unknown>> {
  const id = await waitFor(
    async () => {
      const r = await pg.query(`select provider_batch_id from batches where run_id = $1 and wave = $2 and provider_batch_id is not null`, [runId, wave]);
      return r.rows[0]?.provider_batch_id as string | undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20, what: `wave ${wave} to be submitted` },
  );
  return sim.batches().find((b) => b.id === id)!;
}

it('a coordinator killed while its batch is pending, twice, is replaced by the next worker process, which never submits a stage twice', async () => {
  const runId = await createRun(stack, { constitution: 'amend-core', prompts: prompts(N, 'batch-kill'), batch: true });
  const samples = await sampleIds(runId);
  const kills: string[] = [];
  for (const wave of [0, 1]) {
    const worker = startWorker(env);
    children.push(worker);
    const batch = await pendingWave(runId, wave);
    worker.kill('SIGKILL');
    const [view, atKill] = await Promise.all([runView(stack, runId), runFigures(env, runId)]);
    await exited(worker);
    // The kill hit while the batch was pending: the simulator still has it in progress afterwards.
    const after = sim.batches().find((b) => b.id === batch.id)!;
    expect(after.status).toBe('in_progress');
    // ... and while the run was going: the waves before it saved (a stage of every sample each), the rest not.
    expect(view.status).toBe('running');
    expect(atKill.stages).toBe(wave * N);
    expect(atKill.pairs).toBe(0);
    kills.push(`wave ${wave} ${String(batch.id)} ${String(after.status)}, run ${view.status} with ${atKill.stages} of ${3 * N} stages saved`);
  }
  // The third coordinator runs in this process: it needs no killing, and spares a third process start on a busy machine.
  const third = await createWorkerApp(stack.config);
  const run = await waitForRun(stack, runId, 90_000, 'the third worker to finish the run').finally(() => third.close());

  const counts = submissions(samples);
  printFigures('fault batch-restart', { N, kills: kills.join('; '), lines: [...counts.values()].reduce((a, b) => a + b, 0), distinct: counts.size });
  expect(run.status).toBe('completed');
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(counts.size).toBe(3 * N); // every (sample, stage): draft, critique, revision
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  expect(run.batch?.totals).toEqual({ batches: 3, requests: 3 * N, completed: 3 * N, failed: 0 });
  const stages = await pg.query('select count(*)::int as n from stage_records s join samples x on x.id = s.sample_id where x.run_id = $1', [runId]);
  expect(stages.rows[0].n).toBe(3 * N);
  // Each pair emitted once in the trail and exported once, counted per sample.
  const f = await runFigures(env, runId);
  expect([f.emitted, f.emittedTwice, f.stageEventsTwice]).toEqual([N, 0, 0]);
  expect(await exportFigures(stack, runId)).toEqual({ lines: N, samples: N, duplicated: 0 });
}, 300_000);

it('a batch created at the provider whose id was never saved (killed in between) is found by its metadata tag, not submitted again', async () => {
  sim.setBatchScript([{ delayMs: 1_500 }]);
  const runId = await createRun(stack, { constitution: 'amend-core', prompts: prompts(4, 'batch-adopt'), batch: true });
  const samples = await sampleIds(runId);
  const first = await createWorkerApp(stack.config);
  await pendingWave(runId, 0);
  await first.close();
  // What Postgres holds when a coordinator dies after batches.create and before saving the answer.
  await pg.query(`update batches set status = 'submitting', provider_batch_id = null, input_file_id = null, provider_status = null where run_id = $1`, [runId]);
  await pg.query('update runs set batch_lease_owner = null, batch_lease_until = null where id = $1', [runId]);

  apps.push(await createWorkerApp(stack.config));
  const run = await waitForRun(stack, runId, 60_000);
  const counts = submissions(samples);
  expect(run.status).toBe('completed');
  expect(counts.size).toBe(3 * 4);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  const rows = await pg.query('select wave, status from batches where run_id = $1 order by wave', [runId]);
  expect(rows.rows).toEqual([
    { wave: 0, status: 'applied' },
    { wave: 1, status: 'applied' },
    { wave: 2, status: 'applied' },
  ]);
});

it('a batch row whose provider batch was never created is abandoned and its requests go into the next wave', async () => {
  // The previous test's worker still polls (every 100 ms): it could write wave 0 before the forged row. Closed first, one started after.
  while (apps.length) await apps.pop()!.close();
  const runId = await createRun(stack, { constitution: 'amend-core', prompts: prompts(2, 'batch-abandon'), batch: true });
  const samples = [...(await sampleIds(runId))];
  // A coordinator that wrote the row and died before the upload: nothing exists at the provider.
  await pg.query(
    `insert into batches (id, run_id, wave, part, alias, status, custom_ids, bytes) values (gen_random_uuid(), $1, 0, 0, 'default', 'submitting', $2, 0)`,
    [runId, samples.map((s) => `${s}:0`)],
  );
  apps.push(await createWorkerApp(stack.config));
  const run = await waitForRun(stack, runId, 60_000);
  expect(run.status).toBe('completed');
  const rows = await pg.query('select wave, status from batches where run_id = $1 order by wave', [runId]);
  expect(rows.rows.map((r) => r.status)).toEqual(['abandoned', 'applied', 'applied', 'applied']);
  const counts = submissions(new Set(samples));
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  expect((await runView(stack, runId)).batch.wave).toBe(3);
});
