import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { startSimulatorServer } from '@amend/llm';
import { cleanup, json, ndjson, spawnWorker, startStack, testEnv, waitFor, type Stack } from './support/stack';

const N = 80;
const CONCURRENCY = 16;

let sim: Awaited<ReturnType<typeof startSimulatorServer>>;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 150 });
  env = testEnv('kill', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    // A killed worker's jobs count as stalled after this long and move to the next worker.
    WORKER_LOCK_MS: '2000',
  });
  stack = await startStack(env, { workers: 0 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stack?.close();
  await sim?.close();
  await cleanup(env);
});

async function runView(id: string) {
  return json(await stack.fetch(`/v1/runs/${id}`));
}

function exited(child: ChildProcess) {
  return new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
}

it('a worker killed with SIGKILL mid-run leaves nothing lost or duplicated, and the next worker resumes without repaying', async () => {
  const create = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'anthropic-cai', prompts: Array.from({ length: N }, (_, i) => `How should I plan a trip number ${i}?`) }),
  });
  expect(create.status).toBe(202);
  const runId = (await json(create)).id;

  const first = spawnWorker(env);
  children.push(first);
  // Kill once some samples are done and others are mid-way (critique or revision stage).
  await waitFor(async () => (await runView(runId)).counts.completed >= N / 4, { timeoutMs: 60_000, what: 'a quarter of the samples' });
  const inFlightBefore = sim.stats().in_flight;
  first.kill('SIGKILL');
  await exited(first);
  const midRun = await runView(runId);
  expect(midRun.counts.completed).toBeLessThan(N);

  children.push(spawnWorker(env));
  const done = await waitFor(
    async () => {
      const r = await runView(runId);
      return r.status === 'completed' ? r : undefined;
    },
    { timeoutMs: 90_000, what: 'the second worker to finish the run' },
  );

  const pairs = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs`)).text());
  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  const stored = Number((await pg.query('select count(*) from stage_records')).rows[0].count);
  await pg.end();

  const calls = sim.stats().calls;
  const extra = calls - 3 * N;
  console.log(
    `kill-resume: samples ${N}, pairs ${pairs.length}, completed at kill ${midRun.counts.completed}, ` +
      `calls ${calls} (minimum ${3 * N}), extra ${extra}, in flight at kill ${inFlightBefore}, concurrency ${CONCURRENCY}`,
  );
  expect(done.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(pairs).toHaveLength(N);
  expect(new Set(pairs.map((p) => p.metadata.sample_index)).size).toBe(N);
  expect(stored).toBe(3 * N); // every paid stage saved exactly once
  // Only calls that were in flight when the worker died may be paid twice.
  expect(extra).toBeGreaterThanOrEqual(0);
  expect(extra).toBeLessThanOrEqual(CONCURRENCY);
});
