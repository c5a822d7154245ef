import type { ChildProcess } from 'node:child_process';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { json, startStack, testEnv, waitFor, waitForRun, type Stack } from '../support/stack';
import { OwnPostgres, runFigures } from './support/services';
import {
  atFault,
  createRun,
  describeAtFault,
  expectEachPairOnce,
  expectMidRun,
  exportFigures,
  headers,
  pairFigures,
  printFigures,
  prompts,
  runView,
  startWorker,
} from './support/runs';

const N = 64;
/** "Never hangs": an answer within this long, while Postgres is down. */
const ANSWER_WITHIN_MS = 10_000;

let sim: SimulatorServer;
let pg: OwnPostgres;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 300 });
  // The shared cluster is never restarted: this test owns a throwaway one.
  pg = await OwnPostgres.start();
  env = testEnv('pgrestart', {
    DATABASE_URL: pg.url('amend_faults'),
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: '16',
    WORKER_LOCK_MS: '2000',
    RECONCILE_INTERVAL_MS: '1000',
  });
  stack = await startStack(env, { workers: 0 });
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stack?.close().catch(() => undefined);
  await sim?.close();
  pg?.destroy();
});

async function getWithin(path: string) {
  const res = await fetch(`${stack.url}${path}`, { headers: headers(stack), signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  return { status: res.status, body: await json(res) };
}

it('a Postgres restart mid-run: the API answers 503 with the error body while it is down, and workers and API recover with nothing lost', async () => {
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'pg') });
  const worker = startWorker(env);
  children.push(worker);
  await waitFor(
    async () => {
      const r = await runView(stack, runId);
      return r.counts.completed >= N / 4 ? r : undefined;
    },
    { timeoutMs: 60_000, what: 'a quarter of the samples' },
  );
  const before = await atFault(stack, env, runId, runFigures);

  pg.stop();
  const ready = await getWithin('/ready');
  const run = await getWithin(`/v1/runs/${runId}`);
  pg.start();

  const done = await waitForRun(stack, runId, 90_000, 'the run to complete after Postgres came back').catch((e) => {
    console.log(`worker output:\n${worker.tail.join('\n')}`);
    throw e;
  });
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const calls = sim.stats().calls;
  printFigures('fault postgres-restart', {
    N,
    'at stop': describeAtFault(before),
    ...pairFigures(f, exported),
    'GET /ready while down': ready.status,
    'GET /v1/runs/{id} while down': `${run.status} ${run.body?.error?.code}`,
    calls,
    'extra model calls': calls - 3 * N,
  });

  // Postgres went down under a run that was going.
  expectMidRun(before, N);
  expect(ready.status).toBe(503);
  expect(ready.body.error).toMatchObject({ code: 'unavailable' });
  expect(run.status).toBe(503);
  expect(run.body).toEqual({ error: expect.objectContaining({ code: 'unavailable', message: expect.any(String) }) });
  expect(done.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.stages).toBe(3 * N);
  expectEachPairOnce(f, exported, N);
});
