import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { Client } from 'pg';
import type { Run } from '@amend/contracts';
import { SAMPLES_QUEUE } from '../../libs/runtime/src/tokens';
import { redisConnection } from '../../libs/runtime/src/redis-connection';
import {
  ROOT,
  amendProcess,
  cpuDelta,
  cpuMs,
  cpuMsByPid,
  cpuTimes,
  withChildren,
  fetchWithin,
  pidsByComm,
  postgresBackgroundPids,
  spawnChild,
  statusKb,
  stopChild,
  until,
  type Child,
} from './proc';
import { childProfileFile } from './profile-files';
import { constitution, ROUNDS, SEED, benchPrompts } from './workload';
import { freePort } from '../../test/support/free-port';

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface AmendOptions {
  simulatorUrl: string;
  n: number;
  concurrency: number;
  timeoutMs: number;
  /** When set, the API and the worker write a .cpuprofile of the measured window here. */
  cpuProfDir?: string;
  label: string;
  /** WORKER_PROCESSES of the worker: its primary forks that many workers on the one queue. */
  workerProcesses?: number;
  /** `apart`: the API and the worker in two processes, LOG_LEVEL=warn; `prod`: what `npm run start:prod` runs, one process at the default log level. */
  layout?: 'apart' | 'prod';
  log: (line: string) => void;
  /** Called right before POST /v1/runs, for the caller's own snapshots. */
  onStart?: () => void;
}

export interface AmendMeasurement {
  pairs: number;
  failed: number;
  /** From just before POST to the run's finished_at (see bench/README.md, pairs/s: no 250 ms polling bias). */
  elapsed_ms: number;
  /** From just before POST to the poll that saw `completed`. */
  observed_ms: number;
  api_cpu_ms: number;
  worker_cpu_ms: number;
  /** The kernel's share of worker_cpu_ms (socket writes and reads, mostly). */
  worker_sys_ms: number;
  /** The largest peak VmHWM among the worker processes (each is a full worker). */
  worker_peak_rss_kb: number;
  worker_processes: number;
  /** The busiest worker process's CPU over the window: one event loop tops out near elapsed_ms. */
  worker_max_process_cpu_ms: number;
  /** Worker VmRSS right before the POST: runtime, ts-node, modules, idle pools. */
  worker_idle_rss_kb: number;
  api_peak_rss_kb: number;
  /** CPU of the Postgres backends serving this API and worker (found by application_name). */
  pg_cpu_ms: number;
  pg_backends: number;
  /** CPU of Postgres's background processes (checkpointer, WAL writer, autovacuum...), shared with other users of the server. */
  pg_background_cpu_ms: number;
  /** CPU of the redis-server process (shared with anything else using it). */
  redis_cpu_ms: number;
  /** WAL Postgres wrote over the window (pg_current_wal_lsn difference; shared with other writers to the server). */
  pg_wal_bytes: number;
  /** Growth of the schema's tables, their TOAST and indexes over the window (pg_total_relation_size). */
  pg_stored_bytes: number;
  usage_calls: number;
  profiles: string[];
}

/** Tags of schemas and queue prefixes created and not yet dropped, for cleanup on an interrupt. */
export const pendingCleanups = new Set<string>();

/**
 * Amend as deployed: the API and the worker each in its own process, on a fresh Postgres schema
 * and queue prefix; one run of N prompts submitted over REST and polled until completed.
 */
