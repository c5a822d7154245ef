/**
 * `npm run bench -- --n 2000 --latency-ms 200 --concurrency 64,256 --systems amend,naive,langchain
 *  --scenarios efficiency,overhead`
 *
 * Amend (API + worker processes, Postgres, Redis) against a naive `openai` Promise pool and
 * LangChain.js's ConstitutionalChain, all calling the OpenAI-compatible HTTP simulator, which runs
 * in its own process so that its CPU is not counted as anyone's. See bench/README.md.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { dropAmendState, measureAmend, pendingCleanups } from './lib/amend';
import { ROOT, TS_NODE_ARGS, getAmendFrom, setAmendFrom, type AmendFrom, killAllChildren, machineJiffies, spawnChild, stopChild, until } from './lib/proc';
import { BACKENDS, startSimulator, type Backend, type SimulatorChild } from './lib/simulator';
import { SCALE_SCENARIOS, meets, runScale, type ScaleOptions, type ScaleResult, type ScaleScenario } from './lib/scale';
import { PARTS, partsOf, type Part, type Profile } from './profile-summary';
import { BENCH_CONSTITUTIONS, CALLS_PER_PAIR, ROUNDS, constitution, type ClientResult } from './lib/workload';

/**
 * amend-prod: Amend as `npm run start:prod` starts it (API and worker in one compiled process, the
 * default log level); amend: the API and the worker apart (LOG_LEVEL=warn); amend-2w: the same with
 * WORKER_PROCESSES=2, one worker event loop per core of this machine.
 */
const SYSTEMS = ['amend-prod', 'amend', 'amend-2w', 'naive', 'langchain'] as const;
const THROUGHPUT_SCENARIOS = ['efficiency', 'overhead'] as const;
const SCENARIOS = [...THROUGHPUT_SCENARIOS, ...SCALE_SCENARIOS] as const;
type System = (typeof SYSTEMS)[number];

/** How the report names what answered the model calls (--backend). */
let backendName = 'the echo backend';
type Scenario = (typeof THROUGHPUT_SCENARIOS)[number];
type AnyScenario = (typeof SCENARIOS)[number];

/** The command line: the scale scenarios' options plus the throughput runs' and the report's. */
interface Options extends Omit<ScaleOptions, 'log'> {
  n: number;
  latencyMs: number;
  concurrency: number[];
  overheadConcurrency: number;
  systems: System[];
  /** The throughput scenarios run once per constitution; the scale ones on the first. */
  constitutions: string[];
  scenarios: AnyScenario[];
  repeat: number;
  results: string | false;
  json?: string;
  cpuProf?: string;
  reportFrom?: string;
  /** What answers the model calls of the throughput scenarios. */
  backend: Backend;
}

