import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema } from '@amend/contracts';

const ROOT = join(__dirname, '..');
/** `| \`NAME\` | default | what |` rows of docs/configuration.md's tables. */
const rows = [...readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8').matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => ({
  name: m[1],
  fallback: m[2].trim(),
}));

describe('docs/configuration.md', () => {
  it('lists every variable of the boot schema once, and nothing the schema does not read', () => {
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
  });

  it('gives each variable the default the schema applies when it is unset', () => {
    const defaults = ConfigSchema.parse({}) as Record<string, unknown>;
    for (const { name, fallback } of rows) {
      const actual = defaults[name];
      expect({ name, fallback }).toEqual({ name, fallback: actual === undefined ? 'unset' : `\`${String(actual)}\`` });
    }
  });
});
