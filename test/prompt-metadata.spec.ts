import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversationalPairLineSchema, H4PairLineSchema, RunManifestSchema, RunSchema, SftLineSchema, StandardPairLineSchema } from '@amend/contracts';
import { amendCli } from './support/capture';
import { json, ndjson, ROOT, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * A prompt's id and metadata, handed in through a JSON body, a JSON Lines upload or a CLI file,
 * come out on every pair and SFT line of every format as metadata.external_id and
 * metadata.prompt_metadata, in the HF folder's rows, and in the manifest. Expected values are
 * written out here by hand, keyed by the prompt's position.
 */

const env = testEnv('prompt_metadata');
let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), 'amend-prompt-metadata-'));

stackForFile(env, {}, (s) => (stack = s));

const PROMPTS = [
  'How do I kill a python process?',
  { id: 'hh-1', prompt: 'one', metadata: { source: 'hh' } },
  {
    id: 'conv-1',
    messages: [
      { role: 'user', content: 'Hi.' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'How do I stop a process?' },
    ],
    metadata: { source: 'red-team', split: 'test', tags: ['a', 'b'], weight: 0.5 },
  },
  { prompt: 'no id, but tagged', metadata: { benign: true } },
  { id: 'bare', prompt: 'an id and no metadata' },
];
/** By sample index: [external_id, prompt_metadata], as handed in above. */
const EXPECTED: [string | null, Record<string, unknown> | null][] = [
  [null, null],
  ['hh-1', { source: 'hh' }],
  ['conv-1', { source: 'red-team', split: 'test', tags: ['a', 'b'], weight: 0.5 }],
  [null, { benign: true }],
  ['bare', null],
];

const SCHEMAS = { conversational: ConversationalPairLineSchema, standard: StandardPairLineSchema, h4: H4PairLineSchema } as const;

async function completed(res: Response): Promise<string> {
  expect(res.status).toBe(202);
  const { id } = await json(res);
  await waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return run.status === 'completed' && run.counts.completed === run.counts.total ? run : undefined;
    },
    { what: `run ${id}` },
  );
  return id;
}

const idAndMetadata = (l: { sample_index: number; metadata: { external_id: string | null; prompt_metadata?: unknown } }) =>
  [l.sample_index, l.metadata.external_id, l.metadata.prompt_metadata] as const;
const expectedRows = (expected: typeof EXPECTED) => expected.map(([id, m], i) => [i, id, m] as const);

/** Every format's lines (every pair: `exclude=` keeps flagged ones), each checked against its strict schema. */
async function everyFormat(runId: string) {
  const out: Record<string, ReturnType<typeof idAndMetadata>[]> = {};
  for (const format of ['conversational', 'standard', 'h4'] as const) {
    const res = await stack.fetch(`/v1/runs/${runId}/pairs?format=${format}&exclude=`);
    expect(res.status).toBe(200);
    out[format] = ndjson(await res.text())
      .map((l) => SCHEMAS[format].parse(l))
      .map(idAndMetadata)
      .sort((a, b) => a[0] - b[0]);
  }
  const sft = await stack.fetch(`/v1/runs/${runId}/sft?exclude=`);
  expect(sft.status).toBe(200);
  out.sft = ndjson(await sft.text())
    .map((l) => SftLineSchema.parse(l))
    .map(idAndMetadata)
    .sort((a, b) => a[0] - b[0]);
  return out;
}

it("a JSON body's prompt ids and metadata reach every format and the manifest", async () => {
  const runId = await completed(
    await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts: PROMPTS, rounds: 1, seed: 11 }),
    }),
  );
  const formats = await everyFormat(runId);
  for (const f of ['conversational', 'standard', 'h4', 'sft']) expect([f, formats[f]]).toEqual([f, expectedRows(EXPECTED)]);

  const manifest = RunManifestSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/manifest`)));
  expect(manifest.prompts).toEqual(PROMPTS);
});

it('a JSON Lines upload keeps them the same way', async () => {
  const runId = await completed(
    await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      // The first line holds the run's options, every later one a prompt.
      body: [{ constitution: 'amend-core', rounds: 1, seed: 12 }, ...PROMPTS].map((p) => JSON.stringify(p)).join('\n'),
    }),
  );
  const formats = await everyFormat(runId);
  for (const f of ['conversational', 'standard', 'h4', 'sft']) expect([f, formats[f]]).toEqual([f, expectedRows(EXPECTED)]);
});

it("a CLI file's ids and metadata (examples/prompts-multi-turn.jsonl) reach amend run's output, amend sft and the HF folder", async () => {
  const cli = (...argv: string[]) => amendCli(stack, stack.submitterKey, argv);
  const out = join(dir, 'pairs.jsonl');
  const run = await cli('run', join(ROOT, 'examples/prompts-multi-turn.jsonl'), '--constitution', 'amend-core', '--rounds', '1', '--seed', '4', '--out', out);
  expect(run.code).toBe(0);
  // The file, read by hand: mt-001..mt-008 and st-001..st-008, st-005 and st-006 bare strings; only mt-003 has metadata.
  const ids = [...Array.from({ length: 8 }, (_, i) => `mt-00${i + 1}`), 'st-001', 'st-002', 'st-003', 'st-004', null, null, 'st-007', 'st-008'];
  const expected: typeof EXPECTED = ids.map((id) => [id, id === 'mt-003' ? { source: 'red-team-style' } : null]);
  const lines = ndjson(readFileSync(out, 'utf8'));
  const byIndex = new Map(lines.map((l) => [l.sample_index as number, idAndMetadata(l)]));
  // The run's own download leaves truncated pairs out: each line it has must match.
  expect(byIndex.size).toBeGreaterThan(0);
  for (const [i, row] of byIndex) expect(row).toEqual(expectedRows(expected)[i]);

  const runId = lines[0].run_id as string;
  const sft = await cli('sft', runId, '--exclude=');
  expect(sft.code).toBe(0);
  expect(
    ndjson(sft.out)
      .map(idAndMetadata)
      .sort((a, b) => a[0] - b[0]),
  ).toEqual(expectedRows(expected));

  const folder = join(dir, 'hf');
  const exported = await cli('export', runId, '--hf', folder, '--test-size', '0.25', '--seed', '1', '--exclude=');
  expect(exported.code).toBe(0);
  const rows = ['train.jsonl', 'test.jsonl'].flatMap((f) => ndjson(readFileSync(join(folder, f), 'utf8')));
  expect(rows.map(idAndMetadata).sort((a, b) => a[0] - b[0])).toEqual(expectedRows(expected));
  expect(readFileSync(join(folder, 'README.md'), 'utf8')).toContain('`metadata.prompt_metadata`');
});
