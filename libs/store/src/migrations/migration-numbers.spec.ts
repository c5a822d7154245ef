import { readdirSync } from 'node:fs';
import { MIGRATIONS } from './index';

/**
 * Two migrations shipped as 0014 before this check existed; databases have applied them under
 * these names (Kysely records names), so renaming either would re-run or orphan it. They stay.
 */
const GRANDFATHERED = new Set(['0014_prompt_messages', '0014_run_stopped']);

const files = readdirSync(__dirname)
  .filter((f) => /^\d{4}_.+\.ts$/.test(f) && !f.endsWith('.spec.ts'))
  .map((f) => f.replace(/\.ts$/, ''));

describe('migration numbers', () => {
  it('are never used twice, but for the two shipped 0014s', () => {
    const byNumber = new Map<string, string[]>();
    for (const name of files) byNumber.set(name.slice(0, 4), [...(byNumber.get(name.slice(0, 4)) ?? []), name]);
    const repeated = [...byNumber.values()].filter((names) => names.length > 1).flat();
    expect(repeated.filter((name) => !GRANDFATHERED.has(name))).toEqual([]);
    expect(repeated.sort()).toEqual([...GRANDFATHERED].sort());
  });

  it('are each registered once, under the name of their file, in the order of the files', () => {
    expect(Object.keys(MIGRATIONS)).toEqual([...files].sort());
  });
});
