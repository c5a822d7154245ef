import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { constitutionSha256, importH4, loadConstitutionFile } from '@amend/constitution';
import { ANTHROPIC_CAI_OPTIONS } from '../../../libs/constitution/scripts/import-anthropic-cai';
import { CliIo, runCli } from './main';

const ROOT = resolve(__dirname, '../../..');
const FIXTURE = resolve(ROOT, 'test/fixtures/h4/constitution_anthropic.json');

function capture(cwd: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  // Offline commands must not need the API: any request fails the test.
  const fetch = (() => {
    throw new Error('offline command called the API');
  }) as unknown as typeof globalThis.fetch;
  const io: CliIo = { stdout, stderr, env: {}, cwd, fetch };
  return { io, stdout: () => out, stderr: () => err };
}

const valid = (name: string, version: string, revision = 'Remove harm.') =>
  `name: ${name}\nversion: ${version}\nprinciples:\n  - id: harm\n    tags: [harmlessness]\n    critique: Identify harm.\n    revision: ${revision}\n`;

describe('amend constitution (offline commands)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amend-cli-constitution-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(rel: string, text: string) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }

  describe('validate', () => {
    it('exits 0 for the bundled constitutions and prints each version with its hash', async () => {
      const c = capture(ROOT);
      expect(await runCli(['constitution', 'validate'], c.io)).toBe(0);
      expect(c.stdout()).toMatch(/^ok {2}constitutions\/amend-core\/1\.0\.0\.yaml {2}amend-core@1\.0\.0 {2}sha256 [0-9a-f]{12}$/m);
      expect(c.stdout()).toContain('anthropic-cai@1.0.0');
      expect(c.stderr()).toContain('3 file(s) checked: 3 valid, 0 with problems');
    });

    it('exits 1 and names file, line, column, field and fix for every problem in the folder', async () => {
      write('constitutions/harmless/1.0.0.yaml', valid('harmless', '1.0.0'));
      write('constitutions/harmless/1.0.1.yaml', 'name: harmless\nversion: 1.0.1\nprinciples:\n  - id: harm\n    critique: Identify harm.\n');
      write('constitutions/other/1.0.0.yaml', valid('wrong-name', '1.0.0'));
      const c = capture(dir);
      expect(await runCli(['constitution', 'validate'], c.io)).toBe(1);
      expect(c.stderr()).toContain(
        'constitutions/harmless/1.0.1.yaml:4:5: principles[0].revision: required field "revision" is missing. ' +
          'Fix: add "revision" (the request asking the model to rewrite its response)',
      );
      expect(c.stderr()).toContain('constitutions/other/1.0.0.yaml: name: name "wrong-name" differs from the folder "other"');
      expect(c.stderr()).toContain('3 file(s) checked: 1 valid, 2 with problems');
    });

    it('checks one file, and a draft outside the folder with --no-layout', async () => {
      write('draft.yaml', valid('harmless', '2.0.0'));
      const strict = capture(dir);
      expect(await runCli(['constitution', 'validate', 'draft.yaml'], strict.io)).toBe(1);
      const loose = capture(dir);
      expect(await runCli(['constitution', 'validate', 'draft.yaml', '--no-layout'], loose.io)).toBe(0);
    });

    it('exits 1 when the folder holds no constitution at all, or does not exist', async () => {
      mkdirSync(join(dir, 'empty'));
      const c = capture(dir);
      expect(await runCli(['constitution', 'validate', 'empty'], c.io)).toBe(1);
      expect(c.stderr()).toContain('no constitution files under empty');
      const missing = capture(dir);
      expect(await runCli(['constitution', 'validate', 'nowhere'], missing.io)).toBe(1);
      expect(missing.stderr()).toContain('no such file or folder');
    });

    it('prints a machine-readable result with --json', async () => {
      write('constitutions/harmless/1.0.0.yaml', valid('harmless', '1.0.0'));
      const c = capture(dir);
      expect(await runCli(['constitution', 'validate', '--json'], c.io)).toBe(0);
      expect(JSON.parse(c.stdout())).toMatchObject({ valid: true, constitutions: [{ name: 'harmless', version: '1.0.0' }], errors: [] });
    });
  });

  describe('import-h4 and export-h4', () => {
    it('writes the shared H4 fixture as constitutions/<name>/<version>.yaml, equal to the bundled import', async () => {
      const c = capture(dir);
      const args = ['constitution', 'import-h4', FIXTURE, '--name', 'anthropic-cai', '--version', '1.0.0'];
      const opts = [
        '--title',
        ANTHROPIC_CAI_OPTIONS.title!,
        '--description',
        ANTHROPIC_CAI_OPTIONS.description!,
        '--changelog',
        ANTHROPIC_CAI_OPTIONS.changelog!,
      ];
      expect(await runCli([...args, ...opts, '--tags', ANTHROPIC_CAI_OPTIONS.tags!.join(',')], c.io)).toBe(0);
      const written = loadConstitutionFile(join(dir, 'constitutions/anthropic-cai/1.0.0.yaml'));
      const bundled = loadConstitutionFile(join(ROOT, 'constitutions/anthropic-cai/1.0.0.yaml'));
      expect(written.sha256).toBe(bundled.sha256);
      expect(c.stderr()).toContain('16 principles, 4 examples');
    });

    it('round-trips: export-h4 of the imported file equals the H4 input', async () => {
      expect(await runCli(['constitution', 'import-h4', FIXTURE, '--name', 'h4', '--version', '1.0.0', '--out', 'h4.yaml'], capture(dir).io)).toBe(0);
      const c = capture(dir);
      expect(await runCli(['constitution', 'export-h4', 'h4.yaml'], c.io)).toBe(0);
      expect(JSON.parse(c.stdout())).toEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')));
    });

    it('never overwrites an existing version file with other content', async () => {
      write('constitutions/h4/1.0.0.yaml', valid('h4', '1.0.0'));
      const c = capture(dir);
      expect(await runCli(['constitution', 'import-h4', FIXTURE, '--name', 'h4', '--version', '1.0.0'], c.io)).toBe(1);
      expect(c.stderr()).toContain('already exists with other content; a version never changes');
      expect(readFileSync(join(dir, 'constitutions/h4/1.0.0.yaml'), 'utf8')).toBe(valid('h4', '1.0.0'));
    });

    it('writes to stdout with --out - and leaves the folder alone', async () => {
      const c = capture(dir);
      expect(await runCli(['constitution', 'import-h4', FIXTURE, '--name', 'h4', '--version', '1.0.0', '--out', '-'], c.io)).toBe(0);
      expect(c.stdout()).toMatch(/^# Imported from .* \(Hugging Face H4 format\)/);
      expect(existsSync(join(dir, 'constitutions'))).toBe(false);
      const expected = importH4(JSON.parse(readFileSync(FIXTURE, 'utf8')), { name: 'h4', version: '1.0.0' });
      write('out.yaml', c.stdout());
      expect(loadConstitutionFile(join(dir, 'out.yaml'), { checkLayout: false }).sha256).toBe(constitutionSha256(expected));
    });

    it('explains a file that is not JSON or not H4', async () => {
      write('bad.json', '{"constitutions": [');
      const c = capture(dir);
      expect(await runCli(['constitution', 'import-h4', 'bad.json', '--name', 'x', '--version', '1.0.0'], c.io)).toBe(1);
      expect(c.stderr()).toContain('not valid JSON');
      write('wrong.json', '{"constitutions": [{"critique": "x", "revision": "y"}]}');
      const w = capture(dir);
      expect(await runCli(['constitution', 'import-h4', 'wrong.json', '--name', 'x', '--version', '1.0.0'], w.io)).toBe(1);
      expect(w.stderr()).toContain('constitutions[0]');
    });
  });

  describe('diff of files', () => {
    it('shows principles added, removed and changed word by word', async () => {
      write('a.yaml', valid('harmless', '1.0.0'));
      write('b.yaml', valid('harmless', '1.1.0', 'Remove all harm, gently.') + '  - id: privacy\n    critique: Find private data.\n    revision: Remove it.\n');
      const c = capture(dir);
      expect(await runCli(['constitution', 'diff', 'a.yaml', 'b.yaml'], c.io)).toBe(0);
      expect(c.stdout()).toContain('harmless@1.0.0 -> harmless@1.1.0');
      expect(c.stdout()).toContain('principles: 1 added, 0 removed, 1 changed, 0 unchanged');
      expect(c.stdout()).toContain('  + privacy');
      expect(c.stdout()).toContain('  ~ harm\n      revision: Remove {+all +}harm{+, gently+}.');
    });
  });

  it('publish checks the file locally before calling the API', async () => {
    write('constitutions/harmless/1.0.0.yaml', 'name: harmless\nversion: 1.0.0\nprinciples: []\n');
    const c = capture(dir);
    expect(await runCli(['constitution', 'publish', 'constitutions/harmless/1.0.0.yaml'], c.io)).toBe(1);
    expect(c.stderr()).toContain('principles: needs at least 1 item(s)');
    expect(c.stderr()).not.toContain('offline command called the API');
  });
});
