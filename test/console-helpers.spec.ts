import type { Run } from '@amend/contracts';
import { ErrorAnswer } from '@amend/contracts';
import { downloadSummary, eta, promptMetadataRows, runRate } from '../apps/console/src/lib/format';
import { bumpPatch, compareSemver, nextVersionYaml, validateYaml } from '../apps/console/src/lib/versioning';

/** The console's own logic, without a browser (test/console.spec.ts drives the pages). */
describe("the pair page's prompt metadata", () => {
  it('shows each key of the metadata handed in with the prompt, strings as they are and other values as JSON', () => {
    expect(promptMetadataRows({ source: 'red-team-style', split: 'test', tags: ['a', 'b'], weight: 0.5, benign: true })).toEqual([
      ['metadata.source', 'red-team-style'],
      ['metadata.split', 'test'],
      ['metadata.tags', '["a","b"]'],
      ['metadata.weight', '0.5'],
      ['metadata.benign', 'true'],
    ]);
  });

  it('says there is none when the prompt had no metadata, or the pair predates it', () => {
    expect(promptMetadataRows(null)).toEqual([['prompt metadata', '—']]);
    expect(promptMetadataRows(undefined)).toEqual([['prompt metadata', '—']]);
    expect(promptMetadataRows({})).toEqual([['prompt metadata', '—']]);
  });
});

describe('the constitution editor', () => {
  const yaml = [
    'name: harmless',
    'version: 1.2.9',
    'changelog: >-',
    '  Split the harm principle',
    '  in two.',
    'principles:',
    '  - id: harmful-general',
    '    critique: Identify harm.',
    '    revision: Remove the harm.',
    '',
  ].join('\n');

  it('proposes the next patch version with a changelog to fill in', () => {
    expect(bumpPatch('1.2.9')).toBe('1.2.10');
    const next = nextVersionYaml(yaml, '1.2.10');
    const parsed = validateYaml(next);
    expect(parsed.ok && parsed.constitution).toMatchObject({ version: '1.2.10', changelog: 'Describe what changed.' });
    expect(validateYaml(nextVersionYaml(yaml.replace(/changelog:[\s\S]*?principles:/, 'principles:'), '1.3.0'))).toMatchObject({ ok: true });
  });

  it('reports a misspelt field with its line and the fix, as the server does', () => {
    const result = validateYaml(yaml.replace('    revision:', '    revison:'));
    expect(result.ok).toBe(false);
    const issues = result.ok ? [] : result.issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'principles[0].revison', message: 'unknown field "revison"', fix: 'rename "revison" to "revision"', line: 9 }),
      ]),
    );
  });

  it('reports YAML syntax errors with their position', () => {
    const result = validateYaml('name: x\nversion: [1.0.0\n');
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.issues[0].line).toBeDefined();
  });

  it('orders versions numerically', () => {
    expect(['1.0.10', '1.0.9', '0.9.0'].sort(compareSemver)).toEqual(['0.9.0', '1.0.9', '1.0.10']);
  });
});

describe('a run’s rate', () => {
  const run = {
    status: 'running',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: null,
    counts: { total: 100, pending: 50, running: 10, completed: 38, failed: 2, cancelled: 0 },
    usage: { calls: 120, prompt_tokens: 9000, completion_tokens: 1000 },
  } as unknown as Run;
  const now = Date.parse('2026-01-01T00:00:20.000Z');

  it('counts finished samples and tokens per second since the start, and the time left at that rate', () => {
    expect(runRate(run, now)).toEqual({ perSecond: 2, tokensPerSecond: 500, elapsedMs: 20_000 });
    expect(eta(run, now)).toBe(30_000);
  });

  it('stays what it was once the run has finished', () => {
    const done = { ...run, status: 'completed', finished_at: '2026-01-01T00:00:10.000Z' } as Run;
    expect(runRate(done, now)?.perSecond).toBe(4);
    expect(eta(done, now)).toBeNull();
  });

  it('is unknown before the run starts', () => {
    expect(runRate({ ...run, started_at: null } as Run, now)).toBeNull();
  });
});

describe('an error answer', () => {
  it('is a missing route for the code the server keeps for paths it does not have, whatever the message says', () => {
    expect(new ErrorAnswer(404, 'not_found', 'Cannot GET /v1/runs/x/report').routeMissing).toBe(true);
    expect(new ErrorAnswer(404, 'not_found', 'no route').routeMissing).toBe(true);
    // A bad or unknown id has its noun's code (a non-UUID id too, since the catalogue).
    expect(new ErrorAnswer(404, 'run_not_found', 'no such run (ids are UUIDs)').routeMissing).toBe(false);
    expect(new ErrorAnswer(404, 'constitution_not_found', 'Cannot GET').routeMissing).toBe(false);
    expect(new ErrorAnswer(403, 'forbidden', 'Cannot GET').routeMissing).toBe(false);
  });
});

describe("the download's summary", () => {
  it('says the lines and what the server left out, or that the export is empty', () => {
    expect(downloadSummary('conversational', { bytes: 4321, lines: 12, excluded: { truncated: 3 } })).toBe(
      'conversational: 12 lines (4,321 bytes); left out: truncated 3',
    );
    expect(downloadSummary('sft', { bytes: 0, lines: 0, excluded: { erased: 1, truncated: 2 } })).toBe(
      'sft: the export is empty (0 lines); left out: erased 1, truncated 2',
    );
    expect(downloadSummary('h4', { bytes: 10, lines: 1, excluded: {} })).toBe('h4: 1 line (10 bytes); nothing left out');
    expect(downloadSummary('h4', { bytes: 10, lines: 1, excluded: null })).toBe('h4: 1 line (10 bytes)');
  });
});
