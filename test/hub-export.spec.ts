import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { startFakeHub, type FakeHub } from '../libs/hub/src/testing/fake-hub';
import { amendCli } from './support/capture';
import { json, ndjson, stackForFile, testEnv, waitForRun, type Stack } from './support/stack';

/*
 * POST /v1/runs/{id}/exports/hub and `amend export --hub` against a Hub inside the test
 * (libs/hub/src/testing/fake-hub.ts, the endpoints @huggingface/hub calls, storing what arrives):
 * the files, the card, idempotence, the seal a reader checks the pairs against, and the Hub's
 * refusals as codes.
 */
const TOKEN = 'hf_team_default_writer_4b1d';
const REPO = 'acme/amend-prefs';
let hub: FakeHub;
let env: Record<string, string> | undefined;
let stack: Stack;
let auditor: string;
let runId: string;
const dir = mkdtempSync(join(tmpdir(), 'amend-hub-'));

beforeAll(async () => {
  hub = await startFakeHub({ tokens: { [TOKEN]: 'acme' } });
  env = testEnv('hub_export', { AMEND_HF_TOKENS: JSON.stringify({ default: TOKEN }), HF_ENDPOINT: hub.url });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
afterAll(() => hub.close());

beforeAll(async () => {
  auditor = await stack.mintKey('auditor', 'audit');
  const prompts = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, prompt: `How do I repot fern ${i}?` }));
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts, seed: 5 }),
  });
  runId = (await json(res)).id;
  expect((await waitForRun(stack, runId)).status).toBe('completed');
});

