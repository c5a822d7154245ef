import { isRunFinished } from '@amend/contracts';
import type { ChildProcess } from 'node:child_process';
import { json, spawnWorker, waitFor, type Stack } from '../../support/stack';

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

export function waitForRun(stack: Stack, id: string, timeoutMs: number, what = 'the run to finish'): Promise<any> {
  return waitFor(
    async () => {
      const r = await runView(stack, id);
      return isRunFinished(r.status) ? r : undefined;
    },
    { timeoutMs, intervalMs: 200, what },
  );
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
  console.log(`${test}: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(', ')}`);
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
