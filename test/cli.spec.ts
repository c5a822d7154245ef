import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversationalPairLineSchema, H4PairLineSchema } from '@amend/contracts';
import { ndjson, stackForFile, testEnv, type Stack } from './support/stack';
import { amendCli } from './support/capture';

const env = testEnv('cli');
let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), 'amend-cli-'));

const cli = (...argv: string[]) => amendCli(stack, stack.submitterKey, argv);

stackForFile(env, {}, (s) => (stack = s));

it('amend run submits a prompts file to the running API, follows it to the end and downloads the pairs', async () => {
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `q${i}`, prompt: `How do I water plant ${i}?` })).join('\n'));
  const out = join(dir, 'pairs.jsonl');
  const run = await cli('run', prompts, '--constitution', 'amend-core', '--rounds', '2', '--out', out);
  expect(run.err).toContain('12/12 done'); // progress goes to stderr, data to files/stdout
  expect(run.code).toBe(0);
  const lines = ndjson(readFileSync(out, 'utf8'));
  expect(lines).toHaveLength(12);
  lines.forEach((l) => ConversationalPairLineSchema.parse(l));
  expect(lines.map((l) => l.metadata.external_id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `q${i}`).sort());

  const runId = lines[0].run_id;
  const status = await cli('status', runId, '--json');
  expect(status.code).toBe(0);
  expect(JSON.parse(status.out).counts.completed).toBe(12);

  const h4 = await cli('pairs', runId, '--format', 'h4');
  expect(h4.code).toBe(0);
  ndjson(h4.out).forEach((l) => H4PairLineSchema.parse(l));
});

it("amend run exits 1 with the server's error for an unknown constitution", async () => {
  const prompts = join(dir, 'one.txt');
  writeFileSync(prompts, 'hello\n');
  const run = await cli('run', prompts, '--constitution', 'no-such-thing');
  expect(run.code).toBe(1);
  expect(run.err).toContain('constitution_not_found');
});

it('amend export --hf writes train/test splits and a dataset card whose front matter names the splits, constitution, models and counts', async () => {
  const prompts = join(dir, 'hf-prompts.jsonl');
  writeFileSync(prompts, Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `h${i}`, prompt: `How do I fold shirt ${i}?` })).join('\n'));
  const run = await cli('run', prompts, '--constitution', 'amend-core', '--seed', '3', '--out', join(dir, 'hf-pairs.jsonl'));
  expect(run.code).toBe(0);
  const runId = ndjson(readFileSync(join(dir, 'hf-pairs.jsonl'), 'utf8'))[0].run_id;
  const folder = join(dir, 'hf');
  const exported = await cli('export', runId, '--hf', folder, '--test-size', '0.2', '--seed', '7');
  expect(exported.code).toBe(0);
  const train = ndjson(readFileSync(join(folder, 'train.jsonl'), 'utf8'));
  const test = ndjson(readFileSync(join(folder, 'test.jsonl'), 'utf8'));
  // 20% of 10, exactly; every pair in one split only.
  expect([train.length, test.length]).toEqual([8, 2]);
  expect(new Set([...train, ...test].map((l) => l.sample_index)).size).toBe(10);
  [...train, ...test].forEach((l) => ConversationalPairLineSchema.parse(l));
  const card = readFileSync(join(folder, 'README.md'), 'utf8');
  const front = YAML.parse(card.split('---\n')[1]);
  // The config is named after the content (datasets caches a folder by its name and config name, not by its files).
  const contentName = `amend-${createHash('sha256')
    .update(readFileSync(join(folder, 'train.jsonl')))
    .update('\0')
    .update(readFileSync(join(folder, 'test.jsonl')))
    .digest('hex')
    .slice(0, 12)}`;
  expect(front.configs).toEqual([
    {
      config_name: contentName,
      default: true,
      data_files: [
        { split: 'train', path: 'train.jsonl' },
        { split: 'test', path: 'test.jsonl' },
      ],
    },
  ]);
  expect(front.license).toBe('other');
  expect(front.amend.constitution).toMatchObject({ name: 'amend-core', version: '1.0.0' });
  expect(front.amend.constitution.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(front.amend.counts).toMatchObject({ train: 8, test: 2, total: 10 });
  expect(front.amend.quality_report.pairs).toBe(10);
  expect(front.amend.models.policy).toBe('default');
  // Same seed, same split.
  const again = join(dir, 'hf2');
  await cli('export', runId, '--hf', again, '--test-size', '0.2', '--seed', '7');
  expect(readFileSync(join(again, 'test.jsonl'), 'utf8')).toBe(readFileSync(join(folder, 'test.jsonl'), 'utf8'));
  expect(YAML.parse(readFileSync(join(again, 'README.md'), 'utf8').split('---\n')[1]).configs[0].config_name).toBe(contentName);
  // Another split of the same run is other content: another config name.
  await cli('export', runId, '--hf', again, '--test-size', '0.3', '--seed', '7');
  expect(YAML.parse(readFileSync(join(again, 'README.md'), 'utf8').split('---\n')[1]).configs[0].config_name).not.toBe(contentName);
});
