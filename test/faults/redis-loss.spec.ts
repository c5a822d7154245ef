import type { ChildProcess } from 'node:child_process';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { cleanup, deleteQueueKeys, startStack, testEnv, type Stack } from '../support/stack';
import { OwnRedis, runFigures } from './support/services';
import { createRun, printFigures, prompts, runView, waitForRun, startWorker } from './support/runs';
import { waitFor } from '../support/stack';

const N = 64;

let sim: SimulatorServer;
const envs: Record<string, string>[] = [];
const stacks: Stack[] = [];
const children: ChildProcess[] = [];
let redis: OwnRedis | undefined;

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 300 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of stacks) await s.close();
  for (const e of envs) await cleanup(e).catch(() => undefined);
  await redis?.stop();
  await sim?.close();
});

async function setUp(extra: Record<string, string> = {}) {
  const env = testEnv('redisloss', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: '16',
    WORKER_LOCK_MS: '2000',
    // Postgres is the truth: the reconciler puts back what Redis lost, this often.
    RECONCILE_INTERVAL_MS: '1000',
    ...extra,
  });
  envs.push(env);
  const stack = await startStack(env, { workers: 0 });
  stacks.push(stack);
  return { env, stack };
}

async function midRun(stack: Stack, runId: string) {
  return waitFor(async () => {
    const r = await runView(stack, runId);
    return r.counts.completed >= N / 4 ? r : undefined;
  }, { timeoutMs: 60_000, what: 'a quarter of the samples' });
}

it("Redis losing every key of the run's queue mid-run: the run completes from Postgres, nothing lost or duplicated", async () => {
  const { env, stack } = await setUp();
  sim.resetStats();
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'flush') });
  children.push(startWorker(env));
  const before = await midRun(stack, runId);
  // Other test files share this Redis: delete this test's keys, never FLUSHALL.
  await deleteQueueKeys(env);
  const run = await waitForRun(stack, runId, 90_000, 'the run to complete after its queue was emptied');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault redis-flush', { N, samples: f.samples, pairs: f.pairs, lost: f.lost, duplicated: f.duplicated, 'completed at flush': before.counts.completed, calls, 'extra model calls': calls - 3 * N });
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.stages).toBe(3 * N);
});

it('a restart of a Redis that keeps nothing on disk mid-run: workers and API reconnect and the run completes, nothing lost or duplicated', async () => {
  redis = await OwnRedis.start();
  const { env, stack } = await setUp({ REDIS_URL: redis.url });
  sim.resetStats();
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'restart') });
  children.push(startWorker(env));
  const before = await midRun(stack, runId);
  await redis.stop();
  await redis.start();
  const keysAfterRestart = await redis.keys();
  const run = await waitForRun(stack, runId, 90_000, 'the run to complete after Redis restarted empty');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault redis-restart', { N, samples: f.samples, pairs: f.pairs, lost: f.lost, duplicated: f.duplicated, 'completed at restart': before.counts.completed, 'keys right after restart': keysAfterRestart, calls, 'extra model calls': calls - 3 * N });
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.stages).toBe(3 * N);
});
