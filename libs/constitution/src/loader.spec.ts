import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIn } from './testing';
import { ConstitutionError } from './errors';
import { compareVersions, loadConstitutionDir, loadConstitutionFile, parseConstitutionYaml } from './loader';
import { constitutionSha256 } from './hash';

const valid = (name = 'harmless', version = '1.0.0') => `name: ${name}
version: ${version}
principles:
  - id: harmful-general
    tags: [harmlessness]
    critique: Identify harm.
    revision: Remove harm.
`;

function errorOf(fn: () => unknown): ConstitutionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConstitutionError) return e;
    throw e;
  }
  throw new Error('expected a ConstitutionError');
}

describe('constitution loader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amend-constitutions-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (rel: string, text: string) => writeIn(dir, rel, text);

  it('loads a file with its parsed content, defaults applied, and its content hash', () => {
    const path = write('harmless/1.0.0.yaml', valid());
    const loaded = loadConstitutionFile(path);
    expect(loaded.path).toBe(path);
    expect(loaded.constitution.principles[0]).toEqual({
      id: 'harmful-general',
      tags: ['harmlessness'],
      critique: 'Identify harm.',
      revision: 'Remove harm.',
      weight: 1,
    });
    expect(loaded.constitution.examples).toEqual([]);
    expect(loaded.sha256).toBe(constitutionSha256(loaded.constitution));
  });

  it('names the file, the line, the field path and the fix for a missing revision', () => {
    const path = write(
      'harmless/1.0.0.yaml',
      `name: harmless
version: 1.0.0
principles:
  - id: a
    critique: Identify harm.
    revision: Remove harm.
  - id: b
    critique: Identify more harm.
`,
    );
    const err = errorOf(() => loadConstitutionFile(path));
    expect(err.code).toBe('constitution_invalid');
    expect(err.file).toBe(path);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path: 'principles[1].revision', line: 7 });
    expect(err.message).toContain(path);
    expect(err.message).toContain('principles[1].revision');
    expect(err.message).toMatch(/Fix: add "revision"/);
  });

  it('suggests the right field name for a misspelt or foreign key such as H4 "critic"', () => {
    const err = errorOf(() =>
      parseConstitutionYaml(
        `name: harmless
version: 1.0.0
principles:
  - id: a
    critic: Identify harm.
    revision: Remove harm.
`,
        'x.yaml',
      ),
    );
    const unknown = err.issues.find((i) => i.path === 'principles[0].critic');
    expect(unknown).toMatchObject({ line: 5, col: 5, fix: 'rename "critic" to "critique"' });
  });

  it('tells the author to quote a version that YAML read as a number', () => {
    const err = errorOf(() => parseConstitutionYaml(valid('harmless', '1.0'), 'x.yaml'));
    expect(err.issues[0].path).toBe('version');
    expect(err.issues[0].fix).toContain('version: "1.0.0"');
  });

  it('explains slug, enum and weight rules in words', () => {
    const err = errorOf(() =>
      parseConstitutionYaml(`name: Harmless
version: 1.0.0
principles:
  - id: a
    critique: c
    revision: r
    weight: 0
examples:
  - messages:
      - { role: bot, content: hi }
`),
    );
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i]));
    expect(byPath['name'].fix).toContain('lowercase slug');
    expect(byPath['principles[0].weight'].fix).toContain('positive number');
    expect(byPath['examples[0].messages[0].role'].fix).toBe('use one of system, user, assistant');
  });

  it('rejects duplicate principle ids, pointing at the second one', () => {
    const err = errorOf(() =>
      parseConstitutionYaml(`name: harmless
version: 1.0.0
principles:
  - { id: a, critique: c, revision: r }
  - { id: a, critique: c2, revision: r2 }
`),
    );
    expect(err.issues).toEqual([expect.objectContaining({ path: 'principles[1].id', line: 5 })]);
  });

  it('reports YAML syntax errors with their line, and duplicate keys', () => {
    const bad = errorOf(() => parseConstitutionYaml('name: harmless\nversion: [1.0.0\nprinciples: []\n', 'x.yaml'));
    expect(bad.code).toBe('constitution_syntax');
    expect(bad.issues[0].line).toBeGreaterThan(0);
    const dup = errorOf(() => parseConstitutionYaml(valid() + 'name: other\n', 'x.yaml'));
    expect(dup.code).toBe('constitution_syntax');
    expect(dup.issues[0].fix).toContain('repeated key');
  });

  it('rejects an empty file with a fix that says what to write', () => {
    const err = errorOf(() => parseConstitutionYaml('', 'x.yaml'));
    expect(err.issues[0].fix).toContain('name, version and principles');
  });

  it('requires the name to match the folder and the version to match the file name', () => {
    const wrongFolder = write('other/1.0.0.yaml', valid('harmless', '1.0.0'));
    const e1 = errorOf(() => loadConstitutionFile(wrongFolder));
    expect(e1.code).toBe('constitution_layout');
    expect(e1.issues).toEqual([expect.objectContaining({ path: 'name' })]);
    expect(e1.message).toContain('constitutions/harmless/');

    const wrongFile = write('harmless/1.0.1.yaml', valid('harmless', '1.0.0'));
    const e2 = errorOf(() => loadConstitutionFile(wrongFile));
    expect(e2.issues).toEqual([expect.objectContaining({ path: 'version' })]);

    expect(loadConstitutionFile(wrongFile, { checkLayout: false }).constitution.version).toBe('1.0.0');
  });

  it('names the file it cannot read', () => {
    const err = errorOf(() => loadConstitutionFile(join(dir, 'missing/1.0.0.yaml')));
    expect(err.code).toBe('constitution_unreadable');
    expect(err.message).toContain('missing/1.0.0.yaml');
  });

  it('loads every <name>/<version>.yaml of a folder, sorted by name and numeric version, skipping other files', () => {
    write('harmless/1.10.0.yaml', valid('harmless', '1.10.0'));
    write('harmless/1.9.0.yaml', valid('harmless', '1.9.0'));
    write('harmless/README.md', '# notes');
    write('alpha/2.0.0.yaml', valid('alpha', '2.0.0'));
    write('README.md', '# constitutions');
    const loaded = loadConstitutionDir(dir);
    expect(loaded.map((l) => `${l.constitution.name}@${l.constitution.version}`)).toEqual(['alpha@2.0.0', 'harmless@1.9.0', 'harmless@1.10.0']);
  });

  it('refuses a YAML file placed outside the <name>/<version>.yaml layout', () => {
    write('stray.yaml', valid());
    expect(errorOf(() => loadConstitutionDir(dir)).code).toBe('constitution_layout');
  });

  it('compares versions numerically', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
    expect(compareVersions('0.9.0', '1.0.0')).toBeLessThan(0);
  });
});
