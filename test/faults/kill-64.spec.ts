import type { ChildProcess } from 'node:child_process';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { stackForFile, testEnv, waitFor, waitForRun, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import { atFault, createRun, describeAtFault, exited, exportFigures, printFigures, prompts, runView, startWorker } from './support/runs';

const N = 192;
const IN_FLIGHT = 64;

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Slow enough that a worker holds 64 calls at once.
  sim = await startSimulatorServer({ latencyMs: 400 });
  env = testEnv('kill64', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    WORKER_CONCURRENCY: String(IN_FLIGHT),
    WORKER_LOCK_MS: '2000',
  });
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
stackForFile(
  () => env,
  { workers: 0 },
  (s) => (stack = s),
);
afterAll(() => sim?.close());

it('a worker killed with 64 calls in flight loses no sample, duplicates no pair and repays at most those 64 calls', async () => {
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'kill64') });
  const first = startWorker(env);
  children.push(first);
  // Mid-run: the first samples have their pairs and every slot holds a call.
  await waitFor(async () => (await runView(stack, runId)).counts.completed >= IN_FLIGHT / 4 && sim.stats().in_flight >= IN_FLIGHT, {
    // The worker boots through ts-node first: 60 s was once too short with the other test files running beside.
    timeoutMs: 120_000,
    intervalMs: 20,
    what: `some pairs made and ${IN_FLIGHT} calls in flight`,
  });
  const inFlightAtKill = sim.stats().in_flight;
  first.kill('SIGKILL');
  const at = await atFault(stack, env, runId, runFigures);
  await exited(first);

  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 90_000, 'the second worker to finish the run');
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const calls = sim.stats().calls;
  const extra = calls - 3 * N;
  printFigures('fault kill-64', {
    N,
    'at kill': describeAtFault(at),
    samples: f.samples,
    pairs: f.pairs,
    lost: f.lost,
    'pair.emitted events': f.emitted,
    'emitted twice': f.emittedTwice,
    'stage events twice': f.stageEventsTwice,
    'exported lines': exported.lines,
    'exported twice': exported.duplicated,
    'in flight at kill': inFlightAtKill,
    calls,
    'extra model calls': extra,
  });

  // The kill hit a run that was going: some pairs made, some samples not finished.
  expect(at.status).toBe('running');
  expect(at.pairs).toBeGreaterThan(0);
  expect(at.pairs).toBeLessThan(N);
  expect(at.unfinished).toBeGreaterThan(0);

  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.pairs).toBe(N);
  expect([f.emitted, f.emittedTwice, f.stageEventsTwice]).toEqual([N, 0, 0]);
  expect(exported).toEqual({ lines: N, samples: N, duplicated: 0 });
  expect(f.stages).toBe(3 * N); // every paid stage saved exactly once
  expect(inFlightAtKill).toBeGreaterThanOrEqual(IN_FLIGHT);
  expect(extra).toBeGreaterThanOrEqual(0);
  expect(extra).toBeLessThanOrEqual(IN_FLIGHT);
}, 300_000);
