import type { ChildProcess } from 'node:child_process';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { cleanup, deleteQueueKeys, startStack, testEnv, waitForRun, type Stack } from '../support/stack';
import { OwnRedis, runFigures } from './support/services';
import { atFault, createRun, describeAtFault, exportFigures, printFigures, prompts, runView, startWorker, type AtFault } from './support/runs';
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

async function midRun(stack: Stack, env: Record<string, string>, runId: string): Promise<AtFault> {
  await waitFor(
    async () => {
      const r = await runView(stack, runId);
      return r.counts.completed >= N / 4 ? r : undefined;
    },
    { timeoutMs: 60_000, what: 'a quarter of the samples' },
  );
  return atFault(stack, env, runId, runFigures);
}

/** The loss hit a run that was going (some pairs made, some samples not finished), and nothing came out twice. */
async function expectRecovered(stack: Stack, env: Record<string, string>, runId: string, at: AtFault, f: Awaited<ReturnType<typeof runFigures>>) {
  expect(at.status).toBe('running');
  expect(at.pairs).toBeGreaterThan(0);
  expect(at.pairs).toBeLessThan(N);
  expect(at.unfinished).toBeGreaterThan(0);
  expect([f.emitted, f.emittedTwice, f.stageEventsTwice]).toEqual([N, 0, 0]);
  expect(await exportFigures(stack, runId)).toEqual({ lines: N, samples: N, duplicated: 0 });
}

it("Redis losing every key of the run's queue mid-run: the run completes from Postgres, nothing lost or duplicated", async () => {
  const { env, stack } = await setUp();
  sim.resetStats();
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'flush') });
  children.push(startWorker(env));
  const before = await midRun(stack, env, runId);
  // Other test files share this Redis: delete this test's keys, never FLUSHALL.
  await deleteQueueKeys(env);
  const run = await waitForRun(stack, runId, 90_000, 'the run to complete after its queue was emptied');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault redis-flush', {
    N,
    'at flush': describeAtFault(before),
    samples: f.samples,
    pairs: f.pairs,
    lost: f.lost,
    'emitted twice': f.emittedTwice,
    'stage events twice': f.stageEventsTwice,
    calls,
    'extra model calls': calls - 3 * N,
  });
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.stages).toBe(3 * N);
  await expectRecovered(stack, env, runId, before, f);
});

it('a restart of a Redis that keeps nothing on disk mid-run: workers and API reconnect and the run completes, nothing lost or duplicated', async () => {
  redis = await OwnRedis.start();
  const { env, stack } = await setUp({ REDIS_URL: redis.url });
  sim.resetStats();
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'restart') });
  children.push(startWorker(env));
  const before = await midRun(stack, env, runId);
  await redis.stop();
  await redis.start();
  const keysAfterRestart = await redis.keys();
  const run = await waitForRun(stack, runId, 90_000, 'the run to complete after Redis restarted empty');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault redis-restart', {
    N,
    'at restart': describeAtFault(before),
    samples: f.samples,
    pairs: f.pairs,
    lost: f.lost,
    'emitted twice': f.emittedTwice,
    'stage events twice': f.stageEventsTwice,
    'keys right after restart': keysAfterRestart,
    calls,
    'extra model calls': calls - 3 * N,
  });
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.stages).toBe(3 * N);
  await expectRecovered(stack, env, runId, before, f);
});
