import { Client } from 'pg';
import { isRunFinished } from '@amend/contracts';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { closeEvaluation } from '@amend/runtime';
import { Store } from '@amend/store';
import { json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from '../support/stack';
import { createRun, printFigures, prompts } from './support/runs';

/*
 * Issue 23: an A/B evaluation hung the process when the last samples of both of its runs finished
 * together: every worker job and every GET asked to close the evaluation, each holding a pool
 * connection while it queued on the evaluation's row lock, and the holder then waited for a pool
 * connection that never came. Here six evaluations and four plain runs start together on a pool
 * of 10 connections (the smallest the service sizes for itself) with 64 calls in flight, while
 * GETs, exports and reviews keep arriving: each must finish within the deadline, with nothing
 * lost or written twice.
 */

const POOL = 10;
const IN_FLIGHT = 64;
const EVALUATIONS = 6;
const EVAL_PROMPTS = 40;
const RUNS = 4;
const RUN_PROMPTS = 40;
/** Far above what the work takes (20 s quiet, 36 s with the machine busy, over 75 s beside 8 other test runs); a hang never gets there. */
const DEADLINE_MS = 180_000;

let sim: SimulatorServer;
let env: Record<string, string>;
let stack: Stack;
let pg: Client;

beforeAll(async () => {
  // Slow enough that the worker holds its 64 calls at once, so samples finish in groups.
  sim = await startSimulatorServer({ latencyMs: 40 });
  env = testEnv('finish_together', {
    AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'sim-over-http' } }),
    DATABASE_POOL_SIZE: String(POOL),
    WORKER_CONCURRENCY: String(IN_FLIGHT),
    AMEND_KEY_REQUESTS_PER_MINUTE: '1000000',
  });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
pgForFile(
  () => env,
  (c) => (pg = c),
  { searchPath: true },
);
afterAll(() => sim?.close());

const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function count(q: string, values: unknown[]): Promise<number> {
  return Number((await pg.query(q, values)).rows[0].n);
}

