import YAML from 'yaml';
import type { QualityReport, Run, RunManifest } from '@amend/contracts';
import { buildHfFolder, HF_FOLDER_FILES } from './folder';

/** A finished run as GET /v1/runs/{id} gives it, trimmed to what the card reads. */
const run = {
  id: '6f1c2d4e-0000-4000-8000-000000000001',
  status: 'completed',
  mode: 'critique-revise',
  constitution: { name: 'amend-core', version: '1.0.0', sha256: 'a'.repeat(64) },
  rounds: 1,
  seed: 3,
  model: 'default',
  feedback_model: null,
  sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
  counts: { total: 4, pending: 0, running: 0, completed: 4, failed: 0, cancelled: 0 },
  simulated: true,
  seal: { event_id: '6f1c2d4e-0000-4000-8000-0000000000aa', hash: 'b'.repeat(64), root: 'c'.repeat(64), at: '2026-12-07T22:00:00.000Z' },
} as unknown as Run;
const report = { overall: { pairs: 4, noop_share: 0, flags: { truncated: 0, noop: 1 } } } as unknown as QualityReport;
const manifest = {
  constitution: 'amend-core@1.0.0',
  constitution_sha256: 'a'.repeat(64),
  prompts: ['a', 'b', 'c', 'd'],
  mode: 'critique-revise',
  rounds: 1,
  seed: 3,
  model: 'default',
  sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
} as unknown as RunManifest;
const lines = [0, 1, 2, 3].map((i) => JSON.stringify({ id: `p${i}`, sample_index: i }));
const options = { testSize: 0.25, seed: 0, format: 'conversational' as const, license: 'cc-by-4.0' };

/** The same value with every object's keys in reverse order, as another read path may give it. */
function reversed<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversed) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversed(v)]),
  ) as T;
}

it('writes the splits, manifest.json and the card, and only paths a push may later delete', () => {
  const folder = buildHfFolder(lines, run, report, options, { constitutionYaml: 'name: amend-core\nversion: 1.0.0\n', manifest, seal: run.seal });
  expect(folder.files.map((f) => f.path)).toEqual(['README.md', 'train.jsonl', 'test.jsonl', 'manifest.json']);
  expect(folder.files.every((f) => (HF_FOLDER_FILES as readonly string[]).includes(f.path))).toBe(true);
  expect(folder.counts).toEqual({ train: 3, test: 1 });
  const card = folder.files[0].content;
  const front = YAML.parse(card.split('---\n')[1]);
  expect(front.amend.audit).toEqual({
    sealed: true,
    seal_event_id: run.seal!.event_id,
    seal_hash: 'b'.repeat(64),
    root: 'c'.repeat(64),
    sealed_at: '2026-12-07T22:00:00.000Z',
  });
  expect(front.amend.manifest).toEqual({
    constitution: 'amend-core@1.0.0',
    constitution_sha256: 'a'.repeat(64),
    prompts: 4,
    file: 'manifest.json',
    mode: 'critique-revise',
    rounds: 1,
    seed: 3,
    model: 'default',
    sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
  });
  expect(card).toContain('## Constitution amend-core@1.0.0\n\nsha256 `' + 'a'.repeat(64) + '`\n\n```yaml\nname: amend-core\nversion: 1.0.0\n```');
  expect(JSON.parse(folder.files[3].content)).toEqual(manifest);
});

it('gives the same bytes for the same run whatever order its objects’ keys come in (a push compares bytes)', () => {
  const a = buildHfFolder(lines, run, report, options, { manifest, seal: run.seal });
  const b = buildHfFolder(lines, reversed(run), reversed(report), options, { manifest: reversed(manifest), seal: reversed(run.seal) });
  expect(b.files).toEqual(a.files);
});

it('says a run not yet sealed has no seal, rather than naming one', () => {
  const card = buildHfFolder(lines, { ...run, seal: null }, report, options).files[0].content;
  expect(YAML.parse(card.split('---\n')[1]).amend.audit).toEqual({ sealed: false });
  expect(card).toContain('the card names no seal');
});
