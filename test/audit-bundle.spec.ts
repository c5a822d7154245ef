import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { CreatedKeySchema, RunSchema, isRunFinished, type CreatedKey, type Run } from '@amend/contracts';
import { ROOT, json, ndjson, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';

/**
 * Evidence for a regulator (docs/audit.md): the bundle `amend audit export` writes carries what an
 * offline check needs (events and messages, constitution texts, manifest, key directory, pairs,
 * reviews, the global chain), and `amend audit verify --file` checks it with no server and no
 * database, names what was edited in it, and names each line of a dataset file that is not its
 * pair's line.
 */
const env = testEnv('bundle');
let stack: Stack;
let pg: Client;
let auditor: string;
let submitter: CreatedKey;
let run: Run;
let reviewedPair: string;
const dir = mkdtempSync(join(tmpdir(), 'amend-bundle-'));
const bundlePath = join(dir, 'audit.jsonl');
const FORMATS = ['conversational', 'standard', 'h4', 'sft'] as const;

/** The CLI in process, in the test's folder, against the stack. */
async function amend(key: string, ...argv: string[]) {
  const { code, out, err } = await amendCli(stack, key, argv, { cwd: dir });
  return { code, stdout: out, stderr: err };
}

/** bin/amend.js in a process of its own whose database and server point nowhere. */
function amendOffline(...argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/amend.js'), ...argv], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        AMEND_CLI_FROM_SOURCE: '1',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nowhere',
        REDIS_URL: 'redis://127.0.0.1:1',
        AMEND_URL: 'http://127.0.0.1:1',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** One character of `s` changed (a letter for another), near its middle. */
function oneByte(s: string): string {
  for (let i = Math.floor(s.length / 2); i < s.length; i++) {
    if (/[a-z]/.test(s[i])) return s.slice(0, i) + (s[i] === 'x' ? 'y' : 'x') + s.slice(i + 1);
  }
  throw new Error(`no letter to change in ${JSON.stringify(s).slice(0, 80)}`);
}

/** A copy of a JSON Lines file with line `index` (from 0) passed through `edit`; the other lines byte for byte. */
function editLine(source: string, target: string, pick: (value: any, index: number) => boolean, edit: (value: any) => void): { line: number; value: any } {
  const lines = readFileSync(source, 'utf8').split('\n');
  const index = lines.findIndex((l, i) => l.trim() !== '' && pick(JSON.parse(l), i));
  expect(index).toBeGreaterThanOrEqual(0);
  const value = JSON.parse(lines[index]);
  edit(value);
  lines[index] = JSON.stringify(value);
  writeFileSync(join(dir, target), lines.join('\n'));
  return { line: index + 1, value };
}

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c), { searchPath: true });
beforeAll(async () => {
  auditor = await stack.mintKey('auditor', 'admin');
  const made = await stack.fetch(
    '/v1/keys',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'submitter', team: 'ml', name: 'ml team ci' }) },
    stack.adminKey,
  );
  submitter = CreatedKeySchema.parse(await json(made));
  const res = await stack.fetch(
    '/v1/runs',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        constitution: 'amend-core',
        prompts: ['How do I keep basil alive?', 'Name a hardy houseplant.', 'Tell me a short joke.', 'How do I fix a squeaky door?'],
        seed: 5,
      }),
    },
    submitter.key,
  );
  expect(res.status).toBe(202);
  const { id } = RunSchema.parse(await json(res));
  run = await waitFor(
    async () => {
      const r = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`, {}, submitter.key)));
      return isRunFinished(r.status) && r;
    },
    { what: `run ${id}` },
  );
  expect(run.status).toBe('completed');
  // Datasets downloaded before any review (Postgres builds these lines), one file per format.
  for (const format of FORMATS) {
    const path = format === 'sft' ? `/v1/runs/${id}/sft` : `/v1/runs/${id}/pairs?format=${format}`;
    const body = await (await stack.fetch(path, {}, submitter.key)).text();
    expect(ndjson(body)).toHaveLength(4);
    writeFileSync(join(dir, `${format}.jsonl`), body);
  }
  // A reviewer's edit: exports made after it carry the edited text and the review.
  reviewedPair = (await pg.query('select id from pairs where run_id = $1 order by idx limit 1 offset 1', [id])).rows[0].id;
  const review = await stack.fetch(
    `/v1/pairs/${reviewedPair}/review`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'edit', chosen: 'A reviewer wrote this answer.', reason: 'clearer' }),
    },
    submitter.key,
  );
  expect(review.status).toBe(201);
  writeFileSync(join(dir, 'reviewed.jsonl'), await (await stack.fetch(`/v1/runs/${id}/pairs?format=conversational`, {}, submitter.key)).text());
  const exported = await amend(auditor, 'audit', 'export', id, '--out', 'audit.jsonl');
  expect(exported.stderr).toContain('summary to');
  expect(exported.code).toBe(0);
});

describe('the bundle amend audit export writes', () => {
  it('holds the manifest, the constitution text, the key directory, pairs with their hashes, reviews and the global chain, and no secret', async () => {
    const lines = ndjson(readFileSync(bundlePath, 'utf8'));
    const of = (kind: string) => lines.filter((l) => l.kind === kind);
    expect(lines[0]).toMatchObject({ kind: 'amend.audit.bundle', version: 2, run_id: run.id, run_status: 'completed' });
    const manifest = await json(await stack.fetch(`/v1/runs/${run.id}/manifest`, {}, submitter.key));
    expect(of('amend.audit.manifest')).toEqual([{ kind: 'amend.audit.manifest', manifest }]);
    const [constitution] = of('amend.audit.constitution');
    expect(constitution).toMatchObject({ name: 'amend-core', version: run.constitution.version, sha256: run.constitution.sha256 });
    // The text is the constitution file's content: the same principles, in YAML.
    const file = readFileSync(join(ROOT, 'constitutions/amend-core/1.0.0.yaml'), 'utf8');
    for (const m of file.matchAll(/^\s*- id: (\S+)/gm)) expect(constitution.yaml).toContain(`id: ${m[1]}`);
    const keys = of('amend.audit.key').map((l) => l.key);
    expect(keys).toContainEqual({ id: submitter.id, name: 'ml team ci', role: 'submitter', team: 'ml', created_at: submitter.created_at, revoked_at: null });
    const pairs = of('amend.audit.pair');
    expect(pairs).toHaveLength(4);
    const events = lines.filter((l) => l.kind === undefined);
    for (const p of pairs) {
      const emitted = events.find((e) => e.type === 'pair.emitted' && e.sample_id === p.sample_id);
      expect(p.pair_sha256).toBe(emitted.payload.pair_sha256);
      expect(p.record.id).toBe(p.pair_id);
    }
    expect(of('amend.audit.review').map((l) => l.review.pair_id)).toEqual([reviewedPair]);
    const global = of('amend.audit.global').map((l) => l.event);
    expect(global.map((e) => e.type)).toEqual(expect.arrayContaining(['constitution.published', 'key.created']));
    expect(lines[lines.length - 1]).toEqual({
      kind: 'amend.audit.end',
      events: events.length,
      counts: { manifest: 1, samples: 1, constitutions: 1, global_events: global.length, keys: keys.length, pairs: 4, reviews: 1 },
    });
    const text = readFileSync(bundlePath, 'utf8');
    const hashes = (await pg.query('select hash from api_keys')).rows.map((r) => r.hash as string);
    for (const secret of [submitter.key, auditor, stack.adminKey, ...hashes]) expect(text).not.toContain(secret);
  });

  it('verifies offline in a process with no database and no server, and its HTML summary says so', async () => {
    const offline = await amendOffline('audit', 'verify', '--file', 'audit.jsonl');
    expect(offline.stderr).toBe('');
    expect(offline.stdout).toContain(`bundle audit.jsonl (run ${run.id}, completed`);
    expect(offline.stdout).toContain(': intact.');
    expect(offline.code).toBe(0);
    const html = readFileSync(join(dir, 'audit.html'), 'utf8');
    const sha = createHash('sha256').update(readFileSync(bundlePath)).digest('hex');
    expect(html).toContain(sha);
    expect(html).toContain(run.id);
    expect(html).toContain('INTACT');
    expect(html).toContain(`amend-core@${run.constitution.version}`);
    expect(html).toContain('ml team ci');
    // The model ids the backend reported, not the alias the run asked for.
    expect(html).toMatch(/reported by the backends: amend-simulator[^<,]*</);
    expect(html).toContain('amend audit verify --file audit.jsonl');
    // Self-contained: nothing fetched, nothing run.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });

  // [what is edited, the line it is on, the edit, what the report must name]
  const TAMPER: [string, (l: any) => boolean, (l: any) => void, (l: any) => string[]][] = [
    [
      'the payload of an event',
      (l) => l.type === 'revision.generated',
      (l) => (l.payload.principle_id = oneByte(`${l.payload.principle_id}-x`)),
      (l) => [l.event_id, 'content changed'],
    ],
    [
      'the response body an event names by hash',
      (l) => l.type === 'revision.generated',
      (l) => (l.response.choices[0].message.content = oneByte(l.response.choices[0].message.content)),
      (l) => [l.event_id, 'does not hash to its name'],
    ],
    [
      'a message the event names by hash',
      (l) => l.type === 'critique.generated',
      (l) => (l.messages[l.messages.length - 1].content = oneByte(l.messages[l.messages.length - 1].content)),
      (l) => [l.event_id, 'does not hash to its name'],
    ],
    [
      'the constitution text',
      (l) => l.kind === 'amend.audit.constitution',
      (l) => (l.yaml = l.yaml.replace(/critique: (.+)/, (_: string, t: string) => `critique: ${oneByte(t)}`)),
      (l) => [`constitution ${l.name}@${l.version}`, 'hashes to'],
    ],
    [
      'a pair record',
      (l) => l.kind === 'amend.audit.pair',
      (l) => (l.record.chosen = oneByte(l.record.chosen)),
      (l) => [`pair ${l.pair_id} is not the pair its pair.emitted event`],
    ],
    ['a review', (l) => l.kind === 'amend.audit.review', (l) => (l.review.reason = oneByte(l.review.reason)), (l) => [`review ${l.review.id}`]],
    [
      'a key directory name',
      (l) => l.kind === 'amend.audit.key' && l.key.name === 'ml team ci',
      (l) => (l.key.name = oneByte(l.key.name)),
      (l) => [`key ${l.key.id}`, 'the name'],
    ],
    ['the manifest', (l) => l.kind === 'amend.audit.manifest', (l) => (l.manifest.rounds += 1), () => ["manifest's rounds"]],
    [
      'a prompt of the manifest',
      (l) => l.kind === 'amend.audit.manifest',
      (l) => (l.manifest.prompts[1] = oneByte(l.manifest.prompts[1])),
      () => ["manifest's prompt 1 is not the sample run.created committed to: prompt differs"],
    ],
    [
      'an event of the global chain',
      (l) => l.kind === 'amend.audit.global' && l.event.type === 'key.created',
      (l) => (l.event.payload.name = `${l.event.payload.name ?? ''}x`),
      (l) => ['global chain does not verify', l.event.event_id],
    ],
  ];
  it.each(TAMPER)('names %s edited in the file, and exits 2', async (_what, pick, edit, named) => {
    const { value } = editLine(bundlePath, 'edited.jsonl', pick, edit);
    const result = await amend('', 'audit', 'verify', '--file', 'edited.jsonl');
    expect(result.stdout).toContain('NOT intact');
    for (const s of named(value)) expect(result.stdout).toContain(s);
    expect(result.code).toBe(2);
  });

  it('names a truncated bundle, and refuses a file that is no bundle with exit 1', async () => {
    const lines = readFileSync(bundlePath, 'utf8').split('\n');
    writeFileSync(
      join(dir, 'truncated.jsonl'),
      lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n' + lines[Math.floor(lines.length / 2)].slice(0, 40),
    );
    const truncated = await amend('', 'audit', 'verify', '--file', 'truncated.jsonl');
    expect(truncated.stdout).toContain('is not JSON');
    expect(truncated.stdout).toContain('truncated');
    expect(truncated.code).toBe(2);
    writeFileSync(join(dir, 'other.jsonl'), '{"prompt": "not a bundle"}\n');
    const other = await amend('', 'audit', 'verify', '--file', 'other.jsonl');
    expect(other.stderr).toContain('not an Amend audit bundle');
    expect(other.code).toBe(1);
  });
});

describe('a dataset file checked against the bundle', () => {
  it.each(FORMATS)('%s: every line of the downloaded file matches its pair', async (format) => {
    const result = await amend('', 'audit', 'verify', '--file', 'audit.jsonl', '--dataset', `${format}.jsonl`);
    expect(result.stdout).toContain(`dataset ${format}.jsonl: every line matches its pair (4 lines: ${format} 4)`);
    expect(result.code).toBe(0);
  });

  /** Where each format keeps the chosen answer. */
  const CHOSEN: Record<(typeof FORMATS)[number], (l: any) => { get: () => string; set: (s: string) => void }> = {
    conversational: (l) => ({ get: () => l.chosen[0].content, set: (s) => (l.chosen[0].content = s) }),
    standard: (l) => ({ get: () => l.chosen, set: (s) => (l.chosen = s) }),
    h4: (l) => ({ get: () => l.chosen[l.chosen.length - 1].content, set: (s) => (l.chosen[l.chosen.length - 1].content = s) }),
    sft: (l) => ({ get: () => l.messages[l.messages.length - 1].content, set: (s) => (l.messages[l.messages.length - 1].content = s) }),
  };
  it.each(FORMATS)('%s: one edited line is named by its number, and the check exits 2', async (format) => {
    const { line, value } = editLine(
      join(dir, `${format}.jsonl`),
      `${format}-edited.jsonl`,
      (_l, i) => i === 2,
      (l) => {
        const f = CHOSEN[format](l);
        f.set(oneByte(f.get()));
      },
    );
    expect(line).toBe(3);
    const result = await amend('', 'audit', 'verify', '--file', 'audit.jsonl', '--dataset', `${format}-edited.jsonl`, '--json');
    const report = JSON.parse(result.stdout);
    expect(report.dataset_file.failures).toEqual([
      expect.objectContaining({ line: 3, reason: 'differs', id: value.id, format, fields: [format === 'sft' ? 'messages' : 'chosen'] }),
    ]);
    expect(report.dataset_file).toMatchObject({ lines: 4, matched: 3, failures_total: 1 });
    expect(result.code).toBe(2);
    const text = await amend('', 'audit', 'verify', '--file', 'audit.jsonl', '--dataset', `${format}-edited.jsonl`);
    expect(text.stdout).toContain(`line 3 (${format}, pair ${value.id}) is not its pair's line: ${format === 'sft' ? 'messages' : 'chosen'} differs`);
  });

  it("matches a reviewed pair's line as the export writes it after the review, with the reviewer's text", async () => {
    const lines = ndjson(readFileSync(join(dir, 'reviewed.jsonl'), 'utf8'));
    expect(lines.find((l) => l.id === reviewedPair).chosen[0].content).toBe('A reviewer wrote this answer.');
    const result = await amend('', 'audit', 'verify', '--file', 'audit.jsonl', '--dataset', 'reviewed.jsonl');
    expect(result.stdout).toContain('every line matches its pair (4 lines');
    expect(result.code).toBe(0);
  });

  it('names a line that is not JSON and a line of a pair the run does not have', async () => {
    const lines = readFileSync(join(dir, 'standard.jsonl'), 'utf8').split('\n');
    lines[1] = lines[1].slice(0, 30);
    const foreign = JSON.parse(lines[3]);
    foreign.id = '00000000-0000-4000-8000-000000000000';
    lines[3] = JSON.stringify(foreign);
    writeFileSync(join(dir, 'broken.jsonl'), lines.join('\n'));
    const result = await amend('', 'audit', 'verify', '--file', 'audit.jsonl', '--dataset', 'broken.jsonl');
    expect(result.stdout).toContain('line 2 is not JSON');
    expect(result.stdout).toContain('line 4: pair 00000000-0000-4000-8000-000000000000 is not in the bundle');
    expect(result.code).toBe(2);
  });
});