export async function measureAmend(o: AmendOptions): Promise<AmendMeasurement> {
  const tag = `bench_${randomBytes(5).toString('hex')}`;
  pendingCleanups.add(tag);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const processes = o.workerProcesses ?? 1;
  // C in flight in all: with several worker processes each takes its share (WORKER_CONCURRENCY is per process).
  const perProcess = Math.ceil(o.concurrency / processes);
  const env: Record<string, string> = { ...amendEnv(tag, port, perProcess, o.simulatorUrl), ...(processes > 1 ? { WORKER_PROCESSES: String(processes) } : {}) };
  const prod = o.layout === 'prod';
  if (prod) delete env.LOG_LEVEL;
  const profiling = o.cpuProfDir !== undefined;
  const preload = profiling ? ['-r', join(ROOT, 'bench/lib/cpu-profile-preload.ts')] : [];
  const stdio = profiling ? (['ignore', 'pipe', 'pipe', 'ipc'] as const) : undefined;
  let api: Child | undefined;
  let worker: Child | undefined;
  const queue = new Queue(SAMPLES_QUEUE, { prefix: tag, connection: benchRedisConnection() });
  queue.on('error', () => undefined);
  try {
    if (prod) {
      // apps/all/main compiled, as bin/start-prod.js requires it: the API and the worker share one process (and one event loop).
      const all = amendProcess('apps/all/main', preload);
      api = worker = spawnChild('all', all.args, { ...env, ...all.env }, stdio && { stdio: [...stdio] });
    } else {
      // Both boot at once, as in a deployment; migrations serialise on an advisory lock.
      const apiProc = amendProcess('apps/api/src/main', preload);
      const workerProc = amendProcess('apps/worker/src/main', preload);
      api = spawnChild('api', apiProc.args, { ...env, ...apiProc.env }, stdio && { stdio: [...stdio] });
      worker = spawnChild('worker', workerProc.args, { ...env, ...workerProc.env }, stdio && { stdio: [...stdio] });
    }
    const children = prod ? [api] : [api, worker];
    await until('the API to be ready (GET /ready)', async () => ((await fetchWithin(`${base}/ready`, {}, 3_000)).ok ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 200,
      children,
    });
    await until('the worker to take jobs', async () => ((await queue.getWorkersCount()) >= processes ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 200,
      children,
    });
    o.log(`${o.label}: API pid ${api.pid} and worker pid ${worker.pid} ready`);

    const headers = await submitterHeaders(base, env.AMEND_ADMIN_KEY);
    const body = JSON.stringify({ constitution: constitution(), prompts: benchPrompts(o.n), rounds: ROUNDS, seed: SEED });
    if (profiling) for (const c of children) c.proc.send({ cpuProf: 'start' });
    // With WORKER_PROCESSES > 1 the work is done by the primary's children: count them all.
    const workerPids = withChildren(worker.pid);
    const workerIdleRss = Math.max(...workerPids.map((pid) => statusKb(pid, 'VmRSS')));
    o.onStart?.();
    const pg0 = cpuMsByPid(await backendPids(tag));
    const pgBg0 = cpuMsByPid(postgresBackgroundPids());
    const redisPids = pidsByComm('redis-server');
    const redis0 = cpuMsByPid(redisPids);
    const disk0 = await diskSnapshot(tag);
    const apiCpu0 = cpuMs(api.pid);
    const workerCpu0 = cpuMsByPid(workerPids);
    const workerSys0 = sum(workerPids.map((pid) => cpuTimes(pid).system));
    const t0 = Date.now();
    const runId = (await postRun(base, headers, body, 60_000)).id;

    let observedAt = 0;
    const run = await until(
      `run ${runId} to complete`,
      async () => {
        const r = await pollCompleted(base, headers, runId);
        if (r) observedAt = Date.now();
        return r;
      },
      { timeoutMs: o.timeoutMs, intervalMs: 250, children },
    );
    // One process: its CPU is counted once, as the worker's.
    const apiCpu = prod ? 0 : cpuMs(api.pid) - apiCpu0;
    const workerCpu1 = cpuMsByPid(workerPids);
    const workerCpu = cpuDelta(workerCpu0, workerCpu1);
    const workerMaxCpu = Math.max(...workerPids.map((pid) => (workerCpu1.get(pid) ?? 0) - (workerCpu0.get(pid) ?? 0)));
    const workerSys = sum(workerPids.map((pid) => cpuTimes(pid).system)) - workerSys0;
    const redisCpu = cpuDelta(redis0, cpuMsByPid(redisPids));
    const pg1 = cpuMsByPid(await backendPids(tag));
    const pgCpu = cpuDelta(pg0, pg1);
    const pgBgCpu = cpuDelta(pgBg0, cpuMsByPid(postgresBackgroundPids()));
    const workerRss = Math.max(...workerPids.map((pid) => statusKb(pid, 'VmHWM')));
    const apiRss = statusKb(api.pid, 'VmHWM');
    const disk1 = await diskSnapshot(tag, disk0.lsn);

    const profiles: string[] = [];
    if (profiling) {
      for (const c of children) {
        const file = join(o.cpuProfDir!, `${o.label.replace(/[^a-z0-9]+/gi, '-')}-${c.name}.cpuprofile`);
        c.proc.send({ cpuProf: 'stop', file });
        // With WORKER_PROCESSES > 1 the worker's primary only forks: its children's profiles are the work.
        const forked = c === worker && processes > 1 ? Array.from({ length: processes }, (_, i) => childProfileFile(file, i + 1)) : [];
        for (const f of [file, ...forked]) {
          await until(`${c.name}'s CPU profile ${f}`, async () => (existsSync(f) ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
        }
        profiles.push(...(forked.length > 0 ? forked : [file]));
      }
    }

    const observed = observedAt - t0;
    const finished = run.finished_at ? Date.parse(run.finished_at) - t0 : NaN;
    // finished_at is the service's own clock (same machine); fall back to the poll if it looks off.
    const elapsed = Number.isFinite(finished) && finished > 0 && finished <= observed + 50 ? finished : observed;
    return {
      pairs: run.counts.completed,
      failed: run.counts.failed,
      elapsed_ms: elapsed,
      observed_ms: observed,
      api_cpu_ms: apiCpu,
      worker_cpu_ms: workerCpu,
      worker_sys_ms: workerSys,
      worker_peak_rss_kb: workerRss,
      worker_processes: workerPids.length > 1 ? workerPids.length - 1 : 1,
      worker_max_process_cpu_ms: workerMaxCpu,
      worker_idle_rss_kb: workerIdleRss,
      api_peak_rss_kb: apiRss,
      pg_cpu_ms: pgCpu,
      pg_backends: pg1.size,
      pg_background_cpu_ms: pgBgCpu,
      redis_cpu_ms: redisCpu,
      pg_wal_bytes: disk1.walBytes,
      pg_stored_bytes: disk1.storedBytes - disk0.storedBytes,
      usage_calls: run.usage.calls,
      profiles,
    };
  } finally {
    await Promise.all([stopChild(worker, 10_000), api === worker ? undefined : stopChild(api, 10_000)]);
    await queue.close().catch(() => undefined);
    // A failed drop is logged, never allowed to hide the error that ended the measurement.
    await dropAmendState(tag).catch((e: Error) => o.log(`${o.label}: could not drop schema and queue ${tag}: ${e.message}`));
  }
}

/**
 * Authorization for POST /v1/runs: a submitter key made with the admin key, without a rate limit
 * that the 250 ms polling could hit. An API without keys (404 on /v1/keys) needs no header.
 */
export async function submitterHeaders(base: string, adminKey: string, limits: Record<string, number> = {}): Promise<Record<string, string>> {
  const res = await fetchWithin(`${base}/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'submitter', team: 'bench', name: 'bench', limits: { requests_per_minute: 1_000_000, ...limits } }),
  });
  if (res.status === 404) return {};
  if (res.status !== 201) throw new Error(`POST /v1/keys answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const { key } = (await res.json()) as { key: string };
  return { authorization: `Bearer ${key}` };
}

export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * What Postgres has written: the WAL position (and, given an earlier one, the bytes since) and the
 * size on disk of the schema's tables with their TOAST and indexes.
 */
async function diskSnapshot(tag: string, sinceLsn?: string): Promise<{ lsn: string; walBytes: number; storedBytes: number }> {
  const pg = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await pg.connect();
    const r = await pg.query<{ lsn: string; wal: string | null; stored: string | null }>(
      `select pg_current_wal_lsn()::text as lsn,
              case when $2::text is null then null else pg_wal_lsn_diff(pg_current_wal_lsn(), $2::pg_lsn)::text end as wal,
              (select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = $1 and c.relkind = 'r')::text as stored`,
      [tag, sinceLsn ?? null],
    );
    return { lsn: r.rows[0].lsn, walBytes: Number(r.rows[0].wal ?? 0), storedBytes: Number(r.rows[0].stored ?? 0) };
  } finally {
    await pg.end().catch(() => undefined);
  }
}

/** Pids of the Postgres backends whose application_name is `tag`. */
export async function backendPids(tag: string): Promise<number[]> {
  const pg = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await pg.connect();
    const r = await pg.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [tag]);
    return r.rows.map((x) => x.pid);
  } finally {
    await pg.end().catch(() => undefined);
  }
}

