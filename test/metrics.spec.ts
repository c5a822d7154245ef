import { createWorkerApp } from '../apps/worker/src/app';
import { json, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { freePort } from './support/free-port';

const env = testEnv('metrics');
let stack: Stack;
stackForFile(env, {}, (s) => (stack = s));

it('/metrics counts model calls, tokens, latency, limiter waits, queue depth, samples and pairs after a run', async () => {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts: ['Name a hardy houseplant.', 'Suggest a weekend hike.'] }),
  });
  const id = (await json(res)).id;
  await waitFor(async () => (await json(await stack.fetch(`/v1/runs/${id}`))).status === 'completed', { timeoutMs: 30_000 });

  // Metrics name aliases and token volumes: on the API port they take an admin or auditor key.
  expect((await fetch(`${stack.url}/metrics`)).status).toBe(401);
  const metrics = await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
  expect(metrics.status).toBe(200);
  expect(metrics.headers.get('content-type')).toContain('text/plain');
  const text = await metrics.text();
  expect(text).toMatch(/amend_model_calls_total\{alias="default",stage="draft",outcome="ok"\} [1-9]/);
  expect(text).toMatch(/amend_model_tokens_total\{alias="default",stage="revision",kind="completion"\} [1-9]/);
  expect(text).toMatch(/amend_model_call_duration_seconds_bucket\{le="\+Inf",alias="default",stage="critique"\} [1-9]/);
  expect(text).toContain('# TYPE amend_limiter_wait_seconds histogram');
  expect(text).toContain('# TYPE amend_model_retries_total counter');
  expect(text).toMatch(new RegExp(`amend_queue_jobs\\{queue="${env.QUEUE_PREFIX}",state="waiting"\\} 0`));
  expect(text).toMatch(/amend_samples_finished_total\{status="completed"\} [1-9]/);
  expect(text).toMatch(/amend_pairs_total [1-9]/);
});

it('the queue dashboard answers only operator admins: 401 asking for credentials, 403 for other keys, 200 for the admin key as bearer or basic password', async () => {
  const board = (headers: Record<string, string> = {}) => fetch(`${stack.url}/admin/queues`, { headers });
  const anonymous = await board();
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
  expect((await json(anonymous)).error.code).toBe('unauthenticated');
  expect((await board({ authorization: `Bearer ${stack.submitterKey}` })).status).toBe(403);
  expect((await board({ authorization: 'Bearer amd_not-a-key-anyone-has-0000000' })).status).toBe(401);
  const bearer = await board({ authorization: `Bearer ${stack.adminKey}` });
  expect(bearer.status).toBe(200);
  expect(await bearer.text()).toContain('<html');
  const basic = `Basic ${Buffer.from(`admin:${stack.adminKey}`).toString('base64')}`;
  const queues = await fetch(`${stack.url}/admin/queues/api/queues`, { headers: { authorization: basic } });
  expect(queues.status).toBe(200);
  expect(JSON.stringify(await queues.json())).toContain('samples');
  // An admin scoped to one team does not see every team's jobs.
  const teamAdmin = await stack.mintKey('admin', 'alpha');
  expect((await board({ authorization: `Bearer ${teamAdmin}` })).status).toBe(403);
});

it('the queue dashboard takes the same keys as the API: a revoked admin key, the bootstrap one included, opens nothing', async () => {
  const operator = await stack.mintKey('admin', 'admin');
  const board = (key: string, init: RequestInit = {}) =>
    fetch(`${stack.url}/admin/queues/api/queues`, { ...init, headers: { authorization: `Bearer ${key}` } });
  expect((await board(operator)).status).toBe(200);
  const me = await json(await stack.fetch('/v1/keys/me', {}, stack.adminKey));
  expect((await stack.fetch(`/v1/keys/${me.id}`, { method: 'DELETE' }, operator)).status).toBe(200);
  const revoked = await board(stack.adminKey);
  expect(revoked.status).toBe(401);
  expect(
    (await fetch(`${stack.url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`x:${stack.adminKey}`).toString('base64')}` } })).status,
  ).toBe(401);
  // Read-only unless the operator enables actions: pausing the queue is refused.
  const pause = await board(operator, { method: 'PUT' });
  expect((await fetch(`${stack.url}/admin/queues/api/queues/pause`, { method: 'PUT', headers: { authorization: `Bearer ${operator}` } })).status).toBe(405);
  expect(pause.status).toBe(405);
});

it('a worker with METRICS_PORT serves its metrics there', async () => {
  const port = await freePort();
  const worker = await createWorkerApp({ ...stack.config, METRICS_PORT: port });
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('amend_queue_jobs');
  } finally {
    await worker.close();
  }
});

it('every response carries a request id: the caller’s X-Request-Id, or a new one', async () => {
  const given = await fetch(`${stack.url}/health`, { headers: { 'x-request-id': 'trace-42' } });
  expect(given.headers.get('x-request-id')).toBe('trace-42');
  const fresh = await fetch(`${stack.url}/health`);
  expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});
