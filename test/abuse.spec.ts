import type { Client } from 'pg';
import { ErrorBodySchema, RunSchema } from '@amend/contracts';
import { createApiApp } from '../apps/api/src/app';
import { RateLimiter } from '../apps/api/src/auth/rate-limiter';
import { loadConfig } from '@amend/contracts';
import { json, pgForFile, randomKey, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { uploadBytes } from './support/upload';
import { freePort } from './support/free-port';

/**
 * What the service does with traffic from outside that is not what a client should send: bodies
 * without a key, key guessing, large uploads, odd input, and the headers every answer carries.
 */
const env = testEnv('abuse', {
  // Each test that fails authentication on purpose sends its own X-Forwarded-For, so their
  // failure counts (per client address) do not add up across tests.
  AMEND_TRUST_PROXY: 'loopback',
  AMEND_AUTH_FAILURES_PER_MINUTE: '10',
});
let stack: Stack;
let pg: Client;
stackForFile(env, { workers: 0 }, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

let addresses = 0;
/** A client address of its own for one test (the API trusts X-Forwarded-For from loopback here). */
function address(): string {
  return `198.51.100.${++addresses}`;
}

function upload(path: string, total: number, headers: Record<string, string>) {
  return uploadBytes(stack.url + path, total, headers);
}

describe('keys before bodies', () => {
  it('answers a 100 MB upload without a key, or with an unknown one, with 401 before the body is read', async () => {
    const total = 100 * 1024 * 1024;
    for (const headers of [{}, { authorization: `Bearer ${randomKey()}` }] as Record<string, string>[]) {
      const res = await upload('/v1/runs', total, { ...headers, 'x-forwarded-for': address() });
      expect(res.status).toBe(401);
      expect(ErrorBodySchema.parse(JSON.parse(res.body)).error.code).toMatch(/unauthenticated|invalid_key/);
      // The answer came while most of the body was still unsent: nothing waited for it.
      expect(res.sent).toBeLessThan(total / 2);
    }
  });

  it('refuses a JSON body over the default limit of 4 MiB with 413 that points at the JSON Lines upload', async () => {
    const prompts = Array.from({ length: 5_000 }, (_, i) => `prompt ${i} ${'x'.repeat(900)}`);
    const text = JSON.stringify({ constitution: 'amend-core', prompts });
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    expect(res.status).toBe(413);
    const body = ErrorBodySchema.parse(await json(res));
    expect(body.error.code).toBe('body_too_large');
    expect(body.error.message).toContain('application/x-ndjson');
    // The body's size (its Content-Length), the limit and its variable: 4 MiB is 4,194,304 bytes.
    const size = Buffer.byteLength(text);
    expect(body.error.message).toContain(`the body is ${size.toLocaleString('en')} bytes; the limit is 4,194,304 bytes (AMEND_MAX_BODY_BYTES)`);
    expect(body.error.details).toMatchObject({ limit_bytes: 4_194_304, setting: 'AMEND_MAX_BODY_BYTES', actual_bytes: size });
  });
});

describe('a run uploaded as JSON Lines', () => {
  const ndjson = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  const post = (text: string, headers: Record<string, string> = {}) =>
    stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body: text });

  it('stores every prompt of an upload larger than the JSON limit, in order, with its id and metadata', async () => {
    const n = 6_000;
    const lines = [
      { constitution: 'amend-core', rounds: 2, seed: 11 },
      ...Array.from({ length: n }, (_, i) =>
        i % 2 ? `plain prompt ${i} ${'y'.repeat(700)}` : { id: `p${i}`, prompt: `prompt ${i} ${'z'.repeat(700)}`, metadata: { i } },
      ),
    ];
    const text = ndjson(lines);
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 1024 * 1024);
    const res = await post(text);
    expect(res.status).toBe(202);
    const run = RunSchema.parse(await json(res));
    expect(run.counts.total).toBe(n);
    expect(run.rounds).toBe(2);
    expect(run.seed).toBe(11);
    const rows = (await pg.query(`select idx, external_id, prompt, metadata from "${env.DATABASE_SCHEMA}".samples where run_id = $1 order by idx`, [run.id]))
      .rows;
    expect(rows.length).toBe(n);
    expect(rows[0]).toMatchObject({ idx: 0, external_id: 'p0', metadata: { i: 0 } });
    expect(rows[1]).toMatchObject({ idx: 1, external_id: null, prompt: lines[2] });
    expect(rows[n - 1].idx).toBe(n - 1);
    const created = (await pg.query(`select payload from "${env.DATABASE_SCHEMA}".audit_events where run_id = $1 and type = 'run.created'`, [run.id])).rows;
    expect(created.length).toBe(1);
    expect(created[0].payload.samples).toBe(n);
  });

  it('refuses a bad line with 422 naming it, and keeps nothing of the run', async () => {
    const before = Number((await pg.query(`select count(*) from "${env.DATABASE_SCHEMA}".runs`)).rows[0].count);
    const res = await post(ndjson([{ constitution: 'amend-core' }, 'fine', { prompt: '   ' }, 'also fine']));
    expect(res.status).toBe(422);
    const body = ErrorBodySchema.parse(await json(res));
    expect(body.error.message).toMatch(/^line 3: prompt 1: prompt is empty/);
    const notJson = await post('{"constitution":"amend-core"}\n"ok"\n{oops\n');
    expect(notJson.status).toBe(400);
    expect(ErrorBodySchema.parse(await json(notJson)).error.message).toContain('line 3');
    const options = await post(ndjson([{ constitution: 'amend-core', prompts: ['x'] }, 'y']));
    expect(options.status).toBe(422);
    const empty = await post(ndjson([{ constitution: 'amend-core' }]));
    expect(empty.status).toBe(422);
    const unknownField = await post(ndjson([{ constitution: 'amend-core', team: 'beta' }, 'x']));
    expect(unknownField.status).toBe(422);
    expect(Number((await pg.query(`select count(*) from "${env.DATABASE_SCHEMA}".runs`)).rows[0].count)).toBe(before);
  });

  it('answers a repeat with the same Idempotency-Key and bytes with the same run, and other bytes with 409', async () => {
    const text = ndjson([{ constitution: 'amend-core' }, 'one', 'two']);
    const first = await post(text, { 'idempotency-key': 'nd-1' });
    expect(first.status).toBe(202);
    const again = await post(text, { 'idempotency-key': 'nd-1' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(again)).id).toBe((await json(first)).id);
    expect((await post(ndjson([{ constitution: 'amend-core' }, 'one', 'three']), { 'idempotency-key': 'nd-1' })).status).toBe(409);
  });
});

