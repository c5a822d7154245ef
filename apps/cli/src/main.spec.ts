import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { RunSchema } from '@amend/contracts';
import { StubApi, StubOptions } from '../test/stub-api';
import { CliIo, runCli } from './main';

interface Captured {
  io: CliIo;
  stdout: () => string;
  stderr: () => string;
}

function capture(extra: Partial<CliIo> = {}): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return {
    io: { stdout, stderr, env: {}, pollIntervalMs: 1, progressIntervalMs: 0, tty: false, ...extra },
    stdout: () => out,
    stderr: () => err,
  };
}

describe('amend CLI (in-process, against a stub of the v1 API)', () => {
  let dir: string;
  let stub: StubApi;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'amend-cli-'));
    await writeFile(join(dir, 'prompts.jsonl'), '{"id": "q1", "prompt": "How do I pick a lock?"}\n"Tell me a joke"\n"Why is the sky blue?"\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function startStub(opts: StubOptions = {}) {
    stub = new StubApi(opts);
    url = await stub.start();
  }
  afterEach(() => stub?.stop());

  it('run: submits the file with the flags, follows the run to the end and writes its pairs', async () => {
    await startStub();
    const out = join(dir, 'pairs.jsonl');
    const c = capture({ env: { AMEND_API_KEY: 'sk-test' } });
    const code = await runCli(
      [
        'run',
        join(dir, 'prompts.jsonl'),
        '--api',
        url,
        '--constitution',
        'harmless@1.0.0',
        '--rounds',
        '2',
        '--seed',
        '0',
        '--model',
        'small',
        '--temperature',
        '0.3',
        '--max-tokens',
        '64',
        '--format',
        'standard',
        '--out',
        out,
        '--idempotency-key',
        'batch-7',
      ],
      c.io,
    );
    expect(c.stderr()).not.toMatch(/error/);
    expect(code).toBe(0);

    const post = stub.requests.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/v1/runs');
    expect(post.headers.authorization).toBe('Bearer sk-test');
    expect(post.headers['idempotency-key']).toBe('batch-7');
    expect(post.body).toEqual({
      constitution: 'harmless@1.0.0',
      prompts: [{ id: 'q1', prompt: 'How do I pick a lock?' }, 'Tell me a joke', 'Why is the sky blue?'],
      rounds: 2,
      seed: 0,
      model: 'small',
      sampling: { temperature: 0.3, max_tokens: 64 },
    });

    const runId = [...stub.runs.keys()][0];
    expect(c.stdout()).toContain(`run ${runId}\n`);
    expect(c.stdout()).toMatch(/completed in .*: 3\/3 done: 3 completed, 0 failed/);
    expect(c.stdout()).toMatch(/usage: 9 model calls, 300 prompt tokens, 120 completion tokens/);
    expect(c.stdout()).toContain(`pairs: 3 written to ${out} (format standard)`);
    expect(c.stderr()).toMatch(/running: 1\/3 done/);
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].format).toBe('standard');
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(stub.requests.every((r) => r.headers.authorization === 'Bearer sk-test')).toBe(true);
  });

  it('run: exits 1 when the run fails, still saving the pairs made and printing the failure reasons', async () => {
    await startStub({ outcome: 'failed', failing: 2 });
    const out = join(dir, 'failed.jsonl');
    const c = capture();
    const code = await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '-o', out], c.io);
    expect(code).toBe(1);
    expect(c.stdout()).toMatch(/failed in .*: 3\/3 done: 1 completed, 2 failed/);
    expect(c.stdout()).toMatch(/failures:\n\s+2 × context too long/);
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('run: keeps waiting through a poll that fails while the API restarts', async () => {
    await startStub({ flakyPoll: 2 });
    const c = capture();
    const code = await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '-o', join(dir, 'flaky.jsonl')], c.io);
    expect(code).toBe(0);
    expect(c.stderr()).toMatch(/poll failed, retrying 1: restarting/);
  });

  it('run: prints the server error with its code and details, and exits 1 without polling', async () => {
    await startStub();
    const c = capture();
    const code = await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'missing-one'], c.io);
    expect(code).toBe(1);
    expect(c.stderr()).toBe(
      'error: constitution_not_found (HTTP 422): no constitution "missing-one"; list them with GET /v1/constitutions\n' +
        '  - constitution: unknown constitution\n',
    );
    expect(stub.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
  });

  it('run: checks the flags before sending anything', async () => {
    await startStub();
    const c = capture();
    expect(await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '--rounds', '12'], c.io)).toBe(1);
    expect(c.stderr()).toMatch(/--rounds: .*<=8/);
    expect(stub.requests).toHaveLength(0);
  });

  it('run --no-wait: prints only the run id on stdout and leaves the run going', async () => {
    await startStub();
    const c = capture();
    expect(await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '--no-wait'], c.io)).toBe(0);
    const runId = [...stub.runs.keys()][0];
    expect(c.stdout()).toBe(`${runId}\n`);
    expect(c.stderr()).toContain(`amend status ${runId}`);
    expect(stub.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
  });

  it('run: stopping the wait (Ctrl-C) leaves the run going, says how to resume and exits 130', async () => {
    await startStub({ endless: true });
    const stop = new AbortController();
    let polls = 0;
    const countingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'GET' && /\/v1\/runs\/[^/]+$/.test(String(input)) && ++polls === 3) stop.abort();
      return res;
    };
    const c = capture({ fetch: countingFetch, signal: stop.signal });
    const out = join(dir, 'interrupted.jsonl');
    const code = await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '-o', out], c.io);
    const runId = [...stub.runs.keys()][0];
    expect(code).toBe(130);
    expect(c.stderr()).toContain(`run ${runId} goes on on the server`);
    expect(c.stderr()).toContain(`amend status ${runId}`);
    expect(c.stderr()).toContain(`amend pairs ${runId} --format conversational --out ${out}`);
    expect(stub.requests.some((r) => r.url.includes('/cancel'))).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('status: shows counts, usage and constitution; --json prints the run as the contract has it', async () => {
    await startStub({ failing: 1 });
    const c0 = capture();
    await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '-o', join(dir, 's.jsonl')], c0.io);
    const runId = [...stub.runs.keys()][0];

    const c = capture({ env: { AMEND_URL: url } });
    expect(await runCli(['status', runId], c.io)).toBe(0);
    expect(c.stdout()).toMatch(/^run\s+[0-9a-f-]{36}$/m);
    expect(c.stdout()).toMatch(/^status\s+completed$/m);
    expect(c.stdout()).toMatch(/^constitution\s+harmless@1\.0\.0 \(sha256 (ab){32}\)$/m);
    expect(c.stdout()).toMatch(/^samples\s+3\/3 done: 2 completed, 1 failed, 0 cancelled/m);
    expect(c.stdout()).toMatch(/^failures\n\s+1 × context too long$/m);

    const j = capture({ env: { AMEND_URL: url } });
    expect(await runCli(['status', runId, '--json'], j.io)).toBe(0);
    expect(RunSchema.parse(JSON.parse(j.stdout())).id).toBe(runId);
  });

  it('status: an unknown run prints the 404 body and exits 1', async () => {
    await startStub();
    const c = capture();
    expect(await runCli(['status', '00000000-0000-4000-8000-000000000000', '--api', url], c.io)).toBe(1);
    expect(c.stderr()).toMatch(/^error: run_not_found \(HTTP 404\): no run 00000000-0000-4000-8000-000000000000\n\s+\{\n\s+"id"/);
  });

  it('pairs: streams JSON Lines to stdout in the chosen format, or to a file with --out', async () => {
    await startStub();
    const c0 = capture();
    await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '--no-wait'], c0.io);
    const runId = c0.stdout().trim();
    const status = capture();
    await runCli(['status', runId, '--api', url], status.io); // one poll: one sample done

    const c = capture();
    expect(await runCli(['pairs', runId, '--api', url, '--format', 'h4'], c.io)).toBe(0);
    const lines = c
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([{ prompt: 'p0', chosen: 'c', rejected: 'r', format: 'h4' }]);
    expect(stub.requests.at(-1)!.url).toBe(`/v1/runs/${runId}/pairs?format=h4`);

    const file = join(dir, 'pairs-out.jsonl');
    const f = capture();
    expect(await runCli(['pairs', runId, '--api', url, '--out', file], f.io)).toBe(0);
    expect(f.stdout()).toBe('');
    expect(f.stderr()).toBe(`1 pair written to ${file}\n`);
    expect(await readFile(file, 'utf8')).toContain('"format":"conversational"');
  });

  it('rejects an unknown pairs format before calling the API', async () => {
    await startStub();
    const c = capture();
    expect(await runCli(['pairs', 'some-run', '--api', url, '--format', 'csv'], c.io)).toBe(1);
    expect(c.stderr()).toMatch(/Allowed choices are conversational, standard, h4/);
    expect(stub.requests).toHaveLength(0);
  });

  it('cancel: prints the run after cancelling its pending samples', async () => {
    await startStub();
    const c0 = capture();
    await runCli(['run', join(dir, 'prompts.jsonl'), '--api', url, '-c', 'harmless', '--no-wait'], c0.io);
    const runId = c0.stdout().trim();
    const c = capture();
    expect(await runCli(['cancel', runId, '--api', url], c.io)).toBe(0);
    expect(c.stdout()).toBe(`run ${runId} is cancelled: 3/3 done: 0 completed, 0 failed, 3 cancelled, 0 running, 0 pending\n`);
  });

  it('says how to point the CLI at the API when nothing answers', async () => {
    await startStub();
    await stub.stop();
    const c = capture({ env: { AMEND_URL: url } });
    expect(await runCli(['runs'], c.io)).toBe(1);
    expect(c.stderr()).toMatch(/cannot reach the Amend API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*--api URL or AMEND_URL/);
  });

  it('refuses an AMEND_URL that is not an http URL', async () => {
    const c = capture({ env: { AMEND_URL: 'localhost:3000' } });
    expect(await runCli(['runs'], c.io)).toBe(1);
    expect(c.stderr()).toMatch(/AMEND_URL: expected an http:\/\/ or https:\/\/ URL/);
  });

  it('--help and --version exit 0', async () => {
    const h = capture();
    expect(await runCli(['--help'], h.io)).toBe(0);
    expect(h.stdout()).toMatch(/Usage: amend/);
    const v = capture();
    expect(await runCli(['--version'], v.io)).toBe(0);
    expect(v.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