it('requests closing one evaluation while its row is locked all answer on a pool of 10, and one of them writes the report once it is free', async () => {
  const author = await stack.mintKey('author', 'default', { concurrent_runs: 100 });
  const res = await stack.fetch(
    '/v1/evaluations',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseline: 'anthropic-cai@1.0.0', candidate: 'amend-core', prompts: prompts(3, 'closers'), seed: 1 }),
    },
    author,
  );
  expect(res.status).toBe(202);
  const { id } = await json(res);
  await waitFor(async () => (await json(await stack.fetch(`/v1/evaluations/${id}`, {}, author))).report, {
    timeoutMs: 60_000,
    what: 'the evaluation to be judged',
  });
  // Behind the service's back: the report is gone again, as if the worker that closed both runs
  // had stopped before writing it, so every GET now asks to close the evaluation; and the row is
  // held by another session (a slow closer) while the GETs arrive.
  await pg.query(`update evaluations set report = null, status = 'running', finished_at = null where id = $1`, [id]);
  const judged = () => count(`select count(*) as n from audit_events where type = 'evaluation.judged' and payload->>'evaluation_id' = $1`, [id]);
  const judgedBefore = await judged();
  const holder = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await holder.connect();
  const holderPid = Number((await holder.query('select pg_backend_pid() as pid')).rows[0].pid);
  await holder.query('begin');
  await holder.query('select 1 from evaluations where id = $1 for update', [id]);

  const closers = 64;
  let answered = 0;
  const gets = Promise.all(
    Array.from({ length: closers }, async () => {
      const r = await stack.fetch(`/v1/evaluations/${id}`, {}, author);
      const body = await json(r);
      answered++;
      return { status: r.status, body };
    }),
  );
  // Until every GET has answered (they do not queue on the row) or the pool's connections all
  // wait on the row (as they did in issue 23): then the lock is let go.
  const waitingOnRow = () =>
    count(`select count(*) as n from pg_stat_activity where pid <> $1 and wait_event_type = 'Lock' and query ilike '%from "evaluations"%for update%'`, [
      holderPid,
    ]);
  let peakWaiting = 0;
  await waitFor(
    async () => {
      peakWaiting = Math.max(peakWaiting, await waitingOnRow());
      return answered === closers || peakWaiting >= POOL;
    },
    { timeoutMs: 30_000, intervalMs: 20, what: 'every GET to answer or the pool to wait on the row' },
  );
  const answeredWhileLocked = answered;
  await holder.query('rollback');
  await holder.end();
  const started = Date.now();
  const answers = await Promise.race([
    gets,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${closers - answered} GETs still unanswered 20 s after the row was free (${peakWaiting} sessions had waited on it)`)),
        20_000,
      ).unref(),
    ),
  ]);
  const seconds = (Date.now() - started) / 1000;
  // A GET after the row is free closes it (if none of those above did).
  const after = await waitFor(async () => (await json(await stack.fetch(`/v1/evaluations/${id}`, {}, author))).report, {
    timeoutMs: 10_000,
    what: 'the report',
  });
  const written = (await judged()) - judgedBefore;
  printFigures('finish-together closers', {
    closers,
    pool: POOL,
    'answered while the row was locked': answeredWhileLocked,
    'peak waiting on the row': peakWaiting,
    'seconds after release': seconds,
    'evaluation.judged written': written,
  });

  expect(answers.map((a) => a.status)).toEqual(Array(closers).fill(200));
  expect(after).not.toBeNull();
  expect(written).toBe(1);
});

it('a closer that finds the evaluation held looks again once the holder has gone without writing, and writes the report (no lost close)', async () => {
  const author = await stack.mintKey('author', 'default', { concurrent_runs: 100 });
  const res = await stack.fetch(
    '/v1/evaluations',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseline: 'anthropic-cai@1.0.0', candidate: 'amend-core', prompts: prompts(2, 'lost'), seed: 2 }),
    },
    author,
  );
  const { id } = await json(res);
  await waitFor(async () => (await json(await stack.fetch(`/v1/evaluations/${id}`, {}, author))).report, {
    timeoutMs: 60_000,
    what: 'the evaluation to be judged',
  });
  await pg.query(`update evaluations set report = null, status = 'running', finished_at = null where id = $1`, [id]);
  // The holder: a closer that looked before the last run closed, saw it going, and leaves
  // without writing. Meanwhile the worker's closer (wait: true) and a GET's (wait: false) come.
  const holder = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select 1 from evaluations where id = $1 for update', [id]);
  const real = stack.workers[0].get(Store);
  const outcomes: string[] = [];
  const watched = {
    evaluations: {
      row: real.evaluations.row.bind(real.evaluations),
      candidateTwin: real.evaluations.candidateTwin.bind(real.evaluations),
      finish: async (...args: Parameters<typeof real.evaluations.finish>) => {
        const o = await real.evaluations.finish(...args);
        outcomes.push(o);
        return o;
      },
    },
  };
  const getCloser = await closeEvaluation(real, id, 'test:get', { wait: false });
  const workerCloser = closeEvaluation(watched, id, 'test:worker');
  try {
    await waitFor(async () => outcomes.includes('busy'), { timeoutMs: 10_000, intervalMs: 10, what: "the worker's closer to find the row held" });
  } finally {
    await holder.query('rollback');
    await holder.end();
  }
  const written = await workerCloser;
  printFigures('finish-together lost close', { 'GET closer while held': getCloser, 'worker closer attempts': outcomes.join(' ') });
  expect(getCloser).toBe(false);
  expect(written).toBe(true);
  expect(outcomes[outcomes.length - 1]).toBe('written');
  expect((await pg.query('select report from evaluations where id = $1', [id])).rows[0].report).not.toBeNull();
});

it(
  'six evaluations and four runs finishing together on a pool of 10 with 64 calls in flight all finish, nothing lost or written twice',
  async () => {
    const author = await stack.mintKey('author', 'default', { concurrent_runs: 100 });
    const [evaluations, runs] = await Promise.all([
      Promise.all(
        Array.from({ length: EVALUATIONS }, async (_, i) => {
          const res = await stack.fetch(
            '/v1/evaluations',
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ baseline: 'anthropic-cai@1.0.0', candidate: 'amend-core', prompts: prompts(EVAL_PROMPTS, `eval${i}`), seed: i }),
            },
            author,
          );
          const body = await json(res);
          if (res.status !== 202) throw new Error(`POST /v1/evaluations answered ${res.status}: ${JSON.stringify(body)}`);
          return body as { id: string; baseline: { run_id: string }; candidate: { run_id: string } };
        }),
      ),
      Promise.all(Array.from({ length: RUNS }, (_, i) => createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(RUN_PROMPTS, `run${i}`) }))),
    ]);

    // While they go: run polls, evaluation polls (each may close its evaluation), exports and
    // reviews of the pairs made so far, as clients would send them.
    let busy = true;
    const errors: string[] = [];
    const reviewed = new Set<string>();
    const traffic = (async () => {
      while (busy) {
        const runId = runs[Math.floor(Math.random() * runs.length)];
        const evaluation = evaluations[Math.floor(Math.random() * evaluations.length)];
        const answers = await Promise.all([
          stack.fetch(`/v1/runs/${runId}`),
          stack.fetch(`/v1/evaluations/${evaluation.id}`, {}, author),
          stack.fetch(`/v1/runs/${runId}/pairs`),
        ]);
        for (const a of answers) if (a.status !== 200) errors.push(`${a.url} ${a.status}`);
        await Promise.all([answers[0].text(), answers[1].text()]);
        const lines = ndjson(await answers[2].text());
        const pair = lines.find((l) => !reviewed.has(l.id));
        if (pair) {
          reviewed.add(pair.id);
          const r = await post(`/v1/pairs/${pair.id}/review`, { decision: 'accept', reason: 'fine' });
          if (r.status !== 201 && r.status !== 200) errors.push(`review ${r.status}: ${await r.text()}`);
        }
      }
    })();

    const started = Date.now();
    try {
      await Promise.all([
        ...runs.map((id) =>
          waitFor(async () => isRunFinished((await json(await stack.fetch(`/v1/runs/${id}`))).status), {
            timeoutMs: DEADLINE_MS,
            intervalMs: 250,
            what: `run ${id} to finish`,
          }),
        ),
        ...evaluations.map((e) =>
          waitFor(async () => (await json(await stack.fetch(`/v1/evaluations/${e.id}`, {}, author))).report, {
            timeoutMs: DEADLINE_MS,
            intervalMs: 250,
            what: `evaluation ${e.id} to be judged`,
          }),
        ),
      ]);
    } finally {
      busy = false;
      await traffic;
    }
    const seconds = (Date.now() - started) / 1000;

    const runIds = [...runs, ...evaluations.flatMap((e) => [e.baseline.run_id, e.candidate.run_id])];
    const q = async (sql: string) => count(sql, [runIds]);
    const figures = {
      samples: await q('select count(*) as n from samples where run_id = any($1)'),
      unfinished: await q(`select count(*) as n from samples where run_id = any($1) and status in ('pending', 'running')`),
      completedWithoutPair: await q(
        `select count(*) as n from samples s where run_id = any($1) and status = 'completed' and not exists (select 1 from pairs p where p.sample_id = s.id)`,
      ),
      pairsTwice: await q(
        'select coalesce(sum(c - 1), 0) as n from (select count(*) as c from pairs where run_id = any($1) group by sample_id having count(*) > 1) d',
      ),
      emittedTwice: await q(
        `select coalesce(sum(c - 1), 0) as n from (select count(*) as c from audit_events where run_id = any($1) and type = 'pair.emitted' group by sample_id having count(*) > 1) d`,
      ),
      stageEventsTwice: await q(
        `select coalesce(sum(c - 1), 0) as n from (select count(*) as c from audit_events where run_id = any($1) and sample_id is not null and payload ? 'seq' group by sample_id, payload->>'seq' having count(*) > 1) d`,
      ),
      unfinishedRuns: await q(`select count(*) as n from runs where id = any($1) and status in ('queued', 'running')`),
      unsealedRuns: await q(
        `select count(*) as n from runs r where id = any($1) and not exists (select 1 from audit_events e where e.run_id = r.id and e.type = 'run.sealed')`,
      ),
    };
    const judged = await count(`select count(*) as n from audit_events where type = 'evaluation.judged' and payload->>'evaluation_id' = any($1)`, [
      evaluations.map((e) => e.id),
    ]);
    const judgedTwice = await count(
      `select coalesce(sum(c - 1), 0) as n from (select count(*) as c from audit_events where type = 'evaluation.judged' and payload->>'evaluation_id' = any($1) group by payload->>'evaluation_id') d`,
      [evaluations.map((e) => e.id)],
    );
    printFigures('finish-together', {
      seconds,
      ...figures,
      'evaluation.judged': judged,
      'judged twice': judgedTwice,
      reviews: reviewed.size,
      'request errors': errors.length,
    });

    expect(errors).toEqual([]);
    expect(figures.samples).toBe(RUNS * RUN_PROMPTS + EVALUATIONS * 2 * EVAL_PROMPTS);
    expect(figures).toMatchObject({
      unfinished: 0,
      completedWithoutPair: 0,
      pairsTwice: 0,
      emittedTwice: 0,
      stageEventsTwice: 0,
      unfinishedRuns: 0,
      unsealedRuns: 0,
    });
    expect(judged).toBe(EVALUATIONS);
    expect(judgedTwice).toBe(0);
    // Reviews went in while the runs were going.
    expect(reviewed.size).toBeGreaterThan(0);
  },
  DEADLINE_MS + 120_000,
);
