import type { ChildProcess } from 'node:child_process';
import { FAIL_400_MARKER, startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { cleanup, json, startStack, testEnv, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import { createRun, headers, printFigures, prompts, waitForRun, startWorker } from './support/runs';

const N = 12;
const BAD = [2, 5, 11];

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 10 });
  env = testEnv('fail400', { AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }) });
  stack = await startStack(env, { workers: 0 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stack?.close();
  await sim?.close();
  await cleanup(env);
});

it('a permanent 400 fails only the samples whose prompts cause it, each with the reason, and the run goes on', async () => {
  const texts = prompts(N, 'fail400').map((p, i) => (BAD.includes(i) ? `${p} ${FAIL_400_MARKER}` : p));
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: texts });
  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 60_000);
  const failed = await json(await fetch(`${stack.url}/v1/runs/${runId}/samples?status=failed`, { headers: headers(stack) }));
  const f = await runFigures(env, runId);
  const stats = sim.stats();
  printFigures('fault fail-400', { N, samples: f.samples, pairs: f.pairs, failed: run.counts.failed, lost: f.lost, duplicated: f.duplicated, calls: stats.calls, 'extra model calls': stats.calls - 3 * (N - BAD.length) - BAD.length });

  expect(run.status).toBe('completed');
  expect(run.counts).toMatchObject({ total: N, completed: N - BAD.length, failed: BAD.length });
  expect(failed.samples.map((s: any) => s.index).sort((a: number, b: number) => a - b)).toEqual(BAD);
  for (const s of failed.samples) expect(s.failure_reason).toMatch(/^bad_request: .*HTTP 400.*\[\[amend:fail400\]\]/);
  expect(run.failures).toEqual([expect.objectContaining({ count: BAD.length })]);
  // A permanent error is not retried: one call per bad sample.
  expect(stats.by_status['400']).toBe(BAD.length);
  expect(f.lost).toBe(0);
});