describe('failed authentication', () => {
  it('is limited per client address: past the limit even a valid key from that address gets 429, other addresses do not', async () => {
    const from = address();
    const statuses: number[] = [];
    // AMEND_AUTH_FAILURES_PER_MINUTE=10 here: ten 401s, then 429s. (A minute boundary restarts the
    // count, and a Redis too slow to answer lets a request through uncounted: so up to 40 tries.)
    for (let i = 0; i < 40 && !statuses.includes(429); i++) {
      statuses.push((await fetch(`${stack.url}/v1/runs`, { headers: { authorization: `Bearer ${randomKey()}`, 'x-forwarded-for': from } })).status);
    }
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(10);
    expect(statuses).toContain(429);
    const blocked = await fetch(`${stack.url}/v1/runs`, { headers: { authorization: `Bearer ${stack.submitterKey}`, 'x-forwarded-for': from } });
    if (statuses[statuses.length - 1] === 429) {
      expect(blocked.status).toBe(429);
      expect(ErrorBodySchema.parse(await json(blocked)).error.code).toBe('too_many_auth_failures');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const elsewhere = await fetch(`${stack.url}/v1/runs`, { headers: { authorization: `Bearer ${stack.submitterKey}`, 'x-forwarded-for': address() } });
    expect(elsewhere.status).toBe(200);
  });

  it('fails closed with 503 when Redis is down and the operator asked for it, open (logged) otherwise', async () => {
    const port = await freePort(); // nothing listens there: a Redis that is down
    const down = loadConfig({ ...env, REDIS_URL: `redis://127.0.0.1:${port}` });
    const open = new RateLimiter(down);
    const closed = new RateLimiter({ ...down, AMEND_RATE_LIMITS_FAIL_CLOSED: true });
    try {
      expect(await open.authFailuresExceeded('198.51.100.200')).toBeNull();
      expect(await open.take('some-key', 1)).toEqual({ allowed: true });
      await expect(closed.authFailuresExceeded('198.51.100.200')).rejects.toMatchObject({ status: 503, code: 'rate_limiter_unavailable' });
      await expect(closed.take('some-key', 1)).rejects.toMatchObject({ status: 503, code: 'rate_limiter_unavailable' });
    } finally {
      await open.onApplicationShutdown();
      await closed.onApplicationShutdown();
    }
  });
});

/** Another API on the same database, listening; its close ignores a Redis that was never there. */
async function listening(config: ReturnType<typeof loadConfig>): Promise<{ url: string; close: () => Promise<void> }> {
  const app = await createApiApp(config);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { url, close: () => app.close().catch(() => undefined) };
}

describe('odd input is a 4xx with the error body', () => {
  it('a malformed cursor on /v1/runs', async () => {
    for (const cursor of [
      '!!!',
      Buffer.from('not-a-date|also-not-a-uuid').toString('base64url'),
      Buffer.from('2026-01-01T00:00:00.000Z|nope').toString('base64url'),
    ]) {
      const res = await stack.fetch(`/v1/runs?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(ErrorBodySchema.parse(await json(res)).error.message).toContain('cursor');
    }
  });

  it('a YAML alias bomb published as a constitution', async () => {
    const author = await stack.mintKey('author', 'default');
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = `name: bomb\nversion: 1.0.0\ntitle: Bomb\n${levels.join('\n')}\nprinciples: []\n`;
    const res = await stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: bomb }, author);
    expect(res.status).toBe(400);
    expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('constitution_syntax');
  });
});

describe('headers and operator pages', () => {
  it('sends helmet headers and no X-Powered-By on API answers, errors and pages, with a CSP on /console and /docs', async () => {
    for (const path of ['/health', '/v1/runs', '/docs', '/console/']) {
      const res = await fetch(stack.url + path);
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
    }
  });

  it('/metrics needs an admin or auditor key on the API port, and with METRICS_PORT is served there and not on the API port', async () => {
    expect((await fetch(`${stack.url}/metrics`, { headers: { 'x-forwarded-for': address() } })).status).toBe(401);
    expect((await stack.fetch('/metrics')).status).toBe(403);
    const auditor = await stack.mintKey('auditor', 'audit');
    const ok = await stack.fetch('/metrics', {}, auditor);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('amend_queue_jobs');

    const port = await freePort();
    const app = await listening(loadConfig({ ...env, METRICS_PORT: String(port) }));
    try {
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
      expect((await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${auditor}` } })).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('/ready names the check that fails and not its error', async () => {
    const port = await freePort();
    const app = await listening(loadConfig({ ...env, REDIS_URL: `redis://127.0.0.1:${port}` }));
    try {
      const res = await waitFor(
        async () => {
          const r = await fetch(`${app.url}/ready`);
          return r.status === 503 ? r : undefined;
        },
        { timeoutMs: 20_000, what: '/ready to answer 503' },
      );
      const text = await res.text();
      expect(text).toContain('redis');
      expect(text).not.toContain(String(port));
      expect(text).not.toMatch(/ECONNREFUSED|connect|timeout|within/i);
      expect(JSON.parse(text).error.details.error).toEqual({ redis: { status: 'down' } });
    } finally {
      await app.close();
    }
  });
});