interface Row {
  scenario: Scenario;
  system: System;
  constitution: string;
  concurrency: number;
  latency_ms: number;
  n: number;
  status: 'ok' | 'skipped' | 'error';
  note?: string;
  pairs?: number;
  elapsed_ms?: number;
  pairs_per_s?: number;
  /** C / (3 x latency): what C pairs in flight allow when nothing but the model takes time. */
  ideal_pairs_per_s?: number;
  efficiency?: number;
  /** CPU of the system's own processes (API + worker, or the client process) per pair. */
  cpu_ms_per_pair?: number;
  /** Peak RSS of the worker (Amend) or of the client process. */
  peak_rss_mb?: number;
  /** Resident before the measured window started (runtime, ts-node, modules). */
  idle_rss_mb?: number;
  model_calls?: number;
  /** Characters of message content the simulator received per pair: the same conversations cost the same. */
  sent_kchars_per_pair?: number;
  max_in_flight?: number;
  sim_cpu_ms_per_pair?: number;
  /** Amend only: the Postgres backends of its API and worker, plus Postgres's background processes. */
  pg_cpu_ms_per_pair?: number;
  /** Amend only: the background processes' part of pg_cpu_ms_per_pair. */
  pg_background_cpu_ms_per_pair?: number;
  /** Amend only: WAL bytes Postgres wrote per pair (any other writer to the server counts too). */
  pg_wal_kb_per_pair?: number;
  /** Amend only: growth of the schema's tables, TOAST and indexes per pair. */
  pg_stored_kb_per_pair?: number;
  /** Amend only: the redis-server process. */
  redis_cpu_ms_per_pair?: number;
  /** Machine CPU used by none of the above: Postgres background processes, the harness, anything else running. */
  rest_cpu_ms_per_pair?: number;
  /** Share of all cores busy during the measured window. */
  machine_busy_pct?: number;
  /** Amend with --cpu-prof: cpu_ms_per_pair split by part, by each part's share of the profiles' samples. */
  cpu_parts_ms_per_pair?: Record<string, number>;
  /** Cores used by the busiest process of the system: Amend's worker, or the client. One event loop tops out near 1. */
  loop_cores?: number;
  detail?: Record<string, unknown>;
}

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function positiveInt(name: string, min = 1, max = 1_000_000) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function listOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((s) => !allowed.includes(s as T));
    if (bad.length || items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${allowed.join(', ')}`);
    return [...new Set(items)] as T[];
  };
}

export function parseArgs(argv: string[]): Options {
  const program = new Command('bench')
    .description('Amend vs a naive openai Promise pool vs LangChain ConstitutionalChain, against the HTTP simulator')
    .option('--n <prompts>', 'prompts per measurement', positiveInt('--n', 1, 100_000), 2000)
    .option('--latency-ms <ms>', 'simulator latency of the efficiency scenario', positiveInt('--latency-ms', 1, 60_000), 200)
    .option(
      '--concurrency <list>',
      'concurrencies of the efficiency scenario (worker concurrency / pool size)',
      (v: string) => v.split(',').map((s) => positiveInt('--concurrency', 1, 4096)(s.trim())),
      [64, 256],
    )
    .option('--overhead-concurrency <c>', 'concurrency of the overhead scenario (latency 0)', positiveInt('--overhead-concurrency', 1, 4096), 256)
    .option('--systems <list>', SYSTEMS.join(','), listOf(SYSTEMS), [...SYSTEMS])
    .option(
      '--constitutions <list>',
      `bundled constitutions the throughput scenarios run on (${BENCH_CONSTITUTIONS.join(', ')}); the scale scenarios use the first`,
      listOf(BENCH_CONSTITUTIONS),
      [...BENCH_CONSTITUTIONS],
    )
    .option('--scenarios <list>', `${SCENARIOS.join(',')} or all`, (v: string) => (v.trim() === 'all' ? [...SCENARIOS] : listOf(SCENARIOS)(v)), [...SCENARIOS])
    .option('--ingest-prompts <n>', 'ingest: prompts in the one run', positiveInt('--ingest-prompts', 1, 10_000_000), 100_000)
    .option('--export-pairs <n>', 'export: pairs cloned in SQL and streamed', positiveInt('--export-pairs', 1, 100_000_000), 1_000_000)
    .option('--no-export-cli', 'export: skip the `amend pairs --out` download')
    .option('--memory-in-flight <c>', 'memory: WORKER_CONCURRENCY and the calls in flight to reach', positiveInt('--memory-in-flight', 1, 4096), 512)
    .option(
      '--memory-latency-ms <ms>',
      'memory: simulator latency, long enough to hold the calls in flight',
      positiveInt('--memory-latency-ms', 100, 60_000),
      2000,
    )
    .option('--prefix-rounds <k>', 'prefix: rounds of the small run', positiveInt('--prefix-rounds', 1, 8), 4)
    .option('--prefix-prompts <n>', 'prefix: prompts of the small run', positiveInt('--prefix-prompts', 1, 1000), 8)
    .option(
      '--amend-from <build|source>',
      "run Amend's API and worker compiled (build, as in production) or through ts-node (source)",
      (v: string) => {
        if (v !== 'build' && v !== 'source') throw new Error('--amend-from takes build or source');
        return v;
      },
      'build',
    )
    .option(
      '--repeat <k>',
      'measure each row k times and keep the fastest (noise on a shared machine only slows things down)',
      positiveInt('--repeat', 1, 20),
      1,
    )
    .option('--timeout-s <s>', 'give up on one measurement after this long', positiveInt('--timeout-s', 10, 3600), 300)
    .option('--results <file>', 'where to write the Markdown report', join(ROOT, 'bench/RESULTS.md'))
    .option('--no-results', 'do not write the Markdown report')
    .option('--json <file>', 'also write every figure as JSON here')
    .option('--report-from <json>', 'measure nothing: rewrite the report from a --json file of an earlier run')
    .option('--cpu-prof <dir>', "write .cpuprofile files of Amend's API and worker for each measured window here")
    .addOption(
      new Option('--backend <kind>', 'what answers the throughput scenarios: echo (a prebuilt answer, next to no CPU per call) or the deterministic simulator')
        .choices(BACKENDS)
        .default('echo'),
    )
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<Options & { results: string | false; amendFrom: AmendFrom }>();
  setAmendFrom(o.amendFrom);
  backendName = o.backend === 'echo' ? 'the echo backend' : 'the simulator';
  return { ...o, results: o.results === false ? false : resolve(o.results), cpuProf: o.cpuProf && resolve(o.cpuProf) };
}

/** Why LangChain cannot run here, or undefined when it can. */
function langchainUnavailable(): string | undefined {
  const major = Number(process.versions.node.split('.')[0]);
  for (const pkg of ['@langchain/classic', '@langchain/openai', '@langchain/core']) {
    const file = join(ROOT, 'node_modules', pkg, 'package.json');
    if (!existsSync(file)) return `${pkg} is not installed (npm install)`;
    const meta = JSON.parse(readFileSync(file, 'utf8')) as { version: string; engines?: { node?: string } };
    const need = /^>=\s*(\d+)/.exec(meta.engines?.node ?? '')?.[1];
    if (need && major < Number(need)) return `${pkg}@${meta.version} needs node ${meta.engines?.node}, this is ${process.version}`;
  }
  return undefined;
}

function cpuSnapshot(sim: SimulatorChild) {
  return { machine: machineJiffies(), sim: sim.cpuMs() };
}

/** Figures every system shares: simulator calls and CPU, machine load, throughput, efficiency. */
async function finish(
  row: Row,
  sim: SimulatorChild,
  before: ReturnType<typeof cpuSnapshot>,
  after: ReturnType<typeof cpuSnapshot>,
  ownCpuMs: number,
  pairs: number,
  elapsedMs: number,
  storeCpu: { pg: number; pgBackground: number; redis: number } = { pg: 0, pgBackground: 0, redis: 0 },
): Promise<Row> {
  const stats = await sim.stats();
  const busyMs = ((after.machine.busy - before.machine.busy) * 1000) / 100;
  const simMs = after.sim - before.sim;
  const per = (x: number) => (pairs > 0 ? x / pairs : NaN);
  row.pairs = pairs;
  row.elapsed_ms = elapsedMs;
  row.pairs_per_s = pairs / (elapsedMs / 1000);
  if (row.latency_ms > 0) {
    row.ideal_pairs_per_s = row.concurrency / ((CALLS_PER_PAIR * row.latency_ms) / 1000);
    row.efficiency = row.pairs_per_s / row.ideal_pairs_per_s;
  }
  row.cpu_ms_per_pair = per(ownCpuMs);
  row.model_calls = stats.calls;
  row.sent_kchars_per_pair = per(stats.message_chars) / 1000;
  row.max_in_flight = stats.max_in_flight;
  row.sim_cpu_ms_per_pair = per(simMs);
  if (isAmend(row.system)) {
    row.pg_cpu_ms_per_pair = per(storeCpu.pg + storeCpu.pgBackground);
    row.pg_background_cpu_ms_per_pair = per(storeCpu.pgBackground);
    row.redis_cpu_ms_per_pair = per(storeCpu.redis);
  }
  row.rest_cpu_ms_per_pair = per(Math.max(0, busyMs - ownCpuMs - simMs - storeCpu.pg - storeCpu.pgBackground - storeCpu.redis));
  row.machine_busy_pct = (100 * (after.machine.busy - before.machine.busy)) / Math.max(1, after.machine.total - before.machine.total);
  if (pairs !== row.n) row.note = `${row.n - pairs} of ${row.n} prompts gave no pair`;
  const foreignCores = ((row.rest_cpu_ms_per_pair ?? 0) * row.pairs_per_s) / 1000;
  if (foreignCores >= 0.3) {
    row.note = [row.note, `shared machine: other processes used ${foreignCores.toFixed(2)} cores meanwhile`].filter(Boolean).join('; ');
  }
  if (stats.calls !== row.n * CALLS_PER_PAIR)
    row.note = [row.note, `${backendName} saw ${stats.calls} calls, expected ${row.n * CALLS_PER_PAIR}`].filter(Boolean).join('; ');
  const non200 = Object.entries(stats.by_status).filter(([s]) => s !== '200');
  if (non200.length) row.note = [row.note, `non-200 answers: ${JSON.stringify(Object.fromEntries(non200))}`].filter(Boolean).join('; ');
  return row;
}

async function runAmend(row: Row, sim: SimulatorChild, o: Options, system: System): Promise<Row> {
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  let before: ReturnType<typeof cpuSnapshot> | undefined;
  const m = await measureAmend({
    simulatorUrl: sim.url,
    n: row.n,
    concurrency: row.concurrency,
    timeoutMs: o.timeoutS * 1000,
    cpuProfDir: o.cpuProf,
    label: `${row.scenario}-${row.system}-c${row.concurrency}-l${row.latency_ms}`,
    workerProcesses: system === 'amend-2w' ? 2 : 1,
    layout: system === 'amend-prod' ? 'prod' : 'apart',
    log,
    onStart: () => (before = cpuSnapshot(sim)),
  });
  const after = cpuSnapshot(sim);
  row.loop_cores = m.worker_max_process_cpu_ms / m.elapsed_ms;
  row.peak_rss_mb = m.worker_peak_rss_kb / 1024;
  row.idle_rss_mb = m.worker_idle_rss_kb / 1024;
  row.detail = { ...m };
  if (m.pairs > 0) {
    row.pg_wal_kb_per_pair = m.pg_wal_bytes / 1024 / m.pairs;
    row.pg_stored_kb_per_pair = m.pg_stored_bytes / 1024 / m.pairs;
  }
  if (m.failed > 0) row.note = `${m.failed} samples failed`;
  if (m.profiles.length > 0 && m.pairs > 0) row.cpu_parts_ms_per_pair = partsPerPair(m.profiles, (m.api_cpu_ms + m.worker_cpu_ms) / m.pairs);
  if (m.usage_calls !== row.n * CALLS_PER_PAIR) row.note = [row.note, `run usage.calls ${m.usage_calls}`].filter(Boolean).join('; ');
  return finish(row, sim, before!, after, m.api_cpu_ms + m.worker_cpu_ms, m.pairs, m.elapsed_ms, {
    pg: m.pg_cpu_ms,
    pgBackground: m.pg_background_cpu_ms,
    redis: m.redis_cpu_ms,
  });
}

/** CPU ms per pair by part: each part's share of the profiles' on-CPU samples times the measured CPU per pair. */
function partsPerPair(files: string[], cpuMsPerPair: number): Record<string, number> {
  const sums = new Map<Part, number>(PARTS.map((p) => [p, 0]));
  for (const f of files) for (const [part, ms] of partsOf(JSON.parse(readFileSync(f, 'utf8')) as Profile)) sums.set(part, sums.get(part)! + ms);
  const total = [...sums.values()].reduce((a, b) => a + b, 0);
  return Object.fromEntries(PARTS.map((p) => [p, total > 0 ? (sums.get(p)! / total) * cpuMsPerPair : 0]));
}

/** The by-part table of the rows profiled (--cpu-prof), with Postgres and Redis beside. */
function partsTable(rows: Row[]): string[] {
  const profiled = rows.filter((r) => r.cpu_parts_ms_per_pair);
  if (profiled.length === 0) return [];
  const head = ['scenario', 'constitution', 'system', 'C', 'latency', 'CPU ms/pair', ...PARTS, 'Postgres', 'Redis'];
  const body = profiled.map((r) => [
    r.scenario,
    r.constitution,
    r.system,
    String(r.concurrency),
    `${r.latency_ms} ms`,
    fmt(r.cpu_ms_per_pair, 2),
    ...PARTS.map((p) => fmt(r.cpu_parts_ms_per_pair![p], 2)),
    fmt(r.pg_cpu_ms_per_pair, 2),
    fmt(r.redis_cpu_ms_per_pair, 2),
  ]);
  return [
    '## CPU per pair by part',
    '',
    "From the CPU profiles (--cpu-prof) of the rows above: each part's share of the profiled samples (bench/profile-summary.ts `partsOf`) times the row's CPU ms/pair, in ms per pair. Profiling itself costs 10-20% CPU, included here; Postgres and Redis are their processes' CPU, measured apart.",
    '',
    '| ' + head.join(' | ') + ' |',
    '|' + head.map(() => '---').join('|') + '|',
    ...body.map((cells) => '| ' + cells.join(' | ') + ' |'),
    '',
  ];
}

async function runClient(row: Row, sim: SimulatorChild, o: Options, file: string): Promise<Row> {
  const job = { baseURL: sim.url, n: row.n, concurrency: row.concurrency, timeoutMs: 60_000 };
  const child = spawnChild(row.system, [...TS_NODE_ARGS, join(ROOT, file)], {
    BENCH_JOB: JSON.stringify(job),
    // LangChain: no tracing to LangSmith, whatever the caller's environment says.
    LANGSMITH_TRACING: 'false',
    LANGCHAIN_TRACING_V2: 'false',
  });
  try {
    await until(`${row.system} to start`, async () => (child.output().includes('BENCH_START') ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 10,
      children: [child],
    });
    const before = cpuSnapshot(sim);
    const line = await until(`${row.system} to finish`, async () => /BENCH_RESULT (\{.*\})/.exec(child.output())?.[1], {
      timeoutMs: o.timeoutS * 1000,
      intervalMs: 10,
      children: [child],
    });
    const after = cpuSnapshot(sim);
    const r = JSON.parse(line) as ClientResult;
    row.loop_cores = r.cpu_ms / r.elapsed_ms;
    row.peak_rss_mb = r.peak_rss_kb / 1024;
    row.idle_rss_mb = r.idle_rss_kb / 1024;
    row.detail = { ...r };
    if (r.failures) row.note = `${r.failures} prompts failed, first: ${r.first_error}`;
    const out = await finish(row, sim, before, after, r.cpu_ms, r.pairs, r.elapsed_ms);
    if (r.failures) out.note = `${r.failures} prompts failed (${r.first_error}); ${out.note ?? ''}`.replace(/; $/, '');
    return out;
  } finally {
    await stopChild(child, 3_000);
  }
}

async function measure(system: System, scenario: Scenario, concurrency: number, latencyMs: number, o: Options, skip?: string): Promise<Row> {
  const row: Row = { scenario, system, constitution: constitution(), concurrency, latency_ms: latencyMs, n: o.n, status: 'ok' };
  if (skip) return { ...row, status: 'skipped', note: skip };
  const label = `${scenario} ${system} ${row.constitution} C=${concurrency} L=${latencyMs}ms N=${o.n}`;
  log(`${label}: starting`);
  const started = Date.now();
  let sim: SimulatorChild | undefined;
  try {
    sim = await startSimulator(latencyMs, 60_000, o.backend);
    const out = isAmend(system)
      ? await runAmend(row, sim, o, system)
      : await runClient(row, sim, o, system === 'naive' ? 'bench/clients/naive.ts' : 'bench/clients/langchain.ts');
    log(`${label}: ${fmt(out.pairs_per_s, 1)} pairs/s, ${fmt(out.cpu_ms_per_pair, 2)} CPU ms/pair (${((Date.now() - started) / 1000).toFixed(0)} s with boot)`);
    return out;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log(`${label}: FAILED: ${msg}`);
    // First line says what failed; the last line of a child's output usually says why.
    const lines = msg
      .split('\n')
      // eslint-disable-next-line no-control-regex
      .map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim())
      .filter(Boolean);
    const why = [...lines.slice(1)].reverse().find((l) => /error/i.test(l)) ?? lines[lines.length - 1];
    const note = lines.length > 1 ? `${lines[0]} ${why.slice(why.search(/\w*Error/) >= 0 ? why.search(/\w*Error/) : 0)}` : (lines[0] ?? 'unknown error');
    return { ...row, status: 'error', note: note.slice(0, 300) };
  } finally {
    await sim?.stop();
  }
}

/** `--repeat k`: the fastest of k measurements, the others' pairs/s in its note. */
async function measureBest(system: System, scenario: Scenario, concurrency: number, latencyMs: number, o: Options, skip?: string): Promise<Row> {
  const tries: Row[] = [];
  for (let i = 0; i < (skip ? 1 : o.repeat); i++) tries.push(await measure(system, scenario, concurrency, latencyMs, o, skip));
  if (tries.length === 1) return tries[0];
  const ok = tries.filter((r) => r.status === 'ok');
  if (ok.length === 0) return tries[tries.length - 1];
  const best = ok.reduce((a, b) => ((b.pairs_per_s ?? 0) > (a.pairs_per_s ?? 0) ? b : a));
  const all = tries.map((r) => (r.status === 'ok' ? fmt(r.pairs_per_s, 1) : r.status)).join(', ');
  best.note = [`best of ${tries.length} (pairs/s ${all})`, best.note].filter(Boolean).join('; ');
  return best;
}

const fmt = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

const COLUMNS: [string, (r: Row) => string, 'l' | 'r'][] = [
  ['scenario', (r) => r.scenario, 'l'],
  ['constitution', (r) => r.constitution ?? '-', 'l'],
  ['system', (r) => r.system, 'l'],
  ['C', (r) => String(r.concurrency), 'r'],
  ['latency', (r) => `${r.latency_ms} ms`, 'r'],
  ['pairs/s', (r) => fmt(r.pairs_per_s, 1), 'r'],
  ['ideal/s', (r) => fmt(r.ideal_pairs_per_s, 1), 'r'],
  ['efficiency', (r) => fmt(r.efficiency, 3), 'r'],
  ['CPU ms/pair', (r) => fmt(r.cpu_ms_per_pair, 2), 'r'],
  ['peak RSS MB', (r) => fmt(r.peak_rss_mb, 0), 'r'],
  ['model calls', (r) => (r.model_calls === undefined ? '-' : String(r.model_calls)), 'r'],
  ['sent kchars/pair', (r) => fmt(r.sent_kchars_per_pair, 1), 'r'],
  ['wall s', (r) => fmt(r.elapsed_ms === undefined ? undefined : r.elapsed_ms / 1000, 2), 'r'],
  ['sim CPU ms/pair', (r) => fmt(r.sim_cpu_ms_per_pair, 2), 'r'],
  ['pg CPU ms/pair', (r) => fmt(r.pg_cpu_ms_per_pair, 2), 'r'],
  ['WAL KB/pair', (r) => fmt(r.pg_wal_kb_per_pair, 1), 'r'],
  ['stored KB/pair', (r) => fmt(r.pg_stored_kb_per_pair, 1), 'r'],
  ['redis CPU ms/pair', (r) => fmt(r.redis_cpu_ms_per_pair, 2), 'r'],
  ['other CPU ms/pair', (r) => fmt(r.rest_cpu_ms_per_pair, 2), 'r'],
  ['machine busy', (r) => (r.machine_busy_pct === undefined ? '-' : `${r.machine_busy_pct.toFixed(0)}%`), 'r'],
  ['note', (r) => (r.status === 'skipped' ? `skipped: ${r.note}` : r.status === 'error' ? `error: ${r.note}` : (r.note ?? '')), 'l'],
];

export function table(rows: Row[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (COLUMNS[i][2] === 'r' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The scale scenarios: one line per figure, with the issue's target where it sets one. */
export function scaleTable(results: ScaleResult[]): string {
  const cells: string[][] = [['scenario', 'figure', 'value', 'target', 'met', 'wall s', 'note']];
  for (const r of results) {
    if (r.status !== 'ok') {
      cells.push([r.scenario, '-', '-', '-', '-', fmt(r.wall_s, 0), `error: ${r.note}`]);
      continue;
    }
    r.figures.forEach((f, i) => {
      const unit = f.unit === 'share' ? '' : ` ${f.unit}`;
      const met = meets(f);
      cells.push([
        i === 0 ? r.scenario : '',
        f.metric,
        `${fmt(f.value, f.digits)}${unit}`,
        f.target ? `${f.target.op} ${f.target.value}${unit}` : '',
        met === undefined ? '' : met ? 'yes' : 'NO',
        i === 0 ? fmt(r.wall_s, 0) : '',
        i === 0 ? (r.note ?? '') : '',
      ]);
    });
  }
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const right = [false, false, true, true, false, true, false];
  const line = (c: string[]) =>
    c
      .map((v, i) => (right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const NAMES: Record<System, string> = {
  'amend-prod': 'Amend (start:prod, one process)',
  amend: 'Amend',
  'amend-2w': 'Amend (2 worker processes)',
  naive: 'naive',
  langchain: 'LangChain',
};
const isAmend = (s: System) => s === 'amend' || s === 'amend-2w' || s === 'amend-prod';

/** Best efficiency possible with N prompts in C lanes of equal length: the last wave is partly empty. */
export function waveCeiling(n: number, c: number): number {
  return n / c / Math.ceil(n / c);
}

/** One bullet per measurement: what bounds its pairs/s, its CPU, its RSS and its call count. */
export function explain(r: Row, cores: number): string {
  const who = `${NAMES[r.system]}, ${r.constitution ?? constitution()}, ${r.scenario}, C=${r.concurrency}, ${r.latency_ms} ms`;
  if (r.status !== 'ok') return `- **${who}**: ${r.status === 'skipped' ? 'skipped' : 'failed'}: ${r.note}.`;
  const s: string[] = [];
  const busy = r.machine_busy_pct ?? 0;
  const amend = isAmend(r.system);
  const own = amend ? 'the API and the worker' : `the ${NAMES[r.system]} client process`;
  const split = [
    `${own} ${fmt(r.cpu_ms_per_pair, 2)}`,
    `${backendName} ${fmt(r.sim_cpu_ms_per_pair, 2)}`,
    ...(amend
      ? [
          `Postgres ${fmt(r.pg_cpu_ms_per_pair, 2)} (Amend's backends ${fmt((r.pg_cpu_ms_per_pair ?? NaN) - (r.pg_background_cpu_ms_per_pair ?? 0), 2)}, background processes ${fmt(r.pg_background_cpu_ms_per_pair, 2)})`,
          `Redis ${fmt(r.redis_cpu_ms_per_pair, 2)}`,
        ]
      : []),
    `everything else (the harness, other users of the machine) ${fmt(r.rest_cpu_ms_per_pair, 2)} CPU ms per pair`,
  ].join(', ');
  const ofBound = r.latency_ms > 0 ? ` (${fmt(r.efficiency, 3)} of the latency bound ${fmt(r.ideal_pairs_per_s, 1)})` : '';
  const ceiling = waveCeiling(r.n, r.concurrency);
  const loop = r.loop_cores ?? 0;
  const loopName = r.system === 'amend-2w' ? 'the busier worker process' : amend ? 'the worker process' : `the ${NAMES[r.system]} client process`;
  if (r.latency_ms > 0 && (r.efficiency ?? 0) >= 0.9 * ceiling) {
    s.push(
      `${fmt(r.pairs_per_s, 1)} pairs/s is ${fmt(r.efficiency, 3)} of the latency bound C / (3 × ${r.latency_ms} ms) = ${fmt(r.ideal_pairs_per_s, 1)}: bounded by the backend's latency (three sequential calls per pair, C pairs in flight; ${r.n} prompts in lanes of ${r.concurrency} leave the last wave partly empty, so ${ceiling.toFixed(3)} is the ceiling). The machine was ${busy.toFixed(0)}% busy.`,
    );
  } else if (loop >= 0.75) {
    s.push(
      `${fmt(r.pairs_per_s, 1)} pairs/s${ofBound} is bounded by one event loop: ${loopName} used ${loop.toFixed(2)} cores (its JavaScript runs on one thread; GC and I/O threads add a little) with the machine ${busy.toFixed(0)}% busy; split ${split}.`,
    );
  } else if (busy >= 85) {
    s.push(
      `${fmt(r.pairs_per_s, 1)} pairs/s${ofBound} is bounded by CPU: the ${cores} cores were ${busy.toFixed(0)}% busy (${loopName} alone ${loop.toFixed(2)} cores), split ${split}.`,
    );
  } else {
    s.push(
      `${fmt(r.pairs_per_s, 1)} pairs/s${ofBound} is below the latency bound (ceiling ${ceiling.toFixed(3)} for ${r.n} prompts in lanes of ${r.concurrency}) with the machine ${busy.toFixed(0)}% busy and ${loopName} at ${loop.toFixed(2)} cores: time per pair outside the model calls${amend ? ' (Postgres round trips of the checkpoints and audit events between calls, the queue hand-off, waiting for the shared event loop)' : ''} bounds it, not CPU; split ${split}.`,
    );
  }
  s.push(
    `CPU ${fmt(r.cpu_ms_per_pair, 2)} ms/pair is ${own}'s own user+system time over the measured window divided by pairs${amend ? ': three model calls plus, per call, a checkpoint transaction with its audit event, the pair, BullMQ job traffic, and the API answering the POST and the polls' : r.system === 'naive' ? ': three HTTP calls through the openai SDK (JSON encode and decode, undici) and the call planning' : ': three HTTP calls through ChatOpenAI plus LangChain prompt templating, callbacks and run bookkeeping'}.`,
  );
  if (amend && r.pg_wal_kb_per_pair !== undefined) {
    s.push(
      `Postgres wrote ${fmt(r.pg_wal_kb_per_pair, 1)} KB of WAL per pair and the schema grew ${fmt(r.pg_stored_kb_per_pair, 1)} KB per pair (tables, TOAST, indexes): the pair, its ${CALLS_PER_PAIR} stage records with the messages they added, their audit events and the queue-side sample rows.`,
    );
  }
  s.push(
    `Peak RSS ${fmt(r.peak_rss_mb, 0)} MB (${amend ? 'worker' : 'client'}); ${fmt(r.idle_rss_mb, 0)} MB of it was resident before the window (${amend && getAmendFrom() === 'build' ? 'Node and the modules' : 'Node, ts-node and the TypeScript compiler it loads, the modules'}), the rest is the load: C conversations in flight, sockets, buffers, garbage not yet collected.`,
  );
  s.push(
    `Model calls ${r.model_calls} counted by ${backendName} (expected ${r.n * CALLS_PER_PAIR}; at most ${r.max_in_flight} in flight${r.latency_ms === 0 ? ': with latency 0 it answers each request as soon as it has read the body, so requests seldom overlap inside it' : ''}).`,
  );
  if (r.note) s.push(`Note: ${r.note}.`);
  return `- **${who}**: ${s.join(' ')}`;
}

