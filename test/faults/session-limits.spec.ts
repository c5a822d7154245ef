import { Client } from 'pg';
import { Store } from '@amend/store';
import { json, pgForFile, stackForFile, testEnv, waitFor, type Stack } from '../support/stack';
import { createRun, printFigures, prompts } from './support/runs';

/*
 * Issue 23's last line: the service's Postgres sessions carry time limits, a lock wait past its
 * limit is answered (503, counted), never a hang, and /ready goes red while queries wait for a
 * pool connection.
 */

const env = testEnv('session_limits', {
  DATABASE_POOL_SIZE: '10',
  DATABASE_LOCK_TIMEOUT_MS: '700',
  DATABASE_STATEMENT_TIMEOUT_MS: '45000',
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '30000',
  READY_POOL_WAIT_MS: '300',
  AMEND_KEY_REQUESTS_PER_MINUTE: '1000000',
});
let stack: Stack;
let pg: Client;

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c), { searchPath: true });

async function metric(name: string, labels: string): Promise<number> {
  const res = await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

it("the API's and the worker's sessions carry the configured lock, statement and idle-in-transaction limits", async () => {
  // As Postgres writes them back (SHOW): the values set in env above.
  const expected = { lock_timeout: '700ms', statement_timeout: '45s', idle_in_transaction_session_timeout: '30s' };
  expect(await stack.api.get(Store).sessionLimits()).toEqual(expected);
  expect(await stack.workers[0].get(Store).sessionLimits()).toEqual(expected);
});

it('a request that waits on a row lock past lock_timeout is answered 503 database_busy and counted, not left hanging', async () => {
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(2, 'limits') });
  const before = await metric('amend_db_timeouts_total', 'kind="lock_timeout"');
  // Another session holds the run's row, as a stuck closer would; the cancel needs it.
  await pg.query('begin');
  await pg.query('select 1 from runs where id = $1 for update', [runId]);
  let answer: Response;
  const started = Date.now();
  try {
    answer = await stack.fetch(`/v1/runs/${runId}/cancel`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
  } finally {
    await pg.query('rollback');
  }
  const seconds = (Date.now() - started) / 1000;
  const body = await json(answer);
  const after = await metric('amend_db_timeouts_total', 'kind="lock_timeout"');
  printFigures('session-limits lock wait', { status: answer.status, seconds, 'lock timeouts counted': after - before });
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).toBe('1');
  expect(body.error).toMatchObject({ code: 'database_busy', details: { reason: 'lock_timeout' } });
  expect(after - before).toBeGreaterThanOrEqual(1);
  // The row is free again: the same cancel goes through.
  expect((await stack.fetch(`/v1/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(200);
});

it('/ready goes red while queries wait for a pool connection past READY_POOL_WAIT_MS, and green once they are served', async () => {
  const runId = await createRun(stack, { constitution: 'anthropic-cai', prompts: prompts(2, 'ready') });
  expect((await fetch(`${stack.url}/ready`)).status).toBe(200);
  // Every read of a run's counts now waits on the samples table (up to lock_timeout each), so the
  // API's ten connections are held and the other reads wait for one.
  await pg.query('begin');
  await pg.query('lock table samples in access exclusive mode');
  let red: { status: number; body: { error?: { details?: { error?: Record<string, unknown> } } } } | undefined;
  const gets = Promise.all(Array.from({ length: 60 }, () => stack.fetch(`/v1/runs/${runId}`).then((r) => r.status)));
  try {
    red = await waitFor(
      async () => {
        const r = await fetch(`${stack.url}/ready`);
        const body = (await r.json()) as { error?: { details?: { error?: Record<string, unknown> } } };
        // Red for the pool's waits (its ping may also time out behind them, which is red for another reason).
        return r.status === 503 && body.error?.details?.error?.postgres_pool ? { status: r.status, body } : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: '/ready to answer 503 naming the pool' },
    );
  } finally {
    await pg.query('rollback');
  }
  const statuses = await gets;
  await waitFor(async () => (await fetch(`${stack.url}/ready`)).status === 200, { timeoutMs: 15_000, what: '/ready to answer 200 again' });
  printFigures('session-limits ready', {
    'ready while waiting': red.status,
    'GETs answered': statuses.length,
    'GETs 503': statuses.filter((s) => s === 503).length,
  });
  expect(red.body.error?.details?.error?.postgres_pool).toEqual({ status: 'down' });
  // Every GET was answered, with its counts or a 503 it can retry.
  expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
});
