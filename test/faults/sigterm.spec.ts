import type { ChildProcess } from 'node:child_process';
import { Queue, type JobType } from 'bullmq';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { redisConnection } from '@amend/runtime';
import { cleanup, startStack, testEnv, waitFor, waitForRun, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import {
  atFault,
  createRun,
  describeAtFault,
  exited,
  expectEachPairOnce,
  expectMidRun,
  exportFigures,
  pairFigures,
  printFigures,
  prompts,
  runView,
  startWorker,
} from './support/runs';

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

/**
 * SIGTERM once the worker has all its slots busy (and, with `pairsFirst`, that many pairs made);
 * returns the exit, what was in flight, and the run as it stood when the signal was sent.
 */
async function terminateMidRun(sim: SimulatorServer, worker: ChildProcess, stack: Stack, env: Record<string, string>, runId: string, pairsFirst = 0) {
  await waitFor(async () => sim.stats().in_flight >= CONCURRENCY && (pairsFirst === 0 || (await runView(stack, runId)).counts.completed >= pairsFirst), {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: `every slot busy${pairsFirst ? ` and ${pairsFirst} pairs made` : ''}`,
  });
  const inFlight = sim.stats().in_flight;
  worker.kill('SIGTERM');
  const at = await atFault(stack, env, runId, runFigures);
  return { exit: await exited(worker), inFlight, at };
}

/** The samples queue's job counts in the given states. */
async function jobCounts(env: Record<string, string>, ...states: JobType[]): Promise<Record<string, number>> {
  const queue = new Queue('samples', { prefix: env.QUEUE_PREFIX, connection: redisConnection(env.REDIS_URL) });
  try {
    return await queue.getJobCounts(...states);
  } finally {
    await queue.close();
  }
}

it('on SIGTERM a worker lets its calls in flight finish, exits with code 0, and the run continues on another worker without repaying a call', async () => {
  const { sim, env, stack } = await setUp(400, 30_000);
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'sigterm-grace') });
  const first = startWorker(env);
  children.push(first);
  const { exit, inFlight, at } = await terminateMidRun(sim, first, stack, env, runId, CONCURRENCY / 4);
  const atExit = await runFigures(env, runId);

  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 60_000, 'the second worker to finish the run');
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const calls = sim.stats().calls;
  printFigures('fault sigterm (within grace)', {
    N,
    'at SIGTERM': describeAtFault(at),
    ...pairFigures(f, exported),
    'in flight at SIGTERM': inFlight,
    'exit code': exit.code,
    calls,
    'extra model calls': calls - 3 * N,
  });

  expectMidRun(at, N);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(atExit.completed).toBeLessThan(N);
  expectEachPairOnce(f, exported, N);
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(calls).toBe(3 * N); // every call in flight finished and was saved before the exit
  expect((await jobCounts(env, 'failed')).failed).toBe(0);
});

it('calls that outlast the grace period are aborted and their jobs handed back: exit code 0, no job failed, nothing lost', async () => {
  const { sim, env, stack } = await setUp(3_000, 300);
  const N = CONCURRENCY; // each sample holds a call for 3 s: keep it to one round
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'sigterm-abort') });
  const first = startWorker(env);
  children.push(first);
  const { exit, inFlight, at } = await terminateMidRun(sim, first, stack, env, runId);
  // Handed back, not left to stall: the jobs wait in the queue before any lock could expire.
  const waiting = await jobCounts(env, 'waiting', 'prioritized');

  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 90_000, 'the second worker to finish the run');
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const calls = sim.stats().calls;
  printFigures('fault sigterm (grace exceeded)', {
    N,
    'at SIGTERM': describeAtFault(at),
    ...pairFigures(f, exported),
    'in flight at SIGTERM': inFlight,
    'exit code': exit.code,
    'jobs waiting after exit': waiting.waiting + waiting.prioritized,
    calls,
    'extra model calls': calls - 3 * N,
  });

  // One round of 3 s calls: the signal came with the run going and every sample's first call in flight (none could be done yet).
  expect(at).toMatchObject({ status: 'running', pairs: 0, unfinished: N });
  expect(exit).toEqual({ code: 0, signal: null });
  expect(waiting.waiting + waiting.prioritized).toBe(N);
  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(calls - 3 * N).toBeLessThanOrEqual(inFlight);
  // An aborted call's stage was never saved, so nothing of it can appear twice.
  expectEachPairOnce(f, exported, N);
  expect((await jobCounts(env, 'failed')).failed).toBe(0);
});
