import type { ChildProcess } from 'node:child_process';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { stackForFile, testEnv, waitFor, waitForRun, type Stack } from '../support/stack';
import { recordingProxy, runFigures, type Exchange } from './support/services';
import { atFault, createRun, describeAtFault, exportFigures, printFigures, prompts, startWorker } from './support/runs';

const N = 12;
const RETRY_AFTER_S = 1;

let sim: SimulatorServer;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let env: Record<string, string>;
let stack: Stack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorServer({ latencyMs: 20, rate429: 0.3, retryAfterS: RETRY_AFTER_S, rate500: 0.05, rateHang: 0.02, seed: 7 });
  proxy = await recordingProxy(sim.url);
  env = testEnv('storm', {
    AMEND_MODELS: JSON.stringify({
      // Hangs give up after 1.5 s; enough attempts that a storm never exhausts them; limits shared through Redis.
      default: { base_url: proxy.url, model: 'sim-over-http', timeout_ms: 1500, max_attempts: 40, max_in_flight: 32, rpm: 60_000 },
    }),
    WORKER_CONCURRENCY: '32',
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
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});

/** For each 429, how long until the same request (same body) arrived again. */
function waitsAfter429(exchanges: Exchange[]): number[] {
  const waits: number[] = [];
  exchanges.forEach((x, i) => {
    if (x.status !== 429 || x.answeredAt === undefined) return;
    const next = exchanges.slice(i + 1).find((y) => y.key === x.key);
    if (next) waits.push(next.arrivedAt - x.answeredAt);
  });
  return waits;
}

it('a backend storm of 429s, 500s and hangs completes every sample, and every retry after a 429 waits at least its retry-after', async () => {
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(N, 'storm') });
  children.push(startWorker(env));
  // A moment in the middle of the run (some pairs made, some not) and the 429s answered until then.
  const mid = await waitFor(
    async () => {
      const at = await atFault(stack, env, runId, runFigures);
      return at.pairs > 0 && at.pairs < N ? { at, tooMany: sim.stats().by_status['429'] ?? 0 } : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 50, what: 'the run half way through the storm' },
  );
  const run = await waitForRun(stack, runId, 150_000, 'the run to come through the storm');
  const f = await runFigures(env, runId);
  const exported = await exportFigures(stack, runId);
  const stats = sim.stats();
  const waits = waitsAfter429(proxy.exchanges);
  printFigures('fault storm', {
    N,
    samples: f.samples,
    pairs: f.pairs,
    lost: f.lost,
    'mid-run': describeAtFault(mid.at),
    '429s after mid-run': (stats.by_status['429'] ?? 0) - mid.tooMany,
    'emitted twice': f.emittedTwice,
    'stage events twice': f.stageEventsTwice,
    'exported twice': exported.duplicated,
    calls: stats.calls,
    'extra model calls': stats.calls - 3 * N,
    '429s': stats.by_status['429'] ?? 0,
    '500s': stats.by_status['500'] ?? 0,
    hangs: stats.hung,
    'retries after 429': waits.length,
    'shortest wait after 429 (ms)': Math.min(...waits),
  });

  expect(run.counts).toMatchObject({ total: N, completed: N, failed: 0 });
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(stats.by_status['429']).toBeGreaterThan(0);
  // The storm was still blowing while the run was going: 429s kept coming after some pairs were made and before the rest.
  expect(mid.at.status).toBe('running');
  expect((stats.by_status['429'] ?? 0) - mid.tooMany).toBeGreaterThan(0);
  // Retried calls save their stage once and emit each pair once, in the trail and in the export.
  expect([f.emitted, f.emittedTwice, f.stageEventsTwice]).toEqual([N, 0, 0]);
  expect(exported).toEqual({ lines: N, samples: N, duplicated: 0 });
  expect(stats.hung).toBeGreaterThan(0);
  expect(waits.length).toBeGreaterThan(0);
  for (const w of waits) expect(w).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
});
