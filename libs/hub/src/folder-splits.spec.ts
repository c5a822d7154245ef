import YAML from 'yaml';
import type { QualityReport, Run } from '@amend/contracts';
import { buildHfFolder, EmptyExportError, type HfFolder } from './folder';

/*
 * The HF folder never holds a split `datasets` cannot load: an empty JSON Lines file fails there
 * (datasets 5.0.1: `Instruction "test" corresponds to no data!`; 4.x: a bare StopIteration), so an
 * empty split is no file and no data_files entry, and the card says which and why. Checked by hand
 * with `datasets.load_dataset(DIR)` (docs/ml-teams.md); no Python here.
 */
const run = {
  id: '00000000-0000-4000-8000-000000000001',
  constitution: { name: 'c', version: '1.0.0', sha256: 'ab' },
  counts: {},
  sampling: {},
} as unknown as Run;
const report = { overall: { pairs: 0 } } as unknown as QualityReport;
const line = (i: number) => JSON.stringify({ prompt: `p${i}`, chosen: 'c', rejected: 'r', sample_index: i });
const opts = (testSize: number) => ({ testSize, seed: 0, format: 'conversational' as const, license: 'other' });
const file = (folder: HfFolder, path: string) => folder.files.find((f) => f.path === path)?.content;
const front = (folder: HfFolder) => YAML.parse(file(folder, 'README.md')!.split('---\n')[1]);

describe('the HF folder', () => {
  it('leaves out a split that would be empty, and the card says which and why', () => {
    // round(3 x 0.1) = 0 pairs in test.
    const folder = buildHfFolder([0, 1, 2].map(line), run, report, opts(0.1), { excluded: { truncated: 3 } });
    expect(folder.counts).toEqual({ train: 3, test: 0 });
    expect(folder.files.map((f) => f.path)).toEqual(['README.md', 'train.jsonl']);
    expect(file(folder, 'train.jsonl')).toBe([0, 1, 2].map(line).join('\n') + '\n');
    const card = front(folder);
    expect(card.configs[0].data_files).toEqual([{ split: 'train', path: 'train.jsonl' }]);
    expect(card.amend.splits_left_out).toEqual(['test']);
    expect(card.amend.excluded).toEqual({ truncated: 3 });
    expect(file(folder, 'README.md')).toContain('No `test` split: it would be empty (test_size 0.1 of 3 pairs rounds to 0)');
    expect(file(folder, 'README.md')).toContain('Left out of this export: truncated 3');
  });

  it('a test size of 1 puts every pair in test and leaves train out', () => {
    const folder = buildHfFolder([0, 1].map(line), run, report, opts(1));
    expect(folder.counts).toEqual({ train: 0, test: 2 });
    expect(folder.files.map((f) => f.path)).toEqual(['README.md', 'test.jsonl']);
    expect(front(folder).configs[0].data_files).toEqual([{ split: 'test', path: 'test.jsonl' }]);
    expect(front(folder).amend.splits_left_out).toEqual(['train']);
  });

  it('both splits when both have pairs, and no splits_left_out', () => {
    // round(10 x 0.2) = 2 in test.
    const folder = buildHfFolder(
      Array.from({ length: 10 }, (_, i) => line(i)),
      run,
      report,
      opts(0.2),
    );
    expect(folder.counts).toEqual({ train: 8, test: 2 });
    expect(front(folder).configs[0].data_files).toEqual([
      { split: 'train', path: 'train.jsonl' },
      { split: 'test', path: 'test.jsonl' },
    ]);
    expect(front(folder).amend.splits_left_out).toBeUndefined();
  });

  it('refuses an export of no pairs', () => {
    expect(() => buildHfFolder([], run, report, opts(0.1))).toThrow(EmptyExportError);
  });
});
