import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIn } from './testing';
import { checkConstitutions } from './check';

const head = 'name: harmless\nversion: 1.0.0\n';
const ok = 'principles:\n  - id: a\n    critique: Identify harm.\n    revision: Remove harm.\n';

describe('checking constitution files: one located message with a fix per kind of mistake', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amend-check-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (rel: string, text: string) => writeIn(dir, rel, text);

  /** The single problem reported for one file, as the author reads it. */
  function problemIn(text: string, rel = 'harmless/1.0.0.yaml'): string {
    const path = write(rel, text);
    const result = checkConstitutions(path);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].issues).toHaveLength(1);
    return result.errors[0].message.replace(dir + '/', '');
  }

  it('a missing revision names the principle, the line and what to add', () => {
    const text = head + ok + '  - id: b\n    critique: Identify more harm.\n';
    expect(problemIn(text)).toBe(
      'harmless/1.0.0.yaml:7:5: principles[1].revision: required field "revision" is missing. ' +
        'Fix: add "revision" (the request asking the model to rewrite its response)',
    );
  });

  it('an empty or blank text says which request to write', () => {
    const text = head + 'principles:\n  - id: a\n    critique: "   "\n    revision: r\n';
    expect(problemIn(text)).toBe(
      'harmless/1.0.0.yaml:5:5: principles[0].critique: is empty. Fix: write the text (the request asking the model to critique its last response)',
    );
  });

  it('an unknown field lists the fields allowed there', () => {
    expect(problemIn(head + ok + '    severity: high\n')).toBe(
      'harmless/1.0.0.yaml:7:5: principles[0].severity: unknown field "severity". ' +
        'Fix: remove "severity"; the fields allowed here are id, critique, revision, comparison, tags, weight',
    );
  });

  it('a misspelt field suggests the intended name', () => {
    const path = write('harmless/1.0.0.yaml', head + 'principles:\n  - id: a\n    critique: c\n    revison: r\n');
    const [error] = checkConstitutions(path).errors;
    expect(error.issues).toContainEqual(expect.objectContaining({ path: 'principles[0].revison', line: 6, col: 5, fix: 'rename "revison" to "revision"' }));
  });

  it('a duplicate principle id points at the second one', () => {
    const text = head + ok + '  - id: a\n    critique: Again.\n    revision: Again.\n';
    expect(problemIn(text)).toBe(
      'harmless/1.0.0.yaml:7:5: principles[1].id: duplicate principle id "a" (already used by principles[0]). ' +
        'Fix: give every principle its own id; pairs and audit records refer to principles by id',
    );
  });

  it('a version that is not semver asks for one', () => {
    expect(problemIn('name: harmless\nversion: v1.0\n' + ok)).toBe(
      'harmless/1.0.0.yaml:2:1: version: "v1.0" is not a semantic version such as 1.0.0. Fix: use a semantic version such as 1.0.0',
    );
    expect(problemIn('name: harmless\nversion: 1.0\n' + ok)).toContain('Fix: quote the version and give all three parts, e.g. version: "1.0.0"');
  });

  it('a name that differs from its folder says where the file belongs', () => {
    expect(problemIn('name: harmful\nversion: 1.0.0\n' + ok)).toBe(
      'harmless/1.0.0.yaml: name: name "harmful" differs from the folder "harmless". Fix: set name: harmless, or move the file to constitutions/harmful/',
    );
  });

  it('a version that differs from its file name says to rename or publish a new file', () => {
    expect(problemIn(head + ok, 'harmless/1.0.1.yaml')).toContain('version: version "1.0.0" differs from the file name "1.0.1.yaml"');
  });

  it('a principle id that is not a slug shows the expected form', () => {
    expect(problemIn(head + 'principles:\n  - id: Harm General\n    critique: c\n    revision: r\n')).toContain(
      'principles[0].id: "Harm General" is not a lowercase slug such as "harmful-general"',
    );
  });

  it('a mapping where a list belongs says to make it a list', () => {
    expect(problemIn(head + 'principles:\n  id: a\n')).toBe(
      'harmless/1.0.0.yaml:3:1: principles: expected a list, found a mapping. Fix: make it a list (each item on its own line starting with "- ")',
    );
  });

  it('an empty principle list asks for at least one principle', () => {
    expect(problemIn(head + 'principles: []\n')).toContain('principles: needs at least 1 item(s)');
  });

  it('a weight of zero explains that weights are relative', () => {
    expect(problemIn(head + ok + '    weight: 0\n')).toContain(
      'principles[0].weight: must be greater than 0. Fix: use a positive number; weights are relative',
    );
  });

  it('a message role outside system, user, assistant lists the allowed roles', () => {
    expect(problemIn(head + ok + 'examples:\n  - messages:\n      - { role: bot, content: hi }\n')).toContain(
      'examples[0].messages[0].role: "bot" is not allowed. Fix: use one of system, user, assistant',
    );
  });

  it('broken YAML points at the position of the syntax error', () => {
    expect(problemIn('name: harmless\nversion: [1.0.0\nprinciples: []\n')).toMatch(/^harmless\/1\.0\.0\.yaml:\d+:\d+: \(yaml\): .*Fix: fix the YAML syntax/);
  });

  it('checks a whole folder, reporting every bad file and loading the good ones', () => {
    write('harmless/1.0.0.yaml', head + ok);
    write('harmless/1.0.1.yaml', 'name: harmless\nversion: 1.0.1\nprinciples: []\n');
    write('other/2.0.0.yaml', 'name: other\nversion: 2.0.0\n' + ok + '    extra: x\n');
    write('other/README.md', '# not a constitution');
    const result = checkConstitutions(dir);
    expect(result.files.map((f) => f.replace(dir + '/', ''))).toEqual(['harmless/1.0.0.yaml', 'harmless/1.0.1.yaml', 'other/2.0.0.yaml']);
    expect(result.loaded.map((l) => l.constitution.version)).toEqual(['1.0.0']);
    expect(result.errors.map((e) => e.file?.replace(dir + '/', ''))).toEqual(['harmless/1.0.1.yaml', 'other/2.0.0.yaml']);
  });

  it('reports a path that does not exist instead of throwing', () => {
    const result = checkConstitutions(join(dir, 'nope'));
    expect(result.errors[0].code).toBe('constitution_unreadable');
    expect(result.errors[0].message).toContain('nope');
  });
});