function machine(): Record<string, string> {
  const sh = (cmd: string) => {
    try {
      return execSync(cmd, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return '?';
    }
  };
  return {
    nproc: sh('nproc'),
    cpu: cpus()[0]?.model ?? '?',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: sh('. /etc/os-release && echo "$PRETTY_NAME"') + ` (kernel ${sh('uname -r')})`,
    postgres: sh(`psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version' 2>/dev/null`),
    redis: sh(`redis-cli -h 127.0.0.1 INFO server 2>/dev/null | sed -n 's/^redis_version://p'`),
    commit: sh('git rev-parse --short HEAD'),
    dirty: sh('git status --porcelain -- apps libs constitutions | wc -l'),
  };
}

const NOTES_BEGIN = '<!-- BEGIN NOTES (kept across runs) -->';
const NOTES_END = '<!-- END NOTES -->';

function markdown(rows: Row[], o: Options, m: Record<string, string>, startedAt: Date, totalS: number, scale: ScaleResult[] = []): string {
  const previous = o.results && existsSync(o.results) ? readFileSync(o.results, 'utf8') : '';
  const notes =
    previous.includes(NOTES_BEGIN) && previous.includes(NOTES_END)
      ? previous.slice(previous.indexOf(NOTES_BEGIN), previous.indexOf(NOTES_END) + NOTES_END.length)
      : `${NOTES_BEGIN}\n${NOTES_END}`;
  const cores = Number(m.nproc) || cpus().length;
  const lc = (() => {
    try {
      return ['@langchain/classic', '@langchain/openai', '@langchain/core']
        .map((p) => `${p}@${(JSON.parse(readFileSync(join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version}`)
        .join(', ');
    } catch {
      return 'not installed';
    }
  })();
  return [
    '# Amend benchmark results',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString()}; the whole run took ${totalS.toFixed(0)} s.`,
    'Regenerate with the command below; the Notes section at the end is kept across runs.',
    '',
    '## Machine',
    '',
    `- ${m.nproc} cores (${m.cpu}), ${m.memory}, ${m.os}`,
    `- Node ${m.node}; Postgres ${m.postgres} and Redis ${m.redis} on 127.0.0.1, shared with the services and ${backendName}`,
    `- commit ${m.commit}${m.dirty !== '0' && m.dirty !== '?' ? ` with ${m.dirty} uncommitted changes in apps/, libs/, constitutions/ (the working tree is what ran)` : ''}; LangChain: ${lc}`,
    '',
    '## Parameters',
    '',
    '```',
    `npm run bench -- --n ${o.n}${o.repeat > 1 ? ` --repeat ${o.repeat}` : ''} --latency-ms ${o.latencyMs} --concurrency ${o.concurrency.join(',')} --overhead-concurrency ${o.overheadConcurrency} --systems ${o.systems.join(',')} --constitutions ${(o.constitutions ?? [constitution()]).join(',')} --scenarios ${o.scenarios.join(',')}${o.backend ? ` --backend ${o.backend}` : ''}${getAmendFrom() === 'source' ? ' --amend-from source' : ''}`,
    '```',
    '',
    `- ${o.n} prompts per measurement (examples/prompts.jsonl cycled), constitutions ${(o.constitutions ?? [constitution()]).map((c) => `\`${c}\``).join(' and ')} (the scale scenarios: the first), ${ROUNDS} round: draft, critique, revision = ${CALLS_PER_PAIR} calls per pair.`,
    `- model calls answered by ${backendName} (--backend ${o.backend ?? 'simulator'}); efficiency: latency ${o.latencyMs} ms, concurrency ${o.concurrency.join(' and ')}; overhead: latency 0, concurrency ${o.overheadConcurrency}.`,
    `- Amend's API and worker run ${getAmendFrom() === 'build' ? 'compiled (tsc into node_modules/.cache, as the Docker image runs them)' : 'from source through ts-node'}; the naive and LangChain clients and ${backendName} run through ts-node.`,
    `- Every measurement gets a fresh ${backendName.replace('the ', '')} process; Amend also gets fresh API and worker processes, a fresh Postgres schema and queue prefix (dropped afterwards).`,
    '- Nothing is warmed up: the window starts at the POST (Amend) or at the first call (clients), after boot.',
    '',
    '## Results',
    '',
    '```',
    rows.length ? table(rows) : '(no throughput scenario in this run)',
    '```',
    '',
    `Columns are described in bench/README.md. efficiency = pairs/s ÷ (C / (3 × latency)); CPU ms/pair counts only the system's own processes (Amend: API + worker, or its one process; clients: their one process), ${backendName} and the rest of the machine are shown apart.`,
    '',
    ...partsTable(rows),
    '## What bounds each figure',
    '',
    ...rows.map((r) => explain(r, cores)),
    '',
    ...(scale.length
      ? [
          '## Scale: ingest, export, memory, prefix reuse',
          '',
          `Parameters: ingest ${(o.ingestPrompts ?? 100_000).toLocaleString('en')} prompts in one run (instant simulator, one worker at C=64); export ${(o.exportPairs ?? 1_000_000).toLocaleString('en')} pairs cloned in SQL from a real pair, streamed by GET /v1/runs/{id}/pairs${o.exportCli === false ? '' : ' and by `amend pairs --out`'}; memory WORKER_CONCURRENCY=${o.memoryInFlight ?? 512}, simulator latency ${o.memoryLatencyMs ?? 2000} ms; prefix reuse ${o.prefixPrompts ?? 8} prompts at rounds ${o.prefixRounds ?? 4}. Each scenario has its own simulator, API, worker, schema and queue prefix.`,
          '',
          '```',
          scaleTable(scale),
          '```',
          '',
          ...scale.map(
            (r) => `- **${r.scenario}**: ${r.status === 'ok' ? r.bound : `failed: ${r.note}`}${r.status === 'ok' && r.note ? ` Note: ${r.note}.` : ''}`,
          ),
          '',
        ]
      : []),
    '## Notes',
    '',
    notes,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 1;
  }
  if (o.reportFrom) {
    const saved = JSON.parse(readFileSync(resolve(o.reportFrom), 'utf8')) as {
      started_at: string;
      total_s?: number;
      options: Options;
      machine: Record<string, string>;
      rows: Row[];
      scale?: ScaleResult[];
    };
    const scale = saved.scale ?? [];
    process.stdout.write(`${[saved.rows.length ? table(saved.rows) : '', scale.length ? scaleTable(scale) : ''].filter(Boolean).join('\n\n')}\n`);
    if (o.results)
      writeFileSync(
        o.results,
        markdown(saved.rows, { ...o, ...saved.options, results: o.results }, saved.machine, new Date(saved.started_at), saved.total_s ?? NaN, scale),
      );
    return 0;
  }
  const startedAt = new Date();
  const lcSkip = o.systems.includes('langchain') ? langchainUnavailable() : undefined;
  if (lcSkip) log(`LangChain skipped: ${lcSkip}`);
  const plan: { scenario: Scenario; concurrency: number; latency: number }[] = [];
  for (const scenario of o.scenarios.filter((x): x is Scenario => (THROUGHPUT_SCENARIOS as readonly string[]).includes(x))) {
    if (scenario === 'efficiency') for (const c of o.concurrency) plan.push({ scenario, concurrency: c, latency: o.latencyMs });
    else plan.push({ scenario, concurrency: o.overheadConcurrency, latency: 0 });
  }
  const rows: Row[] = [];
  // The children (clients, Amend's services) and the Amend body read the constitution from here.
  for (const name of o.constitutions) {
    process.env.BENCH_CONSTITUTION = name;
    for (const p of plan) {
      for (const system of o.systems) {
        rows.push(await measureBest(system, p.scenario, p.concurrency, p.latency, o, system === 'langchain' ? lcSkip : undefined));
      }
    }
  }
  process.env.BENCH_CONSTITUTION = o.constitutions[0];
  const scale: ScaleResult[] = [];
  for (const scenario of o.scenarios.filter((x): x is ScaleScenario => (SCALE_SCENARIOS as readonly string[]).includes(x))) {
    scale.push(await runScale(scenario, { ...o, log }));
  }
  // A scenario given up on by its time bound may still hold a schema or queue keys: drop them.
  await Promise.allSettled([...pendingCleanups].map((tag) => dropAmendState(tag)));
  const totalS = (Date.now() - startedAt.getTime()) / 1000;
  process.stdout.write(
    `\n${[rows.length ? table(rows) : '', scale.length ? scaleTable(scale) : ''].filter(Boolean).join('\n\n')}\n\nTotal ${totalS.toFixed(0)} s.\n`,
  );
  if (o.results) {
    writeFileSync(o.results, markdown(rows, o, machine(), startedAt, totalS, scale));
    log(`wrote ${o.results}`);
  }
  if (o.json) {
    writeFileSync(resolve(o.json), JSON.stringify({ started_at: startedAt, total_s: totalS, options: o, machine: machine(), rows, scale }, null, 2));
    log(`wrote ${o.json}`);
  }
  return rows.some((r) => r.status === 'error') || scale.some((r) => r.status === 'error') ? 2 : 0;
}

let interrupted = false;
async function interrupt(signal: string) {
  if (interrupted) return;
  interrupted = true;
  log(`${signal}: stopping every child and dropping bench schemas`);
  killAllChildren();
  const drops = Promise.allSettled([...pendingCleanups].map((tag) => dropAmendState(tag)));
  await Promise.race([drops, new Promise((r) => setTimeout(r, 10_000))]);
  process.exit(130);
}

if (require.main === module) {
  process.on('SIGINT', () => void interrupt('SIGINT'));
  process.on('SIGTERM', () => void interrupt('SIGTERM'));
  process.on('exit', killAllChildren);
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.stack : e);
      killAllChildren();
      process.exit(1);
    },
  );
}
