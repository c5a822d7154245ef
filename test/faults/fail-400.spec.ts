import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { FAIL_400_MARKER, startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { json, stackForFile, testEnv, waitForRun, type Stack } from '../support/stack';
import { runFigures } from './support/services';
import { createRun, exportFigures, headers, printFigures, prompts, startWorker } from './support/runs';

const N = 12;
const BAD = [2, 5, 11];

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 10 });
  env = testEnv('fail400', { AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }) });
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

/** pair.emitted events written after the run's first sample.failed, in the order the trail was written. */
async function pairsAfterFirstFailure(runId: string): Promise<number> {
  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  try {
    const r = await pg.query(
      `select count(*)::int as n from audit_events where run_id = $1 and type = 'pair.emitted'
         and id > (select min(id) from audit_events where run_id = $1 and type = 'sample.failed')`,
      [runId],
    );
    return r.rows[0].n;
  } finally {
    await pg.end();
  }
}

it('a permanent 400 fails only the samples whose prompts cause it, each with the reason, and the run goes on', async () => {
  const texts = prompts(N, 'fail400').map((p, i) => (BAD.includes(i) ? `${p} ${FAIL_400_MARKER}` : p));
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: texts });
  children.push(startWorker(env));
  const run = await waitForRun(stack, runId, 60_000);
  const failed = await json(await fetch(`${stack.url}/v1/runs/${runId}/samples?status=failed`, { headers: headers(stack) }));
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const after = await pairsAfterFirstFailure(runId);
  const stats = sim.stats();
  printFigures('fault fail-400', {
    N,
    samples: f.samples,
    pairs: f.pairs,
    failed: run.counts.failed,
    lost: f.lost,
    'pairs emitted after the first failure': after,
    'emitted twice': f.emittedTwice,
    'exported twice': exported.duplicated,
    calls: stats.calls,
    'extra model calls': stats.calls - 3 * (N - BAD.length) - BAD.length,
  });

  // The 400s hit a run that was going, and it went on: pairs were emitted after the first sample failed.
  expect(after).toBeGreaterThan(0);
  expect([f.emitted, f.emittedTwice]).toEqual([N - BAD.length, 0]);
  expect(exported).toEqual({ lines: N - BAD.length, samples: N - BAD.length, duplicated: 0 });

  expect(run.status).toBe('completed');
  expect(run.counts).toMatchObject({ total: N, completed: N - BAD.length, failed: BAD.length });
  expect(failed.samples.map((s: any) => s.index).sort((a: number, b: number) => a - b)).toEqual(BAD);
  for (const s of failed.samples) expect(s.failure_reason).toMatch(/^bad_request: .*HTTP 400.*\[\[amend:fail400\]\]/);
  expect(run.failures).toEqual([expect.objectContaining({ count: BAD.length })]);
  // A permanent error is not retried: one call per bad sample.
  expect(stats.by_status['400']).toBe(BAD.length);
  expect(f.lost).toBe(0);
});
