import type { ChildProcess } from 'node:child_process';
import { json, ndjson, spawnWorker, type Stack } from '../../support/stack';

/** Headers every v1 request of a fault test carries: the stack's submitter key once the API wants keys. */
export function headers(stack: Stack): Record<string, string> {
  const key = (stack as { submitterKey?: string }).submitterKey;
  return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

export async function createRun(stack: Stack, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${stack.url}/v1/runs`, { method: 'POST', headers: headers(stack), body: JSON.stringify(body) });
  const run = await json(res);
  if (res.status !== 202) throw new Error(`POST /v1/runs answered ${res.status}: ${JSON.stringify(run)}`);
  return run.id;
}

export async function runView(stack: Stack, id: string): Promise<any> {
  return json(await fetch(`${stack.url}/v1/runs/${id}`, { headers: headers(stack) }));
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve({ code: child.exitCode, signal: child.signalCode })
      : child.once('exit', (code, signal) => resolve({ code, signal })),
  );
}

/** Every fault test prints its figures on one line, the same way. */
export function printFigures(test: string, figures: Record<string, unknown>): void {
  console.log(
    `${test}: ${Object.entries(figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

export function prompts(n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}: how should I plan trip number ${i}?`);
}

/**
 * A worker process whose output is read as it comes (an unread pipe fills up and blocks a
 * worker that logs a lot, as one does while Postgres is down); the last lines are kept.
 */
export function startWorker(env: Record<string, string>): ChildProcess & { tail: string[] } {
  const child = spawnWorker(env) as ChildProcess & { tail: string[] };
  child.tail = [];
  const keep = (chunk: Buffer) => {
    child.tail.push(...chunk.toString().split('\n').filter(Boolean));
    if (child.tail.length > 200) child.tail.splice(0, child.tail.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

/**
 * The run as it stood when a fault was made to hit: its status and counts from the API, and the
 * pairs Postgres held. A fault test asserts from this that the run was still going (some samples
 * done, some not) when the fault came, so that "nothing lost" is about a run the fault interrupted.
 */
export interface AtFault {
  status: string;
  completed: number;
  unfinished: number;
  pairs: number;
}

export async function atFault(
  stack: Stack,
  env: Record<string, string>,
  runId: string,
  figures: (env: Record<string, string>, runId: string) => Promise<{ pairs: number }>,
): Promise<AtFault> {
  const [view, f] = await Promise.all([runView(stack, runId), figures(env, runId)]);
  return { status: view.status, completed: view.counts.completed, unfinished: view.counts.pending + view.counts.running, pairs: f.pairs };
}

export function describeAtFault(a: AtFault): string {
  return `${a.status}, ${a.completed} done, ${a.unfinished} not`;
}

/**
 * The run's export, every line (no flag left out), counted per sample: a pair exported twice is two
 * lines with one sample_id, whatever the database's keys say.
 */
export async function exportFigures(stack: Stack, runId: string): Promise<{ lines: number; samples: number; duplicated: number }> {
  const res = await fetch(`${stack.url}/v1/runs/${runId}/pairs?exclude=`, { headers: headers(stack) });
  if (res.status !== 200) throw new Error(`GET pairs answered ${res.status}: ${await res.text()}`);
  const lines = ndjson(await res.text());
  const perSample = new Map<string, number>();
  for (const l of lines) perSample.set(l.sample_id, (perSample.get(l.sample_id) ?? 0) + 1);
  return { lines: lines.length, samples: perSample.size, duplicated: [...perSample.values()].reduce((s, n) => s + n - 1, 0) };
}

/** The counts of runFigures (services.ts) that say whether a fault lost a pair or made one twice. */
export interface PairCounts {
  samples: number;
  pairs: number;
  lost: number;
  duplicated: number;
  emitted: number;
  emittedTwice: number;
  stageEventsTwice: number;
}

/** The figures every fault test prints of its run after the fault, in one order. */
export function pairFigures(f: PairCounts, exported: { duplicated: number }): Record<string, number> {
  return {
    samples: f.samples,
    pairs: f.pairs,
    lost: f.lost,
    'emitted twice': f.emittedTwice,
    'stage events twice': f.stageEventsTwice,
    'exported twice': exported.duplicated,
  };
}

/** The fault came while the run was going: some pairs made, some samples not finished. */
export function expectMidRun(at: AtFault, n: number): void {
  expect(at.status).toBe('running');
  expect(at.pairs).toBeGreaterThan(0);
  expect(at.pairs).toBeLessThan(n);
  expect(at.unfinished).toBeGreaterThan(0);
}

/** Each of the run's n samples has its pair once: none lost, none stored, emitted, audited or exported twice. */
export function expectEachPairOnce(f: PairCounts, exported: { lines: number; samples: number; duplicated: number }, n: number): void {
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect([f.emitted, f.emittedTwice, f.stageEventsTwice]).toEqual([n, 0, 0]);
  expect(exported).toEqual({ lines: n, samples: n, duplicated: 0 });
}
