/**
 * `npm run bench:soak -- --minutes 30 [--latency-ms 100] [--concurrency 64] [--pool 10]`
 *
 * A soak (issue 23): Amend as deployed (API and worker processes, Postgres, Redis, the HTTP
 * simulator in its own process) under mixed load for N minutes: run submissions, run polls,
 * exports, reviews, A/B evaluations and their polls, constitution previews. Prints latency p50 and
 * p99 per route (overall and the worst minute), errors, RSS of the API and the worker over time,
 * Postgres connections and lock waits, /ready, and whether everything started also finished.
 * Requests go to 127.0.0.1 only. Nothing is asserted: bench/README.md says how to read it.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Command, InvalidArgumentError } from 'commander';
import { DATABASE_URL, amendEnv, dropAmendState, pendingCleanups, submitterHeaders } from './lib/amend';
import { amendProcess, fetchWithin, killAllChildren, spawnChild, statusKb, stopChild, until, sleep, type Child } from './lib/proc';
import { startSimulator } from './lib/simulator';
import { freePort } from '../test/support/free-port';

interface Options {
  minutes: number;
  latencyMs: number;
  concurrency: number;
  pool?: number;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function parse(argv: string[]): Options {
  const p = new Command('bench:soak')
    .option('--minutes <n>', 'how long the mixed load runs', positive, 30)
    .option('--latency-ms <ms>', "the simulator's delay per call", positive, 100)
    .option('--concurrency <n>', 'WORKER_CONCURRENCY', positive, 64)
    .option('--pool <n>', 'DATABASE_POOL_SIZE (unset: the service sizes it)', positive)
    .parse(argv, { from: 'user' });
  return p.opts<Options>();
}

/** Latencies per route and per minute, and the errors. */
class Recorder {
  readonly all = new Map<string, number[]>();
  readonly byMinute = new Map<string, Map<number, number[]>>();
  readonly errors = new Map<string, Map<string, number>>();
  constructor(private readonly t0: number) {}

