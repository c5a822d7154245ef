import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConstitutionFile } from '@amend/constitution';
import { SamplingSchema } from '@amend/contracts';
import type { RunSpec, SampleSpec } from '@amend/pipeline';
import { ROOT, statusKb } from './proc';

/** The bundled constitutions; the paper's (24 few-shot messages) first, as the default. */
export const BENCH_CONSTITUTIONS = ['anthropic-cai', 'amend-core'] as const;

/**
 * The constitution of the measurement going on: BENCH_CONSTITUTION, which the harness sets per
 * row (and the client children inherit), else the paper's.
 */
export function constitution(): string {
  return process.env.BENCH_CONSTITUTION || BENCH_CONSTITUTIONS[0];
}
/** Fixed so that every system samples the same principle mix run after run. */
export const SEED = 20_260_101;
export const ROUNDS = 1;
export const CALLS_PER_PAIR = 1 + 2 * ROUNDS;

/** N prompts: the 40 demo prompts of examples/prompts.jsonl, cycled. */
export function benchPrompts(n: number): string[] {
  const base = readFileSync(join(ROOT, 'examples/prompts.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
  return Array.from({ length: n }, (_, i) => base[i % base.length]);
}

/** The run Amend would build for POST {constitution: constitution(), rounds: 1, seed: SEED}, for the clients that plan calls themselves. */
export function benchRunSpec(): RunSpec {
  const loaded = loadConstitutionFile(join(ROOT, `constitutions/${constitution()}/1.0.0.yaml`));
  return {
    id: randomUUID(),
    mode: 'critique-revise',
    rounds: ROUNDS,
    seed: SEED,
    model: 'default',
    feedback_model: null,
    sampling: SamplingSchema.parse({}),
    constitution: loaded.constitution,
    constitutionRef: { name: loaded.constitution.name, version: loaded.constitution.version, sha256: loaded.sha256 },
  };
}

export function benchSamples(prompts: string[]): SampleSpec[] {
  return prompts.map((prompt, index) => ({ id: randomUUID(), index, external_id: null, prompt }));
}

/** Runs `task(i)` for i in 0..n-1, at most `concurrency` at a time; counts failures instead of stopping. */
export async function promisePool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<{ failures: number; firstError?: string }> {
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      try {
        await task(i);
      } catch (e) {
        failures++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return { failures, firstError };
}

/** What a client child prints as its last stdout line. */
export interface ClientResult {
  pairs: number;
  failures: number;
  first_error?: string;
  elapsed_ms: number;
  cpu_ms: number;
  /** The kernel's share of cpu_ms. */
  sys_ms: number;
  /** Peak resident set of the client process (VmHWM), kB. */
  peak_rss_kb: number;
  /** Resident set right before the first call (VmRSS), kB. */
  idle_rss_kb: number;
}

export interface ClientJob {
  baseURL: string;
  n: number;
  concurrency: number;
  /** Per-call timeout; a stuck call fails its prompt instead of hanging the bench. */
  timeoutMs: number;
}

/** Tells the harness the measured window starts now (it snapshots machine and simulator CPU). */
export function announceStart(): number {
  const idle = statusKb('self', 'VmRSS');
  process.stdout.write('\nBENCH_START\n');
  return idle;
}

/**
 * A client child's measured window: from BENCH_START to the last pair, then its ClientResult as
 * the last stdout line. `makePair(i)` makes the pair of prompt i and says whether it did.
 */
export async function measurePairs(n: number, concurrency: number, makePair: (i: number) => Promise<boolean>): Promise<void> {
  const idleRss = announceStart();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let pairs = 0;
  const { failures, firstError } = await promisePool(n, concurrency, async (i) => {
    if (await makePair(i)) pairs++;
  });
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const result: ClientResult = {
    pairs,
    failures,
    first_error: firstError,
    elapsed_ms: elapsed,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    sys_ms: cpu.system / 1000,
    peak_rss_kb: statusKb('self', 'VmHWM'),
    idle_rss_kb: idleRss,
  };
  process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
}

/** Runs a bench script's main (a client child, or a measurement script) and exits with its outcome. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e instanceof Error ? e.stack : e);
      process.exit(1);
    },
  );
}

export function readJob(): ClientJob {
  const raw = process.env.BENCH_JOB;
  if (!raw) throw new Error('BENCH_JOB is not set: this file is started by bench/run.ts');
  return JSON.parse(raw) as ClientJob;
}
