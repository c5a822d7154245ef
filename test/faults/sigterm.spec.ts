import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { redisConnection } from '@amend/runtime';
import { cleanup, startStack, testEnv, waitFor, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import { createRun, exited, printFigures, prompts, waitForRun, startWorker } from './support/runs';

const N = 48;
const CONCURRENCY = 16;

const sims: SimulatorServer[] = [];
const envs: Record<string, string>[] = [];
const stacks: Stack[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of stacks) await s.close();
  for (const s of sims) await s.close();
  for (const e of envs) await cleanup(e);
});

async function setUp(latencyMs: number, graceMs: number) {
  const sim = await startSimulatorServer({ latencyMs });
  sims.push(sim);
  const env = testEnv('sigterm', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WORKER_SHUTDOWN_GRACE_MS: String(graceMs),
    WORKER_LOCK_MS: '2000',
  });
  envs.push(env);
  const stack = await startStack(env, { workers: 0 });
  stacks.push(stack);
  return { sim, env, stack };
}

/** SIGTERM once the worker has all its slots busy; returns the exit and what was in flight. */
async function terminateMidRun(sim: SimulatorServer, worker: ChildProcess) {
  await waitFor(async () => sim.stats().in_flight >= CONCURRENCY, { timeoutMs: 60_000, intervalMs: 20, what: 'every slot busy' });
  const inFlight = sim.stats().in_flight;
  worker.kill('SIGTERM');
  return { exit: await exited(worker), inFlight };
}

async function failedJobs(env: Record<string, string>): Promise<number> {
  const queue = new Queue('samples', { prefix: env.QUEUE_PREFIX, connection: redisConnection(env.REDIS_URL) });
  try {
    return (await queue.getJobCounts('failed')).failed;
  } finally {
    await queue.close();
  }
}

it('on SIGTERM a worker lets its calls in flight finish, exits with code 0, and the run continues on another worker without repaying a call', async () => {
  const { sim, env, stack } = await setUp(400, 30_000);
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'sigterm-grace') });
  const first = startWorker(env);
  children.push(first);
  const { exit, inFlight } = await terminateMidRun(sim, first);
  const atExit = await runFigures(env, runId);

  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 60_000, 'the second worker to finish the run');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault sigterm (within grace)', { N, samples: f.samples, pairs: f.pairs, lost: f.lost, duplicated: f.duplicated, 'in flight at SIGTERM': inFlight, 'exit code': exit.code, calls, 'extra model calls': calls - 3 * N });

  expect(exit).toEqual({ code: 0, signal: null });
  expect(atExit.completed).toBeLessThan(N);
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(calls).toBe(3 * N); // every call in flight finished and was saved before the exit
  expect(await failedJobs(env)).toBe(0);
});

it('calls that outlast the grace period are aborted and their jobs handed back: exit code 0, no job failed, nothing lost', async () => {
  const { sim, env, stack } = await setUp(3_000, 300);
  const N = CONCURRENCY; // each sample holds a call for 3 s: keep it to one round
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'sigterm-abort') });
  const first = startWorker(env);
  children.push(first);
  const { exit, inFlight } = await terminateMidRun(sim, first);
  // Handed back, not left to stall: the jobs wait in the queue before any lock could expire.
  const queue = new Queue('samples', { prefix: env.QUEUE_PREFIX, connection: redisConnection(env.REDIS_URL) });
  const waiting = (await queue.getJobCounts('waiting', 'prioritized')) as Record<string, number>;
  await queue.close();

  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 90_000, 'the second worker to finish the run');
  const f = await runFigures(env, runId);
  const calls = sim.stats().calls;
  printFigures('fault sigterm (grace exceeded)', { N, samples: f.samples, pairs: f.pairs, lost: f.lost, duplicated: f.duplicated, 'in flight at SIGTERM': inFlight, 'exit code': exit.code, 'jobs waiting after exit': waiting.waiting + waiting.prioritized, calls, 'extra model calls': calls - 3 * N });

  expect(exit).toEqual({ code: 0, signal: null });
  expect(waiting.waiting + waiting.prioritized).toBe(N);
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(calls - 3 * N).toBeLessThanOrEqual(inFlight);
  expect(await failedJobs(env)).toBe(0);
});
