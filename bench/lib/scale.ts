/**
 * The scale scenarios of `npm run bench`: ingest (one run of 100,000 prompts), export (1,000,000
 * pairs streamed), memory (worker RSS with 512 calls in flight) and prefix reuse (bytes each
 * request repeats of the previous one of its sample). Each starts its own simulator, API and
 * worker on a fresh schema and queue prefix and drops them in a `finally`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Run, Sample } from '@amend/contracts';
import { Client } from 'pg';
import { DATABASE_URL, backendPids } from './amend';
import {
  ROOT,
  cpuDelta,
  cpuMs,
  cpuMsByPid,
  fetchWithin,
  machineJiffies,
  pidsByComm,
  sleep,
  spawnChild,
  statusKb,
  stopChild,
  until,
  getAmendFrom,
} from './proc';
import { startSimulator, type SimulatorChild } from './simulator';
import { getJson, startStack } from './stack';
import { constitution, SEED, benchPrompts } from './workload';

export const SCALE_SCENARIOS = ['ingest', 'export', 'memory', 'prefix'] as const;
export type ScaleScenario = (typeof SCALE_SCENARIOS)[number];

export interface Figure {
  metric: string;
  value: number;
  unit: string;
  digits: number;
  /** `< x` or `>= x`; absent when the issue sets no target. */
  target?: { op: '<' | '>='; value: number };
}

export interface ScaleResult {
  scenario: ScaleScenario;
  status: 'ok' | 'error';
  figures: Figure[];
  /** What bounds the figures, one or two sentences. */
  bound?: string;
  note?: string;
  wall_s?: number;
  detail?: Record<string, unknown>;
}

export interface ScaleOptions {
  ingestPrompts: number;
  exportPairs: number;
  exportCli: boolean;
  memoryInFlight: number;
  memoryLatencyMs: number;
  prefixRounds: number;
  prefixPrompts: number;
  timeoutS: number;
  log: (line: string) => void;
}

export function meets(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  return f.target.op === '<' ? f.value < f.target.value : f.value >= f.target.value;
}

const MB = 1024;