const pushBody = { repo: REPO, private: true, test_size: 0.2, seed: 7, license: 'cc-by-4.0' };
const push = (body: object = pushBody, id = runId) =>
  stack.fetch(`/v1/runs/${id}/exports/hub`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const front = (card: string) => YAML.parse(card.split('---\n')[1]);
const get = async (path: string, key?: string) => json(await stack.fetch(path, {}, key));

it('creates the repository and pushes the folder in one commit: splits, manifest.json and a card with licence, constitution, manifest, models, counts, report and seal', async () => {
  const run = await get(`/v1/runs/${runId}`);
  expect(run.seal).toMatchObject({ event_id: expect.any(String), root: expect.stringMatching(/^[0-9a-f]{64}$/) });

  const res = await push();
  const out = await json(res);
  expect(res.status).toBe(200);
  expect(out).toMatchObject({ repo: REPO, branch: 'main', changed: true, created: true, counts: { train: 8, test: 2 } });
  expect(hub.repos.get(REPO)!.private).toBe(true);
  const commits = hub.commits(REPO);
  expect(commits).toHaveLength(2); // the Hub's own first commit, then ours
  expect(out.commit).toBe(commits[1].oid);

  const files = hub.files(REPO);
  expect(Object.keys(files).sort()).toEqual(['.gitattributes', 'README.md', 'manifest.json', 'test.jsonl', 'train.jsonl']);
  // The splits hold the pairs export's lines, each once.
  const pairs = ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs`)).text());
  const pushed = [...ndjson(files['train.jsonl']), ...ndjson(files['test.jsonl'])];
  expect(pushed.map((p) => p.id).sort()).toEqual(pairs.map((p) => p.id).sort());
  expect(JSON.parse(files['manifest.json'])).toEqual(await get(`/v1/runs/${runId}/manifest`));

  const card = files['README.md'];
  const meta = front(card);
  expect(meta.license).toBe('cc-by-4.0');
  expect(meta.amend.constitution).toEqual(run.constitution);
  expect(meta.amend.models).toEqual({ policy: run.model, feedback: null });
  expect(meta.amend.counts).toMatchObject({ train: 8, test: 2, total: 10 });
  expect(meta.amend.quality_report).toEqual((await get(`/v1/runs/${runId}/report`)).overall);
  expect(meta.amend.manifest).toMatchObject({ constitution: `amend-core@${run.constitution.version}`, seed: 5, prompts: 10, file: 'manifest.json' });
  expect(meta.amend.audit).toEqual({ sealed: true, seal_event_id: run.seal.event_id, seal_hash: run.seal.hash, root: run.seal.root, sealed_at: run.seal.at });
  // The constitution's text, as GET /v1/constitutions/{name}/{version} gives it in YAML.
  const yaml = await (await stack.fetch(`/v1/constitutions/amend-core/${run.constitution.version}?format=yaml`)).text();
  expect(card).toContain(yaml.trimEnd());
  expect(card).toContain(`amend audit verify --file audit-${runId}.jsonl --dataset train.jsonl`);
});

it("lets a reader check the pushed pairs against the run's audit bundle, whose chain holds the card's seal", async () => {
  const files = hub.files(REPO);
  const seal = front(files['README.md']).amend.audit;
  const bundlePath = join(dir, `audit-${runId}.jsonl`);
  const bundle = await (await stack.fetch(`/v1/runs/${runId}/audit/export`, {}, auditor)).text();
  writeFileSync(bundlePath, bundle);
  writeFileSync(join(dir, 'train.jsonl'), files['train.jsonl']);
  const verified = await amendCli(stack, '', ['audit', 'verify', '--file', bundlePath, '--dataset', join(dir, 'train.jsonl')]);
  expect(verified.out).toContain('intact');
  expect(verified.out).toContain('every line matches its pair (8 lines');
  expect(verified.code).toBe(0);
  const sealLine = ndjson(bundle).find((l) => l.event_id === seal.seal_event_id);
  expect(sealLine).toMatchObject({ type: 'run.sealed', hash: seal.seal_hash, payload: { root: seal.root } });
});

it('records the push in the run chain without the token; the run still verifies, and its seal stays the one the card names', async () => {
  const events = (await get(`/v1/runs/${runId}/audit?limit=1000`, auditor)).events as { type: string; payload: Record<string, unknown>; chain: string }[];
  const pushes = events.filter((e) => e.type === 'dataset.pushed');
  expect(pushes).toHaveLength(1);
  expect(pushes[0]).toMatchObject({ chain: `run:${runId}`, payload: { repo: REPO, branch: 'main', commit: hub.commits(REPO)[1].oid, created: true } });
  expect(JSON.stringify(events)).not.toContain(TOKEN);
  // The push's event sealed the run again...
  expect(events.filter((e) => e.type === 'run.sealed').length).toBeGreaterThanOrEqual(2);
  expect(events.at(-1)!.type).toBe('run.sealed');
  // ...and the seal over the run's work is still the card's.
  expect((await get(`/v1/runs/${runId}`)).seal).toMatchObject({ event_id: front(hub.files(REPO)['README.md']).amend.audit.seal_event_id });
  const verify = await get(`/v1/runs/${runId}/audit/verify`, auditor);
  expect(verify.ok).toBe(true);
});

it('pushing the same run again changes nothing: no commit on the Hub, no event in the trail', async () => {
  const before = (await get(`/v1/runs/${runId}/audit?limit=1000`, auditor)).events.length;
  const out = await json(await push());
  expect(out).toMatchObject({ changed: false, commit: null, created: false });
  expect(hub.commits(REPO)).toHaveLength(2);
  expect((await get(`/v1/runs/${runId}/audit?limit=1000`, auditor)).events.length).toBe(before);
});

it('amend export --hub builds the same folder as the API: pushed to the same repository, it changes nothing', async () => {
  const args = ['export', runId, '--hub', REPO, '--test-size', '0.2', '--seed', '7', '--license', 'cc-by-4.0', '--hf', join(dir, 'folder')];
  const cli = await amendCli(stack, stack.submitterKey, args, { env: { AMEND_API_KEY: stack.submitterKey, HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url } });
  expect(cli.err).toBe('');
  expect(cli.out).toContain(`${hub.url}/datasets/${REPO} already holds this folder: nothing pushed`);
  expect(cli.code).toBe(0);
  expect(hub.commits(REPO)).toHaveLength(2);
  // A new split is other content: one more commit, from the CLI this time.
  const other = await amendCli(stack, stack.submitterKey, ['export', runId, '--hub', REPO, '--test-size', '0.3'], {
    env: { AMEND_API_KEY: stack.submitterKey, HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url },
  });
  expect(other.out).toMatch(/7 train and 3 test pairs pushed to .*: commit [0-9a-f]{40}/);
  expect(hub.commits(REPO)).toHaveLength(3);
});

it("answers the Hub's refusal of a token as hub_unauthorized, naming neither token, and a team without one as hub_not_configured", async () => {
  const revoked = 'hf_revoked_token_9f8e7d';
  let undo = stack.reconfigure({ AMEND_HF_TOKENS: JSON.stringify({ default: revoked }), HF_ENDPOINT: hub.url });
  try {
    const res = await push({ repo: 'acme/other' });
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(JSON.parse(text).error).toMatchObject({ code: 'hub_unauthorized', details: { hub_status: 401 } });
    expect(JSON.parse(text).error.message).toContain('refused the token');
    expect(text).not.toContain(revoked);
  } finally {
    undo();
  }
  expect(hub.repos.has('acme/other')).toBe(false);

  undo = stack.reconfigure({ AMEND_HF_TOKENS: JSON.stringify({ research: TOKEN }), HF_ENDPOINT: hub.url });
  try {
    const res = await push();
    expect(res.status).toBe(422);
    expect((await json(res)).error).toMatchObject({ code: 'hub_not_configured', details: { team: 'default' } });
  } finally {
    undo();
  }

  const cli = await amendCli(stack, stack.submitterKey, ['export', runId, '--hub', 'acme/other'], {
    env: { AMEND_API_KEY: stack.submitterKey, HF_TOKEN: revoked, HF_ENDPOINT: hub.url },
  });
  expect(cli.code).toBe(1);
  expect(cli.err).toContain('hub_unauthorized');
  expect(cli.err + cli.out).not.toContain(revoked);
});

it('refuses a malformed repository id, branch or licence with 422 before asking the Hub', async () => {
  const asked = hub.requests.length;
  for (const body of [{ repo: 'no-owner' }, { repo: 'acme/bad name' }, { repo: 'acme/x', branch: '../main' }, { repo: 'acme/x', license: 'Not A Licence' }]) {
    const res = await push(body);
    expect({ body, status: res.status, code: (await json(res)).error.code }).toEqual({ body, status: 422, code: 'invalid_request' });
  }
  const env = { AMEND_API_KEY: stack.submitterKey, HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url };
  for (const args of [
    ['--hub', 'acme'],
    ['--hub', REPO, '--branch', 'a..b'],
  ]) {
    const cli = await amendCli(stack, stack.submitterKey, ['export', runId, ...args], { env });
    expect({ args, code: cli.code, said: /argument .* is invalid/.test(cli.err) }).toEqual({ args, code: 1, said: true });
  }
  expect(hub.requests.length).toBe(asked);
});