/**
 * The environment of one Amend under test: its own port, Postgres schema and queue prefix (the
 * tag), the simulator as its `default` model, and an admin key the bench makes submitter keys with.
 */
export function amendEnv(tag: string, port: number, concurrency: number, simulatorUrl: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    // application_name lets the harness find this run's Postgres backends and count their CPU.
    DATABASE_URL: withApplicationName(DATABASE_URL, tag),
    DATABASE_SCHEMA: tag,
    REDIS_URL,
    QUEUE_PREFIX: tag,
    WORKER_CONCURRENCY: String(concurrency),
    LOG_LEVEL: 'warn',
    CONSTITUTIONS_DIR: join(ROOT, 'constitutions'),
    AMEND_MODELS: JSON.stringify({ default: { base_url: simulatorUrl, model: 'sim' } }),
    AMEND_ADMIN_KEY: `amd_${randomBytes(32).toString('base64url')}`,
  };
}

/** POST /v1/runs; anything but a 202 is an error naming the status and the body. */
export async function postRun(base: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Run> {
  // A JSON body is limited to a few MB; larger runs go as JSON Lines, as `amend run` sends them.
  let upload = { contentType: 'application/json', text: body };
  if (Buffer.byteLength(body) > 2 * 1024 * 1024) {
    const { prompts, ...options } = JSON.parse(body) as { prompts: unknown[] };
    upload = { contentType: 'application/x-ndjson', text: [JSON.stringify(options), ...prompts.map((p) => JSON.stringify(p))].join('\n') + '\n' };
  }
  const res = await fetchWithin(
    `${base}/v1/runs`,
    { method: 'POST', headers: { ...headers, 'content-type': upload.contentType }, body: upload.text },
    timeoutMs,
  );
  if (res.status !== 202) throw new Error(`POST /v1/runs answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return (await res.json()) as Run;
}

/** One poll of a run: the run once completed, undefined while it goes on; failed or cancelled ends the wait. */
export async function pollCompleted(base: string, headers: Record<string, string>, runId: string): Promise<Run | undefined> {
  const res = await fetchWithin(`${base}/v1/runs/${runId}`, { headers }, 10_000);
  if (!res.ok) throw new Error(`GET /v1/runs/${runId} answered ${res.status}`);
  const r = (await res.json()) as Run;
  if (r.status === 'failed' || r.status === 'cancelled')
    throw Object.assign(new Error(`run ended ${r.status}: ${JSON.stringify(r.failures)}`), { fatal: true });
  return r.status === 'completed' ? r : undefined;
}

/** The bench's BullMQ connection, built as the services build theirs. */
export function benchRedisConnection() {
  return redisConnection(REDIS_URL);
}

/** Drops the bench schema and every key of its queue prefix; one failing does not skip the other. */
export async function dropAmendState(tag: string): Promise<void> {
  const errors: string[] = [];
  const pg = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await pg.connect();
    await pg.query(`drop schema if exists "${tag}" cascade`);
  } catch (e) {
    errors.push(`Postgres: ${(e as Error).message}`);
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${tag}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0' && ++rounds < 100_000);
  } catch (e) {
    errors.push(`Redis: ${(e as Error).message}`);
  } finally {
    redis.disconnect();
  }
  if (errors.length) throw new Error(errors.join('; '));
  pendingCleanups.delete(tag);
}
