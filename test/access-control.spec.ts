import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { CreatedKeySchema, ErrorBodySchema, KeyListSchema, RunListSchema, RunSchema } from '@amend/contracts';
import { loadConfig } from '@amend/contracts';
import { PassThrough } from 'node:stream';
import { createApiApp } from '../apps/api/src/app';
import { runCli } from '../apps/cli/src/main';
import { RouteTable, type RouteEntry } from '../apps/api/src/auth/route-table';
import { ROLES, type Role } from '../apps/api/src/auth/access.decorators';
import { authHeaders, cleanup, json, randomKey, startStack, testEnv, waitFor, type Stack } from './support/stack';

const env = testEnv('access', {
  // The matrix sends a few hundred requests per key; the rate limit has its own test below.
  AMEND_KEY_REQUESTS_PER_MINUTE: '100000',
  // The matrix sends every route without a key, and bad keys: failed authentications per address have their own test (abuse.spec.ts).
  AMEND_AUTH_FAILURES_PER_MINUTE: '100000',
  AMEND_MODELS: JSON.stringify({ default: { simulator: true }, slow: { simulator: true, latency_ms: 5000 } }),
});
let stack: Stack;
let pg: Client;

/** Keys of team alpha (the caller's own team) for every role, and a submitter of team beta. */
const keys = {} as Record<Role, string>;
let betaSubmitter: string;
const own = {} as Record<'run' | 'sample' | 'pair' | 'key' | 'evaluation', string>;
const other = {} as Record<'run' | 'sample' | 'pair' | 'key' | 'evaluation', string>;
/** Published by the matrix's author, so deprecating it in the matrix harms nothing else. */
const CONSTITUTION = { name: 'matrix-check', version: '1.0.0' };

const TEAM_SCOPED: Role[] = ['submitter', 'author'];
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

