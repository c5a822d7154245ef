import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { startSimulatorServer } from '@amend/llm';
import { ROOT, authHeaders, cleanup, json, randomKey, testEnv, waitFor } from './support/stack';
import { freePort } from './support/free-port';
import { startFakeHub, type FakeHub } from '../libs/hub/src/testing/fake-hub';

/**
 * Secrets never reach a log or the audit trail: the API and worker run as `npm start` does, in
 * their own process with debug logs, and every line they print is searched for the keys used.
 */
const providerKey = `sk-test-${randomBytes(16).toString('hex')}`;
const adminKey = randomKey();
const hfToken = `hf_${randomBytes(16).toString('hex')}`;
let hub: FakeHub;
let sim: Awaited<ReturnType<typeof startSimulatorServer>>;
let proxy: Server;
const seenAuthorization = new Set<string>();
let child: ChildProcess;
let logs = '';
let env: Record<string, string>;
let url: string;

/** Between Amend and the model: notes the Authorization header the backend receives, then forwards. */
async function startProxy(target: string): Promise<string> {
  proxy = createServer(async (req: IncomingMessage, res) => {
    if (req.headers.authorization) seenAuthorization.add(req.headers.authorization);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const upstream = await fetch(target + req.url!.replace(/^\/v1/, ''), {
      method: req.method,
      headers: { 'content-type': 'application/json' },
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`;
}

beforeAll(async () => {
  sim = await startSimulatorServer({});
  hub = await startFakeHub({ tokens: { [hfToken]: 'ml-team' } });
  const base = await startProxy(sim.url);
  const port = await freePort();
  env = testEnv('secrets', {
    PORT: String(port),
    LOG_LEVEL: 'debug',
    AMEND_ADMIN_KEY: adminKey,
    AMEND_MODELS: JSON.stringify({ default: { base_url: base, model: 'sim', api_key_env: 'PROVIDER_KEY' } }),
    PROVIDER_KEY: providerKey,
    AMEND_HF_TOKENS: JSON.stringify({ ml: hfToken }),
    HF_ENDPOINT: hub.url,
  });
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(ROOT, 'apps/all/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  await waitFor(async () => (await fetch(`${url}/ready`)).ok, { timeoutMs: 90_000, what: 'the API process' });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await new Promise((r) => proxy?.close(r));
  await sim?.close();
  await hub?.close();
  await cleanup(env);
});

it('keeps API keys, provider keys, Hugging Face tokens and Authorization headers out of the logs and the audit trail', async () => {
  const created = await fetch(`${url}/v1/keys`, {
    method: 'POST',
    headers: authHeaders(adminKey, { 'content-type': 'application/json' }),
    body: JSON.stringify({ role: 'submitter', team: 'ml' }),
  });
  const submitter = (await json(created)).key as string;
  const run = await json(
    await fetch(`${url}/v1/runs`, {
      method: 'POST',
      headers: authHeaders(submitter, { 'content-type': 'application/json' }),
      body: JSON.stringify({ constitution: 'amend-core', prompts: ['Hello there', 'How are you?'] }),
    }),
  );
  await waitFor(async () => (await json(await fetch(`${url}/v1/runs/${run.id}`, { headers: authHeaders(submitter) }))).status === 'completed', {
    what: 'the run',
  });
  // The run pushed to the Hugging Face Hub with the team's token, and a push the Hub refuses (logged as an error).
  const pushTo = (repo: string) =>
    fetch(`${url}/v1/runs/${run.id}/exports/hub`, {
      method: 'POST',
      headers: authHeaders(submitter, { 'content-type': 'application/json' }),
      body: JSON.stringify({ repo }),
    });
  expect((await json(await pushTo('ml-team/prefs'))).changed).toBe(true);
  hub.failNext(/whoami/, 401, 'Invalid credentials in Authorization header');
  expect((await pushTo('ml-team/other')).status).toBe(502);
  expect(hub.requests.filter((r) => r.authorization !== `Bearer ${hfToken}`)).toEqual([]);

  // Refused requests are logged too: a wrong key, a revoked key, a key of the wrong role.
  const wrong = randomKey();
  expect((await fetch(`${url}/v1/runs`, { headers: authHeaders(wrong) })).status).toBe(401);
  expect((await fetch(`${url}/v1/keys`, { headers: authHeaders(submitter) })).status).toBe(403);

  // The backend did get the provider key: it was in use, and still appears nowhere else.
  expect([...seenAuthorization]).toEqual([`Bearer ${providerKey}`]);
  expect(logs).toContain('"level"'); // JSON logs were captured
  expect(logs).toMatch(/GET|POST/); // request logs included
  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  const trail = (await pg.query(`select coalesce(string_agg(a::text, ' '), '') as text from audit_events a`)).rows[0].text as string;
  await pg.end();
  expect(trail).toContain('draft.generated');
  expect(trail).toContain('dataset.pushed');
  expect(logs).toContain('exports/hub');
  for (const secret of [providerKey, adminKey, submitter, wrong, hfToken]) {
    expect(logs).not.toContain(secret);
    expect(trail).not.toContain(secret);
  }
  expect(logs).not.toMatch(/Bearer\s+amd_/);
  expect(logs).not.toMatch(/hf_[0-9a-f]{8}/);
});