describe('amend audit verify --global', () => {
  it('recomputes the global chain on the server, and exits 2 once an event of it was edited in the database', async () => {
    const ok = await amend(auditor, 'audit', 'verify', '--global');
    expect(ok.stdout).toContain('the global chain: intact.');
    expect(ok.code).toBe(0);
    const target = (await pg.query(`select id, payload from audit_events where chain = 'global' and type = 'key.created' order by id limit 1 offset 1`))
      .rows[0];
    const tamper = async (payload: unknown) => {
      await pg.query('begin');
      await pg.query('set local session_replication_role = replica');
      await pg.query('update audit_events set payload = $1 where id = $2', [JSON.stringify(payload), target.id]);
      await pg.query('commit');
    };
    await tamper({ ...target.payload, role: 'admin' });
    try {
      const bad = await amend(auditor, 'audit', 'verify', '--global');
      expect(bad.stdout).toContain('the global chain: NOT intact');
      expect(bad.stdout).toContain('content changed');
      expect(bad.code).toBe(2);
    } finally {
      await tamper(target.payload);
    }
    const submitterTry = await amend(submitter.key, 'audit', 'verify', '--global');
    expect(submitterTry.stderr).toContain('forbidden');
    expect(submitterTry.code).toBe(1);
  });
});

describe('a bundle of a run with an erased sample', () => {
  it('verifies offline, saying the sample was erased (who, when, why) rather than altered, and a dataset line of its pair as erased', async () => {
    const sampleId = (await pg.query('select sample_id from pairs where id = $1', [reviewedPair])).rows[0].sample_id as string;
    const res = await stack.fetch(
      `/v1/samples/${sampleId}/erase`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'data subject request 42' }) },
      stack.adminKey,
    );
    expect(res.status).toBeLessThan(300);
    const exported = await amend(auditor, 'audit', 'export', run.id, '--out', 'after-erasure.jsonl', '--no-summary');
    expect(exported.code).toBe(0);
    const text = readFileSync(join(dir, 'after-erasure.jsonl'), 'utf8');
    // The erased prompt is nowhere in the bundle; the other prompts are.
    expect(text).not.toContain('Name a hardy houseplant.');
    expect(text).toContain('Tell me a short joke.');
    const offline = await amendOffline('audit', 'verify', '--file', 'after-erasure.jsonl', '--dataset', 'conversational.jsonl');
    expect(offline.stdout).toContain(': intact.');
    expect(offline.stdout).toContain('1 sample(s) erased');
    expect(offline.stdout).toContain(`${sampleId} by key:`);
    expect(offline.stdout).toContain('data subject request 42');
    const line = ndjson(readFileSync(join(dir, 'conversational.jsonl'), 'utf8')).findIndex((l) => l.id === reviewedPair) + 1;
    expect(offline.stdout).toContain(`line ${line} (conversational, pair ${reviewedPair}): its sample was erased`);
    expect(offline.code).toBe(0);
  });
});