/** Samples VmRSS of `pid` every `everyMs` until stopped; `peak()` is the highest seen. */
function rssSampler(pid: number, everyMs = 50) {
  let peak = 0;
  let n = 0;
  const take = () => {
    try {
      const kb = statusKb(pid, 'VmRSS');
      if (Number.isFinite(kb)) {
        peak = Math.max(peak, kb);
        n++;
      }
    } catch {
      /* exited */
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    peak: () => peak,
    samples: () => n,
    stop: () => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

async function withSimulator<T>(latencyMs: number, f: (sim: SimulatorChild) => Promise<T>): Promise<T> {
  const sim = await startSimulator(latencyMs);
  try {
    return await f(sim);
  } finally {
    await sim.stop();
  }
}

/** Bounds a whole scenario: on time-out the error is thrown while the `finally`s still clean up. */
async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: gave up after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// ingest

async function ingest(o: ScaleOptions): Promise<ScaleResult> {
  const n = o.ingestPrompts;
  return withSimulator(0, async (sim) => {
    const stack = await startStack({
      simulatorUrl: sim.url,
      label: 'ingest',
      log: o.log,
      env: { AMEND_MAX_PROMPTS: String(Math.max(100_000, n)), AMEND_KEY_PROMPTS_PER_RUN: String(Math.max(100_000, n)) },
      keyLimits: { prompts_per_run: n },
    });
    try {
      // Streamed as JSON Lines (the run's options, then a prompt a line), as `amend run` sends a
      // large run: a JSON body is limited to a few MB (AMEND_MAX_BODY_BYTES).
      const body =
        [JSON.stringify({ constitution: constitution(), rounds: 1, seed: SEED }), ...benchPrompts(n).map((prompt) => JSON.stringify({ prompt }))].join('\n') +
        '\n';
      const pg = await stack.pg();
      const pgPids0 = cpuMsByPid(await backendPids(stack.tag));
      const apiCpu0 = cpuMs(stack.api.pid);
      const redisPids = pidsByComm('redis-server');
      const redis0 = cpuMsByPid(redisPids);
      const worker0 = cpuMs(stack.worker!.pid);
      const machine0 = machineJiffies();
      const apiRss = rssSampler(stack.api.pid, 100);
      // When the run's transaction commits (its row becomes visible), polled on a second connection:
      // splits the 202 into storing the samples and enqueueing their jobs.
      const watcher = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
      await watcher.connect();
      let committed = NaN;
      let posting = true;
      const t0 = Date.now();
      const watch = (async () => {
        while (posting && Number.isNaN(committed)) {
          const r = await watcher.query(`select 1 from "${stack.tag}".runs limit 1`);
          if (r.rowCount) committed = Date.now() - t0;
          else await sleep(20);
        }
      })();
      let res: Response;
      let accepted: number;
      try {
        res = await fetchWithin(
          `${stack.base}/v1/runs`,
          { method: 'POST', headers: { ...stack.headers, 'content-type': 'application/x-ndjson' }, body },
          o.timeoutS * 1000,
        );
        accepted = Date.now() - t0;
      } finally {
        posting = false;
        await watch.catch(() => undefined);
        await watcher.end().catch(() => undefined);
      }
      const apiCpu = cpuMs(stack.api.pid) - apiCpu0;
      const pgCpu = cpuDelta(pgPids0, cpuMsByPid(await backendPids(stack.tag)));
      const redisCpu = cpuDelta(redis0, cpuMsByPid(redisPids));
      const workerCpu = cpuMs(stack.worker!.pid) - worker0;
      const machine1 = machineJiffies();
      const busy = (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total);
      const apiPeak = apiRss.stop();
      if (res.status !== 202) throw new Error(`POST /v1/runs answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      const run = (await res.json()) as Run;
      o.log(`ingest: 202 after ${accepted} ms (${(body.length / 2 ** 20).toFixed(1)} MB body)`);
      // The first pair: polled in Postgres, timed by its created_at (the same machine's clock).
      const first = await until(
        'the first pair',
        async () => (await pg.query<{ at: Date }>('select created_at as at from pairs where run_id = $1 order by created_at limit 1', [run.id])).rows[0]?.at,
        { timeoutMs: o.timeoutS * 1000, intervalMs: 50, children: [stack.api, stack.worker!] },
      );
      const firstPair = first.getTime() - t0;
      const jobs = Number((await pg.query<{ n: string }>('select count(*) as n from samples where run_id = $1', [run.id])).rows[0].n);
      const loop = apiCpu / accepted;
      const enqueueMs = accepted - committed;
      const bound =
        `The 202 comes after the API has read the ${(body.length / 2 ** 20).toFixed(1)} MB JSON Lines upload as a stream, validated each prompt, stored the run and its ${n.toLocaleString('en')} samples in one transaction ` +
        `(committed ${(committed / 1000).toFixed(2)} s after the POST), then enqueued one BullMQ job per sample (the remaining ${(enqueueMs / 1000).toFixed(2)} s${enqueueMs > accepted / 2 ? ': the larger part, each job a Redis script call carrying its own keys' : ''}). ` +
        `CPU during the POST: the API ${apiCpu.toFixed(0)} ms (${loop.toFixed(2)} cores${loop > 0.7 ? ': its one event loop bounds it' : ', so most of the time it waited on round trips'}), redis-server ${redisCpu.toFixed(0)} ms, and meanwhile the worker, already making pairs from the first jobs, ${workerCpu.toFixed(0)} ms with the API's and worker's Postgres backends ${pgCpu.toFixed(0)} ms: the machine was ${busy.toFixed(0)}% busy, so the enqueue shares the cores with the work it feeds. ` +
        (firstPair < accepted
          ? `The first pair came ${(firstPair / 1000).toFixed(2)} s after the POST, before the 202: the worker takes the first jobs while the API is still enqueueing the rest, and a pair is three calls of the instant simulator.`
          : `The first pair came ${((firstPair - accepted) / 1000).toFixed(2)} s after the 202: the queue hand-off plus three calls of the instant simulator.`);
      return {
        scenario: 'ingest',
        status: 'ok',
        figures: [
          { metric: `time to the 202 (${n.toLocaleString('en')} prompts)`, value: accepted / 1000, unit: 's', digits: 2, target: { op: '<', value: 5 } },
          { metric: 'of which storing the samples (to commit)', value: committed / 1000, unit: 's', digits: 2 },
          { metric: 'time to the first pair', value: firstPair / 1000, unit: 's', digits: 2 },
          { metric: 'API peak RSS during the POST', value: apiPeak / MB, unit: 'MB', digits: 0 },
        ],
        bound,
        note: jobs !== n ? `${jobs} samples stored, expected ${n}` : undefined,
        detail: {
          prompts: n,
          body_bytes: body.length,
          accepted_ms: accepted,
          committed_ms: committed,
          first_pair_ms: firstPair,
          api_cpu_ms: apiCpu,
          pg_cpu_ms: pgCpu,
          redis_cpu_ms: redisCpu,
          worker_cpu_ms: workerCpu,
          machine_busy_pct: busy,
          api_peak_rss_kb: apiPeak,
          run_id: run.id,
        },
      };
    } finally {
      await stack.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// export

/** Reads an NDJSON body to the end, counting lines; checks the first line is a pair. */
async function countLines(res: Response): Promise<{ lines: number; bytes: number; first: string }> {
  const reader = res.body!.getReader();
  let lines = 0;
  let bytes = 0;
  let first = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (first.length < 200_000 && lines === 0) first += Buffer.from(value).toString('utf8');
    let i = value.indexOf(10);
    while (i !== -1) {
      lines++;
      i = value.indexOf(10, i + 1);
    }
  }
  return { lines, bytes, first: first.split('\n')[0] };
}

async function exportScenario(o: ScaleOptions): Promise<ScaleResult> {
  const n = o.exportPairs;
  return withSimulator(0, async (sim) => {
    const stack = await startStack({ simulatorUrl: sim.url, label: 'export', log: o.log, apiMemory: true });
    try {
      // A real pair to copy: a small run through the model pipeline.
      const real = await stack.createRun({ constitution: constitution(), prompts: benchPrompts(2), rounds: 1, seed: SEED });
      await stack.waitCompleted(real.id, 60_000);
      await stack.stopWorker();
      const pg = await stack.pg();
      const tpl = (
        await pg.query<{ id: string; sample_id: string; record: Record<string, unknown>; bytes: number }>(
          'select id, sample_id, record, octet_length(record::text) as bytes from pairs where run_id = $1 order by idx limit 1',
          [real.id],
        )
      ).rows[0];
      if (!tpl) throw new Error('the small run made no pair');
      const runId = randomUUID();
      o.log(`export: inserting ${n.toLocaleString('en')} pairs (${tpl.bytes} B each as text) into ${stack.tag}`);
      const tIns = Date.now();
      await pg.query('set synchronous_commit to off');
      // The clones are consistent by construction: skip the per-row foreign-key triggers (superuser
      // only; without it the fill is just slower).
      await pg.query('set session_replication_role to replica').catch(() => undefined);
      const phase: Record<string, number> = {};
      let tPhase = Date.now();
      const lap = (name: string) => {
        phase[name] = Date.now() - tPhase;
        tPhase = Date.now();
      };
      // Clone the run row, then the samples and pairs with new ids and idx, each in one statement.
      await pg.query(
        `insert into runs select (jsonb_populate_record(null::runs, to_jsonb(r) || jsonb_build_object('id', $2::uuid, 'total', $3::int, 'status', 'completed', 'idempotency_key', null, 'request_sha256', null))).* from runs r where r.id = $1`,
        [real.id, runId, n],
      );
      lap('runs_ms');
      // Every column of samples copied from the template but id, run_id and idx (the column list is
      // read from the catalog, so a migration adding a column does not break the clone).
      const cols = (
        await pg.query<{ c: string }>(
          `select column_name as c from information_schema.columns where table_schema = $1 and table_name = 'samples' order by ordinal_position`,
          [stack.tag],
        )
      ).rows.map((r) => r.c);
      const override: Record<string, string> = { id: `md5('s' || $2::text || g)::uuid`, run_id: '$2::uuid', idx: 'g' };
      await pg.query(
        `insert into samples (${cols.map((c) => `"${c}"`).join(', ')})
           select ${cols.map((c) => override[c] ?? `s."${c}"`).join(', ')}
             from samples s, generate_series(0, $3::int - 1) g where s.id = $1`,
        [tpl.sample_id, runId, n],
      );
      lap('samples_ms');
      const hasIndex = typeof (tpl.record.metadata as Record<string, unknown> | undefined)?.index === 'number';
      await pg.query(
        `insert into pairs (id, run_id, sample_id, idx, record, created_at, flags)
           select md5('p' || $2::text || g)::uuid, $2::uuid, md5('s' || $2::text || g)::uuid, g,
                  ${hasIndex ? `jsonb_set(` : ''}p.record || jsonb_build_object('id', md5('p' || $2::text || g)::uuid, 'run_id', $2::uuid, 'sample_id', md5('s' || $2::text || g)::uuid)${hasIndex ? `, '{metadata,index}', to_jsonb(g))` : ''},
                  p.created_at, p.flags
             from pairs p, generate_series(0, $3::int - 1) g where p.id = $1`,
        [tpl.id, runId, n],
      );
      lap('pairs_ms');
      await pg.query('set session_replication_role to origin').catch(() => undefined);
      await pg.query('analyze runs; analyze samples; analyze pairs');
      lap('analyze_ms');
      const insertMs = Date.now() - tIns;
      o.log(`export: inserted in ${(insertMs / 1000).toFixed(1)} s ${JSON.stringify(phase)}; streaming GET /v1/runs/${runId}/pairs`);

      const memBefore = await stack.apiMemory();
      const apiBefore = statusKb(stack.api.pid, 'VmRSS');
      const apiCpu0 = cpuMs(stack.api.pid);
      const pgExport0 = cpuMsByPid(await backendPids(stack.tag));
      const rss = rssSampler(stack.api.pid, 50);
      // The API's own split of its memory every 250 ms; the one with the highest rss is kept.
      let memPeak: NodeJS.MemoryUsage | undefined;
      let streaming = true;
      const memWatch = (async () => {
        while (streaming) {
          const m = await stack.apiMemory();
          if (m && (!memPeak || m.rss > memPeak.rss)) memPeak = m;
          await sleep(250);
        }
      })();
      const t0 = Date.now();
      let got: Awaited<ReturnType<typeof countLines>>;
      let streamMs: number;
      try {
        const res = await fetchWithin(`${stack.base}/v1/runs/${runId}/pairs`, { headers: stack.headers }, o.timeoutS * 1000);
        if (!res.ok) throw new Error(`GET /v1/runs/${runId}/pairs answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        got = await countLines(res);
        streamMs = Date.now() - t0;
      } finally {
        streaming = false;
        await memWatch;
      }
      const apiPeak = rss.stop();
      const mb = (x: number | undefined) => (x === undefined ? '?' : (x / 2 ** 20).toFixed(0));
      const split =
        memBefore && memPeak
          ? ` The API's process.memoryUsage() before → at its highest sampled rss: V8 heap used ${mb(memBefore.heapUsed)} → ${mb(memPeak.heapUsed)} MB (heap reserved ${mb(memBefore.heapTotal)} → ${mb(memPeak.heapTotal)} MB), external ${mb(memBefore.external)} → ${mb(memPeak.external)} MB, array buffers ${mb(memBefore.arrayBuffers)} → ${mb(memPeak.arrayBuffers)} MB.`
          : '';
      const apiCpu = cpuMs(stack.api.pid) - apiCpu0;
      // The API's Postgres backends (found by application_name): the one running the COPY builds the lines.
      const pgExportCpu = cpuDelta(pgExport0, cpuMsByPid(await backendPids(stack.tag)));
      JSON.parse(got.first); // a whole pair per line, or this throws
      const lps = got.lines / (streamMs / 1000);
      o.log(`export: ${got.lines} lines in ${(streamMs / 1000).toFixed(1)} s, API RSS ${(apiBefore / MB).toFixed(0)} -> peak ${(apiPeak / MB).toFixed(0)} MB`);

      const figures: Figure[] = [
        { metric: `lines/s (${n.toLocaleString('en')} pairs, GET /pairs)`, value: lps, unit: 'lines/s', digits: 0 },
        { metric: 'API RSS growth while streaming (peak - before)', value: (apiPeak - apiBefore) / MB, unit: 'MB', digits: 1, target: { op: '<', value: 50 } },
      ];
      const detail: Record<string, unknown> = {
        pairs: n,
        lines: got.lines,
        bytes: got.bytes,
        record_bytes: tpl.bytes,
        insert_ms: insertMs,
        insert_phases: phase,
        stream_ms: streamMs,
        api_rss_before_kb: apiBefore,
        api_rss_peak_kb: apiPeak,
        api_cpu_ms: apiCpu,
        pg_cpu_ms: pgExportCpu,
        rss_samples: rss.samples(),
        api_memory_before: memBefore,
        api_memory_at_peak: memPeak,
      };

      let cliBound = '';
      if (o.exportCli) {
        const file = join(tmpdir(), `amend-bench-${stack.tag}.jsonl`);
        try {
          const apiBefore2 = statusKb(stack.api.pid, 'VmRSS');
          const apiRss2 = rssSampler(stack.api.pid, 50);
          const t1 = Date.now();
          const cli = spawnChild('cli', [join(ROOT, 'bin/amend.js'), 'pairs', runId, '--api', stack.base, '--out', file], {
            AMEND_API_KEY: stack.headers.authorization?.replace(/^Bearer /, '') ?? '',
          });
          const cliRss = rssSampler(cli.pid, 50);
          let cliHwm = 0;
          const hwm = setInterval(() => {
            try {
              const kb = statusKb(cli.pid, 'VmHWM');
              if (Number.isFinite(kb)) cliHwm = Math.max(cliHwm, kb);
            } catch {
              /* exited */
            }
          }, 50);
          let code: number | null;
          try {
            code = await within('amend pairs --out', o.timeoutS * 1000, cli.exited);
          } finally {
            clearInterval(hwm);
            cliRss.stop();
            await stopChild(cli, 1_000);
          }
          const cliMs = Date.now() - t1;
          const apiPeak2 = apiRss2.stop();
          if (code !== 0) throw new Error(`amend pairs exited ${code}: ${cli.output().slice(-500)}`);
          const size = existsSync(file) ? statSync(file).size : 0;
          const cliPeak = Math.max(cliRss.peak(), cliHwm);
          figures.push(
            { metric: 'CLI `amend pairs --out` lines/s', value: n / (cliMs / 1000), unit: 'lines/s', digits: 0 },
            { metric: 'CLI peak RSS (whole process)', value: cliPeak / MB, unit: 'MB', digits: 0 },
          );
          Object.assign(detail, { cli_ms: cliMs, cli_peak_rss_kb: cliPeak, cli_file_bytes: size, api_rss_growth_during_cli_kb: apiPeak2 - apiBefore2 });
          cliBound = ` The CLI wrote ${(size / 2 ** 30).toFixed(2)} GiB in ${(cliMs / 1000).toFixed(1)} s, starting the process included (ts-node compiles the CLI from source unless dist/ is newer); its peak RSS ${(cliPeak / MB).toFixed(0)} MB is Node + ts-node + modules plus the stream buffers, and the API grew ${((apiPeak2 - apiBefore2) / MB).toFixed(1)} MB meanwhile.`;
        } finally {
          rmSync(file, { force: true });
        }
      }
      const loop = apiCpu / streamMs;
      const pgLoop = pgExportCpu / streamMs;
      return {
        scenario: 'export',
        status: 'ok',
        figures,
        bound:
          `Postgres builds the lines (libs/store/src/pair-lines.ts) and streams them by COPY ... TO STDOUT; the API pipes the bytes to the socket with backpressure. Its Postgres backends used ${pgLoop.toFixed(2)} cores over the ${(streamMs / 1000).toFixed(1)} s (${pgLoop > 0.8 ? 'one backend builds every line, so that one core bounds lines/s: detoasting and decompressing each lz4 record, reading its fields and writing the line as JSON text' : 'below one core: the reader or the socket set the pace'}) and the API process ${loop.toFixed(2)} cores; ` +
          `${(got.bytes / 2 ** 30).toFixed(2)} GiB in all (${tpl.bytes} B per record). No pair is held beyond the stream's buffers, so RSS growth is not retained pairs: it is socket and stream buffers, and where V8 lets the heap grow before a full collection.${split}` +
          ` The ${n.toLocaleString('en')} pairs were cloned in SQL from a real pair in ${(insertMs / 1000).toFixed(0)} s (not part of the figures).` +
          cliBound,
        note: got.lines !== n ? `${got.lines} lines, expected ${n}` : undefined,
        detail,
      };
    } finally {
      await stack.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// memory

async function memory(o: ScaleOptions): Promise<ScaleResult> {
  const c = o.memoryInFlight;
  const n = Math.max(600, Math.ceil(c * 1.2));
  return withSimulator(o.memoryLatencyMs, async (sim) => {
    const stack = await startStack({ simulatorUrl: sim.url, label: 'memory', log: o.log, concurrency: c, env: { WORKER_SHUTDOWN_GRACE_MS: '500' } });
    try {
      const worker = stack.worker!;
      const idle = statusKb(worker.pid, 'VmRSS');
      await stack.createRun({ constitution: constitution(), prompts: benchPrompts(n), rounds: 1, seed: SEED });
      // Wait for the simulator to hold C calls, then sample the worker for a few call latencies.
      await until(`${c} calls in flight`, async () => ((await sim.stats()).in_flight >= c ? true : undefined), {
        timeoutMs: o.timeoutS * 1000,
        intervalMs: 20,
        children: [stack.api, worker],
      });
      let peak = 0;
      let samples = 0;
      let maxInFlight = 0;
      const until_ = Date.now() + Math.max(3 * o.memoryLatencyMs, 4_000);
      while (Date.now() < until_) {
        const s = await sim.stats();
        maxInFlight = Math.max(maxInFlight, s.in_flight);
        if (s.in_flight >= c) {
          peak = Math.max(peak, statusKb(worker.pid, 'VmRSS'));
          samples++;
        }
        await sleep(25);
      }
      const hwm = statusKb(worker.pid, 'VmHWM');
      if (samples === 0) throw new Error(`in flight fell below ${c} before the worker's RSS could be sampled`);
      o.log(`memory: worker VmRSS ${(idle / MB).toFixed(0)} MB idle, ${(peak / MB).toFixed(0)} MB peak with ${c} in flight (${samples} samples)`);
      return {
        scenario: 'memory',
        status: 'ok',
        figures: [
          { metric: `worker RSS with ${c} calls in flight (peak VmRSS)`, value: peak / MB, unit: 'MB', digits: 0, target: { op: '<', value: 300 } },
          { metric: 'worker RSS before the run (idle)', value: idle / MB, unit: 'MB', digits: 0 },
          { metric: `growth for ${c} calls in flight`, value: (peak - idle) / MB, unit: 'MB', digits: 0 },
        ],
        bound:
          `${(idle / MB).toFixed(0)} MB is resident before any work (Node${getAmendFrom() === 'source' ? ', ts-node with the TypeScript compiler' : ''}, Nest, BullMQ, pg, the openai SDK); the ${((peak - idle) / MB).toFixed(0)} MB more is ${c} jobs with their sample, conversation and open request each ` +
          `(sockets, undici buffers, AbortControllers, timers) plus garbage V8 has not collected yet. Sampled every 25 ms while the simulator (latency ${o.memoryLatencyMs} ms) held >= ${c} calls; worker VmHWM ${(hwm / MB).toFixed(0)} MB.`,
        detail: {
          prompts: n,
          concurrency: c,
          latency_ms: o.memoryLatencyMs,
          idle_rss_kb: idle,
          peak_rss_kb: peak,
          hwm_kb: hwm,
          samples,
          max_in_flight_seen: maxInFlight,
        },
      };
    } finally {
      await stack.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// prefix reuse

/** Bytes two buffers share from the start. */
export function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface PrefixShare {
  stage: string;
  round: number;
  bytes: number;
  shared: number;
  share: number;
}

/** For each request after a sample's first: bytes of its serialized messages that repeat the previous request's, from the start. */
export function prefixShares(stages: { stage: string; round: number; seq: number; messages: unknown }[]): PrefixShare[] {
  const sorted = [...stages].sort((a, b) => a.seq - b.seq);
  const out: PrefixShare[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = Buffer.from(JSON.stringify(sorted[i - 1].messages));
    const cur = Buffer.from(JSON.stringify(sorted[i].messages));
    const shared = commonPrefix(prev, cur);
    out.push({ stage: sorted[i].stage, round: sorted[i].round, bytes: cur.length, shared, share: shared / cur.length });
  }
  return out;
}

async function prefix(o: ScaleOptions): Promise<ScaleResult> {
  return withSimulator(0, async (sim) => {
    const stack = await startStack({ simulatorUrl: sim.url, label: 'prefix', log: o.log });
    try {
      const run = await stack.createRun({ constitution: constitution(), prompts: benchPrompts(o.prefixPrompts), rounds: o.prefixRounds, seed: SEED });
      await stack.waitCompleted(run.id, 120_000);
      const list = await getJson<{ samples: { id: string }[] }>(stack, `/v1/runs/${run.id}/samples?limit=1000`);
      const shares: PrefixShare[] = [];
      for (const s of list.samples) shares.push(...prefixShares((await getJson<Sample>(stack, `/v1/samples/${s.id}`)).stages));
      if (shares.length === 0) throw new Error('no stage records');
      const mean = shares.reduce((a, s) => a + s.share, 0) / shares.length;
      const min = shares.reduce((a, s) => (s.share < a.share ? s : a));
      const byteWeighted = shares.reduce((a, s) => a + s.shared, 0) / shares.reduce((a, s) => a + s.bytes, 0);
      const byStage = (stage: string) => {
        const xs = shares.filter((s) => s.stage === stage);
        return xs.length ? xs.reduce((a, s) => a + s.share, 0) / xs.length : NaN;
      };
      const meanBytes = shares.reduce((a, s) => a + s.bytes, 0) / shares.length;
      return {
        scenario: 'prefix',
        status: 'ok',
        figures: [
          {
            metric: `prefix reuse, mean over ${shares.length} requests (${o.prefixPrompts} samples, rounds ${o.prefixRounds})`,
            value: mean,
            unit: 'share',
            digits: 3,
          },
          { metric: 'prefix reuse, min', value: min.share, unit: 'share', digits: 3 },
          { metric: 'prefix reuse, byte-weighted', value: byteWeighted, unit: 'share', digits: 3 },
          { metric: 'critique requests, mean', value: byStage('critique'), unit: 'share', digits: 3 },
          { metric: 'revision requests, mean', value: byStage('revision'), unit: 'share', digits: 3 },
        ],
        bound:
          `Each request continues its sample's conversation: it resends the previous request's messages and adds the previous answer and one instruction, so what is new per request is those two messages; requests average ${(meanBytes / 1024).toFixed(1)} KB and grow with every round. ` +
          `The minimum (${min.stage} of round ${min.round}, ${min.shared} of ${min.bytes} bytes) is the request that adds the most relative to what it repeats. Measured as the longest common prefix of JSON.stringify(messages) of successive stage records (GET /v1/samples/{id}); a serving stack with prefix caching (vLLM, SGLang, OpenAI) can skip that share of the prompt.`,
        detail: { run_id: run.id, requests: shares.length, mean, min, byte_weighted: byteWeighted, mean_request_bytes: meanBytes },
      };
    } finally {
      await stack.close();
    }
  });
}

const RUNNERS: Record<ScaleScenario, (o: ScaleOptions) => Promise<ScaleResult>> = { ingest, export: exportScenario, memory, prefix };

export async function runScale(scenario: ScaleScenario, o: ScaleOptions): Promise<ScaleResult> {
  const t0 = Date.now();
  o.log(`${scenario}: starting`);
  try {
    const r = await within(scenario, o.timeoutS * 1000 + 180_000, RUNNERS[scenario](o));
    r.wall_s = (Date.now() - t0) / 1000;
    o.log(`${scenario}: done in ${r.wall_s.toFixed(0)} s`);
    return r;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n');
    o.log(`${scenario}: FAILED: ${msg.join('\n')}`);
    const why = [...msg.slice(1)].reverse().find((l) => /error/i.test(l));
    return { scenario, status: 'error', figures: [], note: `${msg[0]}${why ? ` ${why.trim()}` : ''}`.slice(0, 300), wall_s: (Date.now() - t0) / 1000 };
  }
}