async function finishedRun(key: string): Promise<{ run: string; sample: string; pair: string }> {
  const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ constitution: 'amend-core', prompts: ['How do I keep basil alive?', 'Tell me a short joke.'] }) }, key);
  expect(res.status).toBe(202);
  const { id } = RunSchema.parse(await json(res));
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`, {}, key))).status === 'completed', { what: `run ${id}` });
  const samples = await json(await stack.fetch(`/v1/runs/${id}/samples`, {}, key));
  const pair = (await pg.query(`select id from "${env.DATABASE_SCHEMA}".pairs where run_id = $1 limit 1`, [id])).rows[0].id;
  return { run: id, sample: samples.samples[0].id, pair };
}

/** An evaluation of the author's team (its report is not needed, only its id). */
async function evaluation(authorKey: string): Promise<string> {
  const res = await stack.fetch('/v1/evaluations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ baseline: 'amend-core@1.0.0', candidate: 'amend-core', prompts: ['Tell me a short joke.'] }) }, authorKey);
  expect(res.status).toBe(202);
  return (await json(res)).id;
}

async function keyId(key: string): Promise<string> {
  return (await json(await stack.fetch('/v1/keys/me', {}, key))).id;
}

beforeAll(async () => {
  stack = await startStack(env);
  pg = new Client({ connectionString: env.DATABASE_URL });
  await pg.connect();
  for (const role of ROLES) keys[role] = await stack.mintKey(role, 'alpha');
  betaSubmitter = await stack.mintKey('submitter', 'beta');
  const yaml = `name: ${CONSTITUTION.name}\nversion: ${CONSTITUTION.version}\ntitle: Matrix\nprinciples:\n  - id: p\n    critique: Identify one problem.\n    revision: Fix it.\n`;
  expect((await stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml }, keys.author)).status).toBe(201);
  const a = await finishedRun(keys.submitter);
  const b = await finishedRun(betaSubmitter);
  Object.assign(own, a, { key: await keyId(await stack.mintKey('submitter', 'alpha')), evaluation: await evaluation(keys.author) });
  Object.assign(other, b, { key: await keyId(await stack.mintKey('submitter', 'beta')), evaluation: await evaluation(await stack.mintKey('author', 'beta')) });
});
afterAll(async () => {
  await pg?.end();
  await stack?.close();
  await cleanup(env);
});

/** A concrete URL for a route pattern: ids of the caller's team (`own`) or of the other team. */
function urlFor(route: RouteEntry, scope: 'own' | 'other'): string {
  const ids = scope === 'own' ? own : other;
  return route.path.replace(/:([A-Za-z_]+)/g, (_m, param: string) => {
    const before = route.path.slice(0, route.path.indexOf(`:${param}`));
    if (param === 'id' && before.endsWith('/runs/')) return ids.run;
    if (param === 'id' && before.endsWith('/samples/')) return ids.sample;
    if (param === 'id' && before.endsWith('/pairs/')) return ids.pair;
    if (param === 'id' && before.endsWith('/keys/')) return ids.key;
    if (param === 'id' && before.endsWith('/evaluations/')) return ids.evaluation;
    if (param === 'name' && before.endsWith('/constitutions/')) return CONSTITUTION.name;
    if (param === 'version') return CONSTITUTION.version;
    throw new Error(`${route.method} ${route.path}: the matrix has no value for :${param}; add one to urlFor`);
  });
}

/** Routes whose path names a run, sample or pair: a team's data, 404 to other teams. */
const teamOwned = (route: RouteEntry) => /\/(runs|samples|pairs|evaluations)\/:id/.test(route.path);

describe('the route table', () => {
  it('gives every route Nest serves an access rule', () => {
    const routes = stack.api.get(RouteTable).routes();
    expect(routes.length).toBeGreaterThan(20);
    const unruled = routes.filter((r) => !r.rule).map((r) => `${r.method} ${r.path} (${r.controller}.${r.handler})`);
    expect(unruled).toEqual([]);
  });
});

describe('the role matrix: every route x every role x own and other team, from the route table', () => {
  it('answers 401 without a key, 403 to a role the rule does not list, 404 for another team\'s run, sample or pair, and never 5xx', async () => {
    const routes = stack.api.get(RouteTable).routes();
    const problems: string[] = [];
    let cells = 0;
    const expectStatus = (what: string, status: number, ok: (s: number) => boolean, wanted: string) => {
      cells++;
      if (!ok(status)) problems.push(`${what}: ${status}, expected ${wanted}`);
    };
    for (const route of routes) {
      const send = (url: string, key: string | null) =>
        stack.fetch(url, route.method === 'GET' ? {} : { method: route.method, headers: { 'content-type': 'application/json' }, body: route.method === 'DELETE' ? undefined : '{}' }, key);
      const label = (who: string, scope: string) => `${route.method} ${route.path} as ${who} (${scope})`;
      if (!route.rule) continue; // reported by the test above
      if (route.rule.public) {
        const res = await send(urlFor(route, 'own'), null);
        expectStatus(label('nobody', '-'), res.status, (s) => s < 400, '2xx/3xx');
        continue;
      }
      expectStatus(label('nobody', '-'), (await send(urlFor(route, 'own'), null)).status, (s) => s === 401, '401');
      for (const role of ROLES) {
        for (const scope of ['own', 'other'] as const) {
          const res = await send(urlFor(route, scope), keys[role]);
          const allowed = route.rule.roles.includes(role);
          const what = label(role, scope);
          if (res.status >= 500) problems.push(`${what}: ${res.status} ${await res.text()}`);
          else if (!allowed) expectStatus(what, res.status, (s) => s === 403, '403');
          // An admin is scoped to its team (keys/key-scope.ts): another team's key is a 404 to it, as a run is to a submitter.
          else if (scope === 'other' && ((teamOwned(route) && TEAM_SCOPED.includes(role)) || (route.path === '/v1/keys/:id' && role === 'admin'))) {
            // Exactly what an id that does not exist gets (a body error may come first: it says nothing about the id).
            const unknown = (await send(urlFor(route, scope).replace(/[0-9a-f-]{36}/, UNKNOWN_ID), keys[role])).status;
            expectStatus(what, res.status, (s) => s === unknown && (s === 404 || (route.method !== 'GET' && s === 422)), `${unknown}, as for an unknown id (404, or 422 for a bad body)`);
          }
          else expectStatus(what, res.status, (s) => ![401, 403, 404].includes(s) && s < 500, 'an answer (not 401/403/404/5xx)');
        }
      }
    }
    const keyed = routes.filter((r) => r.rule && !r.rule.public).length;
    console.log(`role matrix: ${routes.length} routes (${keyed} with keys), ${ROLES.length} roles x 2 teams + no key: ${cells} cells checked`);
    expect(problems).toEqual([]);
  });

  it('lists only the caller\'s team\'s runs to a submitter and every team\'s to an auditor', async () => {
    const mine = RunListSchema.parse(await json(await stack.fetch('/v1/runs?limit=200', {}, keys.submitter))).runs.map((r) => r.id);
    expect(mine).toContain(own.run);
    expect(mine).not.toContain(other.run);
    const all = RunListSchema.parse(await json(await stack.fetch('/v1/runs?limit=200', {}, keys.auditor))).runs.map((r) => r.id);
    expect(all).toEqual(expect.arrayContaining([own.run, other.run]));
  });

  it('answers another team\'s ids exactly as unknown ids, so ids do not leak', async () => {
    const foreign = await stack.fetch(`/v1/runs/${other.run}`, {}, keys.submitter);
    const unknown = await stack.fetch('/v1/runs/00000000-0000-4000-8000-000000000000', {}, keys.submitter);
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    expect(ErrorBodySchema.parse(await json(foreign)).error.code).toBe(ErrorBodySchema.parse(await json(unknown)).error.code);
    expect((await stack.fetch(`/v1/runs/${other.run}/cancel`, { method: 'POST' }, keys.submitter)).status).toBe(404);
  });
});

describe('API keys', () => {
  it('shows a new key once, stores only its sha256, and never lists or logs it in an event', async () => {
    const res = await stack.fetch('/v1/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'auditor', team: 'audit', name: 'ada' }) }, stack.adminKey);
    expect(res.status).toBe(201);
    const created = CreatedKeySchema.parse(await json(res));
    expect(created.key).toMatch(/^amd_[A-Za-z0-9_-]{43}$/);
    const listed = KeyListSchema.parse(await json(await stack.fetch('/v1/keys?team=audit', {}, stack.adminKey)));
    expect(listed.keys.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const row = (await pg.query(`select hash from "${env.DATABASE_SCHEMA}".api_keys where id = $1`, [created.id])).rows[0];
    expect(row.hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    const everything = await pg.query(
      `select (select coalesce(string_agg(t::text, ' '), '') from "${env.DATABASE_SCHEMA}".audit_events t) || (select string_agg(k::text, ' ') from "${env.DATABASE_SCHEMA}".api_keys k) as text`,
    );
    for (const key of [created.key, stack.adminKey, ...Object.values(keys)]) expect(everything.rows[0].text).not.toContain(key);
    const event = (await pg.query(`select actor, payload from "${env.DATABASE_SCHEMA}".audit_events where type = 'key.created' and payload->>'key_id' = $1`, [created.id])).rows[0];
    expect(event.payload).toMatchObject({ role: 'auditor', team: 'audit', prefix: created.prefix });
    expect(event.actor).toBe(`key:${await keyId(stack.adminKey)}`);
  });

  it('refuses a missing, malformed, unknown or revoked key with 401', async () => {
    const missing = await stack.fetch('/v1/runs', {}, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect(ErrorBodySchema.parse(await json(missing)).error.code).toBe('unauthenticated');
    expect((await fetch(`${stack.url}/v1/runs`, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await stack.fetch('/v1/runs', {}, randomKey())).status).toBe(401);
    const doomed = await stack.mintKey('submitter', 'alpha');
    expect((await stack.fetch('/v1/runs', {}, doomed)).status).toBe(200);
    const revoked = await stack.fetch(`/v1/keys/${await keyId(doomed)}`, { method: 'DELETE' }, stack.adminKey);
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).revoked_at).not.toBeNull();
    const after = await stack.fetch('/v1/runs', {}, doomed);
    expect(after.status).toBe(401);
    expect(ErrorBodySchema.parse(await json(after)).error.message).toContain('revoked');
  });

  it('refuses a key body with fields a client may not set, and a boot with a malformed AMEND_ADMIN_KEY', async () => {
    const res = await stack.fetch('/v1/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin', team: 'x', hash: 'abc' }) }, stack.adminKey);
    expect(res.status).toBe(422);
    const app = await createApiApp(loadConfig({ ...env, AMEND_ADMIN_KEY: 'hunter2' }));
    try {
      await expect(app.init()).rejects.toThrow(/AMEND_ADMIN_KEY must be/);
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});

describe('amend keys', () => {
  async function amend(key: string, ...argv: string[]) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await runCli(['--api', stack.url, ...argv], { stdout, stderr, env: { AMEND_API_KEY: key }, tty: false });
    return { code, out, err };
  }

  it('creates a key printed once, lists it without the key, and revokes it', async () => {
    const created = await amend(stack.adminKey, 'keys', 'create', '--role', 'submitter', '--team', 'gamma', '--name', 'ci', '--rpm', '30');
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^amd_/);
    expect(created.err).toContain('only time the key is shown');
    expect((await stack.fetch('/v1/runs', {}, key)).status).toBe(200);

    const listed = await amend(stack.adminKey, 'keys', 'list', '--team', 'gamma');
    expect(listed.out).toContain('submitter');
    expect(listed.out).toContain('requests_per_minute=30');
    expect(listed.out).not.toContain(key);
    const id = listed.out.split(/\s+/)[0];

    const revoked = await amend(stack.adminKey, 'keys', 'revoke', id);
    expect(revoked.code).toBe(0);
    expect((await stack.fetch('/v1/runs', {}, key)).status).toBe(401);
    const refused = await amend(keys.submitter, 'keys', 'list');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('forbidden');
  });
});

describe('per-key limits', () => {
  it('answers 429 with Retry-After past the requests per minute, counted across API instances in Redis', async () => {
    const key = await stack.mintKey('submitter', 'alpha', { requests_per_minute: 4 });
    const second = await createApiApp(stack.config);
    await second.listen(0, '127.0.0.1');
    const url2 = (await second.getUrl()).replace('[::1]', '127.0.0.1');
    try {
      const statuses: number[] = [];
      let limited: Response | undefined;
      // 10 requests: even split by a window boundary, one window holds more than 4.
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${i % 2 ? url2 : stack.url}/v1/runs?limit=1`, { headers: authHeaders(key) });
        statuses.push(res.status);
        if (res.status === 429) limited ??= res;
      }
      // A window boundary may fall between requests: at most one window's worth gets through per window.
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(8);
      expect(statuses).toContain(429);
      const retryAfter = Number(limited!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(ErrorBodySchema.parse(await json(limited!)).error.code).toBe('rate_limited');
    } finally {
      await second.close();
    }
  });

  it('answers 429 to a key at its concurrent runs and 422 to a run over its prompts per run', async () => {
    const key = await stack.mintKey('submitter', 'alpha', { concurrent_runs: 1, prompts_per_run: 3 });
    const post = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
    const tooMany = await post({ constitution: 'amend-core', prompts: ['a', 'b', 'c', 'd'] });
    expect(tooMany.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(tooMany)).error.code).toBe('too_many_prompts');
    const first = await post({ constitution: 'amend-core', prompts: ['a slow one'], model: 'slow' });
    expect(first.status).toBe(202);
    const second = await post({ constitution: 'amend-core', prompts: ['b'] });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ErrorBodySchema.parse(await json(second)).error.code).toBe('too_many_active_runs');
    await stack.fetch(`/v1/runs/${(await json(first)).id}/cancel`, { method: 'POST' }, key);
    expect((await post({ constitution: 'amend-core', prompts: ['c'], model: 'slow' })).status).toBe(202);
  });

  it('never lets a client set its team, status or usage, nor name a URL as its model', async () => {
    const post = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, keys.submitter);
    for (const extra of [{ team: 'beta' }, { status: 'completed' }, { usage: { calls: 0 } }, { created_by: 'someone' }]) {
      const res = await post({ constitution: 'amend-core', prompts: ['hi'], ...extra });
      expect(res.status).toBe(422);
      expect(ErrorBodySchema.parse(await json(res)).error.message).toContain(Object.keys(extra)[0]);
    }
    expect((await post({ constitution: 'amend-core', prompts: ['hi'], model: 'http://169.254.169.254/v1' })).status).toBe(422);
  });
});

describe('pages outside the v1 API', () => {
  it('keeps /health, /ready and /docs public, /metrics for admins and auditors, and the queue dashboard for operator admins', async () => {
    for (const path of ['/health', '/ready', '/docs/openapi.json']) expect((await fetch(stack.url + path)).status).toBe(200);
    expect((await fetch(`${stack.url}/metrics`)).status).toBe(401);
    expect((await stack.fetch('/metrics', {}, keys.auditor)).status).toBe(200);
    expect((await fetch(`${stack.url}/admin/queues`)).status).toBe(401);
    expect((await stack.fetch('/admin/queues', {}, keys.submitter)).status).toBe(403);
    expect((await stack.fetch('/admin/queues', {}, keys.admin)).status).toBe(403);
    expect((await stack.fetch('/admin/queues', {}, stack.adminKey)).status).toBe(200);
  });
});