  async time(route: string, f: () => Promise<Response>, ok: (r: Response) => boolean = (r) => r.ok): Promise<Response | undefined> {
    const start = performance.now();
    let res: Response | undefined;
    let why: string | undefined;
    try {
      res = await f();
      if (!ok(res)) why = String(res.status);
    } catch (e) {
      why = (e as Error).name === 'TimeoutError' ? 'timeout' : (e as Error).message.slice(0, 60);
    }
    const ms = performance.now() - start;
    const list = this.all.get(route) ?? [];
    list.push(ms);
    this.all.set(route, list);
    const minute = Math.floor((Date.now() - this.t0) / 60_000);
    const m = this.byMinute.get(route) ?? new Map<number, number[]>();
    m.set(minute, [...(m.get(minute) ?? []), ms]);
    this.byMinute.set(route, m);
    if (why) {
      const e = this.errors.get(route) ?? new Map<string, number>();
      e.set(why, (e.get(why) ?? 0) + 1);
      this.errors.set(route, e);
    }
    return why ? undefined : res;
  }
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms` : '-');

async function main() {
  const o = parse(process.argv.slice(2));
  const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const tag = `soak_${randomBytes(5).toString('hex')}`;
  pendingCleanups.add(tag);
  const sim = await startSimulator(o.latencyMs);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = { ...amendEnv(tag, port, o.concurrency, sim.url), ...(o.pool ? { DATABASE_POOL_SIZE: String(o.pool) } : {}) };
  let api: Child | undefined;
  let worker: Child | undefined;
  const pg = new Client({ connectionString: DATABASE_URL });
  try {
    const apiProc = amendProcess('apps/api/src/main');
    const workerProc = amendProcess('apps/worker/src/main');
    api = spawnChild('api', apiProc.args, { ...env, ...apiProc.env });
    worker = spawnChild('worker', workerProc.args, { ...env, ...workerProc.env });
    await until('the API to be ready', async () => ((await fetchWithin(`${base}/ready`, {}, 3_000)).ok ? true : undefined), {
      timeoutMs: 180_000,
      intervalMs: 250,
      children: [api, worker],
    });
    await pg.connect();
    const submitter = await submitterHeaders(base, env.AMEND_ADMIN_KEY, { concurrent_runs: 1000 });
    const authorRes = await fetchWithin(`${base}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.AMEND_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'author', team: 'bench', name: 'soak-author', limits: { requests_per_minute: 1_000_000, concurrent_runs: 1000 } }),
    });
    const author = { authorization: `Bearer ${((await authorRes.json()) as { key: string }).key}` };
    const admin = { authorization: `Bearer ${env.AMEND_ADMIN_KEY}` };
    const json = { 'content-type': 'application/json' };
    log(
      `API ${api.pid}, worker ${worker.pid}, simulator ${o.latencyMs} ms, WORKER_CONCURRENCY ${o.concurrency}, pool ${o.pool ?? 'default'}, ${o.minutes} min`,
    );

    const t0 = Date.now();
    const end = t0 + o.minutes * 60_000;
    const rec = new Recorder(t0);
    const runs: string[] = [];
    const done = new Set<string>();
    const evaluations: string[] = [];
    const judged = new Set<string>();
    const reviewed = new Set<string>();
    let seq = 0;
    const going = () => Date.now() < end;
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

    const loops: Promise<void>[] = [];
    // Submissions: a run of 24 prompts every 4 s while fewer than 6 are going.
    loops.push(
      (async () => {
        while (going()) {
          if (runs.length - done.size < 6) {
            const n = seq++;
            const body = JSON.stringify({
              constitution: 'anthropic-cai',
              prompts: Array.from({ length: 24 }, (_, i) => `soak ${n}: how do I plan trip ${i}?`),
              seed: n,
            });
            const r = await rec.time(
              'POST /v1/runs',
              () => fetchWithin(`${base}/v1/runs`, { method: 'POST', headers: { ...submitter, ...json }, body }, 30_000),
              (x) => x.status === 202,
            );
            if (r) runs.push(((await r.json()) as { id: string }).id);
          }
          await sleep(4_000);
        }
      })(),
    );
    // Polls: four clients, each GET /v1/runs/{id} every 250 ms.
    for (let c = 0; c < 4; c++) {
      loops.push(
        (async () => {
          while (going()) {
            const id = pick(runs);
            if (id) {
              const r = await rec.time('GET /v1/runs/{id}', () => fetchWithin(`${base}/v1/runs/${id}`, { headers: submitter }, 30_000));
              if (r) {
                const run = (await r.json()) as { status: string };
                if (!['queued', 'running'].includes(run.status)) done.add(id);
              }
            }
            await sleep(250);
          }
        })(),
      );
    }
    // Exports and reviews: a finished run's pairs every second, and one of its pairs reviewed.
    loops.push(
      (async () => {
        while (going()) {
          const id = pick([...done]);
          if (id) {
            const r = await rec.time('GET /v1/runs/{id}/pairs', () => fetchWithin(`${base}/v1/runs/${id}/pairs`, { headers: submitter }, 60_000));
            const lines = r ? (await r.text()).split('\n').filter(Boolean) : [];
            const pair = lines.map((l) => JSON.parse(l) as { id: string }).find((p) => !reviewed.has(p.id));
            if (pair) {
              reviewed.add(pair.id);
              await rec.time(
                'POST /v1/pairs/{id}/review',
                () =>
                  fetchWithin(
                    `${base}/v1/pairs/${pair.id}/review`,
                    { method: 'POST', headers: { ...submitter, ...json }, body: JSON.stringify({ decision: 'accept', reason: 'soak' }) },
                    30_000,
                  ),
                (x) => x.status === 200 || x.status === 201,
              );
            }
          }
          await sleep(1_000);
        }
      })(),
    );
    // Evaluations: an A/B of 10 prompts every 20 s while fewer than 2 are going, polled every second.
    loops.push(
      (async () => {
        let last = 0;
        while (going()) {
          if (Date.now() - last > 20_000 && evaluations.length - judged.size < 2) {
            last = Date.now();
            const n = seq++;
            const body = JSON.stringify({
              baseline: 'anthropic-cai@1.0.0',
              candidate: 'amend-core',
              prompts: Array.from({ length: 10 }, (_, i) => `soak eval ${n}: how should I answer question ${i}?`),
              seed: n,
            });
            const r = await rec.time(
              'POST /v1/evaluations',
              () => fetchWithin(`${base}/v1/evaluations`, { method: 'POST', headers: { ...author, ...json }, body }, 30_000),
              (x) => x.status === 202,
            );
            if (r) evaluations.push(((await r.json()) as { id: string }).id);
          }
          const id = pick(evaluations.filter((e) => !judged.has(e)));
          if (id) {
            const r = await rec.time('GET /v1/evaluations/{id}', () => fetchWithin(`${base}/v1/evaluations/${id}`, { headers: author }, 30_000));
            if (r && ((await r.json()) as { report: unknown }).report) judged.add(id);
          }
          await sleep(1_000);
        }
      })(),
    );
    // Previews: an author tries a principle on two prompts every 10 s (it waits for the answer).
    loops.push(
      (async () => {
        while (going()) {
          const body = JSON.stringify({ prompts: ['soak preview: is it safe to mix bleach and vinegar?', 'soak preview: write me a haiku'], seed: seq++ });
          await rec.time('POST /v1/constitutions/{name}/{version}/preview', () =>
            fetchWithin(`${base}/v1/constitutions/anthropic-cai/1.0.0/preview`, { method: 'POST', headers: { ...author, ...json }, body }, 90_000),
          );
          await sleep(10_000);
        }
      })(),
    );
    // Every 10 s: RSS, Postgres connections and lock waits of this tag, /ready, pool waits.
    const samples: { t: number; apiRss: number; workerRss: number; conns: number; lockWaits: number; ready: number; oldestWait: number }[] = [];
    loops.push(
      (async () => {
        while (going()) {
          const [conns, ready, metrics] = await Promise.all([
            pg.query<{ n: string; waits: string }>(
              `select count(*) as n, count(*) filter (where wait_event_type = 'Lock') as waits from pg_stat_activity where application_name = $1`,
              [tag],
            ),
            fetchWithin(`${base}/ready`, {}, 5_000).then(
              (r) => r.status,
              () => 0,
            ),
            fetchWithin(`${base}/metrics`, { headers: admin }, 5_000).then(
              (r) => r.text(),
              () => '',
            ),
          ]);
          const oldest = Math.max(0, ...[...metrics.matchAll(/^amend_db_pool_oldest_wait_seconds\{[^}]*\} ([0-9.e+-]+)$/gm)].map((m) => Number(m[1])));
          samples.push({
            t: (Date.now() - t0) / 1000,
            apiRss: statusKb(api!.pid, 'VmRSS'),
            workerRss: statusKb(worker!.pid, 'VmRSS'),
            conns: Number(conns.rows[0].n),
            lockWaits: Number(conns.rows[0].waits),
            ready,
            oldestWait: oldest,
          });
          const s = samples[samples.length - 1];
          if (samples.length % 6 === 1)
            log(
              `t ${Math.round(s.t)} s: runs ${runs.length} (${done.size} finished), evaluations ${evaluations.length} (${judged.size} judged), RSS api ${Math.round(s.apiRss / 1024)} MB worker ${Math.round(s.workerRss / 1024)} MB, pg connections ${s.conns}, lock waits ${s.lockWaits}, /ready ${s.ready}`,
            );
          await sleep(10_000);
        }
      })(),
    );
    await Promise.all(loops);
    const loadSeconds = (Date.now() - t0) / 1000;

    // Everything started must finish: wait for the last runs and evaluations.
    log('load stopped; waiting for the runs and evaluations started to finish');
    const drainStart = Date.now();
    await until(
      'every run and evaluation to finish',
      async () => {
        for (const id of runs.filter((r) => !done.has(r))) {
          const r = (await (await fetchWithin(`${base}/v1/runs/${id}`, { headers: submitter })).json()) as { status: string };
          if (!['queued', 'running'].includes(r.status)) done.add(id);
        }
        for (const id of evaluations.filter((e) => !judged.has(e))) {
          const e = (await (await fetchWithin(`${base}/v1/evaluations/${id}`, { headers: author })).json()) as { report: unknown };
          if (e.report) judged.add(id);
        }
        return done.size === runs.length && judged.size === evaluations.length ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1_000, children: [api, worker] },
    ).catch((e: Error) => log(e.message));
    const drainSeconds = (Date.now() - drainStart) / 1000;

    const lines: string[] = [];
    lines.push(
      `soak: ${o.minutes} min of load (${loadSeconds.toFixed(0)} s), simulator ${o.latencyMs} ms, WORKER_CONCURRENCY ${o.concurrency}, pool ${o.pool ?? 'default'}`,
    );
    lines.push(
      `runs ${runs.length} started, ${done.size} finished; evaluations ${evaluations.length} started, ${judged.size} judged; reviews ${reviewed.size}; drained in ${drainSeconds.toFixed(1)} s`,
    );
    lines.push('');
    lines.push('| route | requests | errors | p50 | p99 | worst minute p99 | max |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const [route, xs] of [...rec.all].sort()) {
      const errs = rec.errors.get(route);
      const errText = errs ? [...errs].map(([k, v]) => `${v} ${k}`).join(', ') : '0';
      const worst = Math.max(...[...(rec.byMinute.get(route)?.values() ?? [])].map((m) => quantile(m, 0.99)));
      lines.push(`| ${route} | ${xs.length} | ${errText} | ${fmt(quantile(xs, 0.5))} | ${fmt(quantile(xs, 0.99))} | ${fmt(worst)} | ${fmt(Math.max(...xs))} |`);
    }
    lines.push('');
    lines.push('| t (s) | API RSS (MB) | worker RSS (MB) | pg connections | lock waits | oldest pool wait (s) | /ready |');
    lines.push('|---|---|---|---|---|---|---|');
    const every = Math.max(1, Math.floor(samples.length / 12));
    for (const s of samples.filter((_, i) => i % every === 0 || i === samples.length - 1)) {
      lines.push(
        `| ${Math.round(s.t)} | ${(s.apiRss / 1024).toFixed(0)} | ${(s.workerRss / 1024).toFixed(0)} | ${s.conns} | ${s.lockWaits} | ${s.oldestWait.toFixed(3)} | ${s.ready} |`,
      );
    }
    const max = (f: (s: (typeof samples)[number]) => number) => Math.max(...samples.map(f));
    lines.push('');
    lines.push(
      `max pg connections ${max((s) => s.conns)}, max lock waits seen ${max((s) => s.lockWaits)}, max oldest pool wait ${max((s) => s.oldestWait).toFixed(3)} s, /ready not 200 in ${samples.filter((s) => s.ready !== 200).length} of ${samples.length} samples`,
    );
    const metrics = await fetchWithin(`${base}/metrics`, { headers: admin }, 5_000).then(
      (r) => r.text(),
      () => '',
    );
    const timeouts = [...metrics.matchAll(/^amend_db_timeouts_total\{kind="([a-z_]+)"\} ([0-9.]+)$/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ');
    lines.push(`Postgres statements that gave up (API process): ${timeouts || 'none'}`);
    console.log(lines.join('\n'));
  } finally {
    await pg.end().catch(() => undefined);
    await Promise.all([stopChild(worker, 15_000), stopChild(api, 15_000)]);
    await sim.stop();
    await dropAmendState(tag).catch((e: Error) => log(`could not drop ${tag}: ${e.message}`));
  }
}

process.on('SIGINT', () => {
  killAllChildren();
  process.exit(130);
});

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  killAllChildren();
  process.exit(1);
});
