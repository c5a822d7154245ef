import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversationalPairLineSchema, H4PairLineSchema } from '@amend/contracts';
import { runCli } from '../apps/cli/src/main';
import { cleanup, ndjson, startStack, testEnv, type Stack } from './support/stack';
import { capture } from './support/capture';

const env = testEnv('cli');
let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), 'amend-cli-'));

async function cli(...argv: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli(['--api', stack.url, ...argv], { stdout: out.stream, stderr: err.stream, env: { AMEND_API_KEY: stack.submitterKey }, tty: false } as any);
  return { code, stdout: out.text(), stderr: err.text() };
}

beforeAll(async () => {
  stack = await startStack(env);
});
afterAll(async () => {
  await stack?.close();
  await cleanup(env);
});

it('amend run submits a prompts file to the running API, follows it to the end and downloads the pairs', async () => {
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `q${i}`, prompt: `How do I water plant ${i}?` })).join('\n'));
  const out = join(dir, 'pairs.jsonl');
  const run = await cli('run', prompts, '--constitution', 'amend-core', '--rounds', '2', '--out', out);
  expect(run.stderr).toContain('12/12 done'); // progress goes to stderr, data to files/stdout
  expect(run.code).toBe(0);
  const lines = ndjson(readFileSync(out, 'utf8'));
  expect(lines).toHaveLength(12);
  lines.forEach((l) => ConversationalPairLineSchema.parse(l));
  expect(lines.map((l) => l.metadata.external_id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `q${i}`).sort());

  const runId = lines[0].run_id;
  const status = await cli('status', runId, '--json');
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout).counts.completed).toBe(12);

  const h4 = await cli('pairs', runId, '--format', 'h4');
  expect(h4.code).toBe(0);
  ndjson(h4.stdout).forEach((l) => H4PairLineSchema.parse(l));
});

it('amend run exits 1 with the server\'s error for an unknown constitution', async () => {
  const prompts = join(dir, 'one.txt');
  writeFileSync(prompts, 'hello\n');
  const run = await cli('run', prompts, '--constitution', 'no-such-thing');
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('constitution_not_found');
});
