import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '@amend/contracts';
import { ROOT } from './support/stack';

/** `| \`code\` | status | meaning |` rows of docs/errors.md. */
const rows = [...readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => ({
  code: m[1],
  status: Number(m[2]),
  meaning: m[3].replace(/\\\|/g, '|'),
}));

describe('docs/errors.md', () => {
  it('lists every code of the catalogue once, in its order, with its status and meaning', () => {
    expect(rows).toEqual(Object.entries(ERROR_CODES).map(([code, { status, meaning }]) => ({ code, status, meaning })));
  });
});
