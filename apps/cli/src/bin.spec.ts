import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StubApi } from '../test/stub-api';

const BIN = resolve(__dirname, '../../../bin/amend.js');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/amend.js as a user would, from a directory outside the repo. */
function amend(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; onStdout?: (text: string, kill: () => void) => void }) {
  return new Promise<Exit>((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      // From source: a dist/ left by `npm run build` must not make this test check a stale build.
      env: { PATH: process.env.PATH, AMEND_CLI_FROM_SOURCE: '1', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      opts.onStdout?.(stdout, () => child.kill('SIGINT'));
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('bin/amend.js', () => {
  let cwd: string;
  let stub: StubApi;
  let url: string;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'amend-bin-'));
    await writeFile(join(cwd, 'prompts.txt'), 'one\ntwo\n');
    stub = new StubApi({ endless: true });
    url = await stub.start();
  });
  afterAll(async () => {
    await stub.stop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('starts from any directory and reports its version', async () => {
    const r = await amend(['--version'], { cwd });
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/), stderr: '' });
  });

  it('exits 1 with a readable message on a bad prompts file', async () => {
    await writeFile(join(cwd, 'bad.jsonl'), '"fine"\n{"prompt": ""}\n');
    const r = await amend(['run', 'bad.jsonl', '-c', 'harmless', '--api', url], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: bad.jsonl:2: prompt: prompt is empty\n');
  });

  it('on Ctrl-C while waiting, exits 130 and leaves the run going', async () => {
    const r = await amend(['run', 'prompts.txt', '-c', 'harmless'], {
      cwd,
      env: { AMEND_URL: url },
      onStdout: (text, kill) => {
        if (/^run \S+\n/.test(text)) kill();
      },
    });
    const runId = [...stub.runs.keys()][0];
    expect(r.code).toBe(130);
    expect(r.stdout).toBe(`run ${runId}\n`);
    expect(r.stderr).toContain(`follow it:      amend status ${runId}`);
    expect(stub.runs.get(runId)!.status).not.toBe('cancelled');
  });
});
