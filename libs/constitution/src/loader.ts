import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { ConstitutionError, type ConstitutionIssue } from './errors';
import { constitutionSha256 } from './hash';
import type { Constitution } from './schema';
import { validateConstitution, type Locate } from './validate';

export interface LoadedConstitution {
  constitution: Constitution;
  /** sha256 of the canonical content, see constitutionSha256. */
  sha256: string;
  path: string;
}

export interface LoadFileOptions {
  /**
   * Check that the file sits at `<name>/<version>.yaml` for the name and version it declares
   * (default true). Off for content that does not live in the constitutions folder yet, such as
   * a draft being previewed.
   */
  checkLayout?: boolean;
}

/**
 * Parses YAML constitution text. Syntax errors and schema errors both point at a line and
 * column of `file` so an author can jump to them.
 */
export function parseConstitutionYaml(text: string, file: string | null = null): Constitution {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConstitutionIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const duplicate = e.code === 'DUPLICATE_KEY';
      return {
        path: '(yaml)',
        message: firstLine(e.message),
        fix: duplicate
          ? 'each field may appear once per mapping; delete or merge the repeated key'
          : 'fix the YAML syntax at this position (check indentation, a missing ":" or an unclosed quote)',
        ...(pos ? { line: pos.line, col: pos.col } : {}),
      };
    });
    throw new ConstitutionError('constitution_syntax', file, issues);
  }
  let content: unknown;
  try {
    // Aliases expand: a few nested ones ("billion laughs") make gigabytes. yaml counts the
    // expansion and refuses past this (its default, stated here so it is not lost).
    content = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConstitutionError('constitution_syntax', file, [
      {
        path: '(yaml)',
        message: firstLine((e as Error).message),
        fix: `a constitution needs few or no YAML aliases (*name); write the text out instead (at most ${MAX_ALIAS_COUNT} alias expansions)`,
      },
    ]);
  }
  return validateConstitution(content, { file, locate: yamlLocator(doc, lineCounter) });
}

/** Alias expansions a constitution may use (see parseConstitutionYaml). */
const MAX_ALIAS_COUNT = 100;

/**
 * A locator into `text` parsed as YAML (JSON is YAML too), so issues found in content that was
 * parsed elsewhere, such as a JSON request body, can still point at a line and column. Undefined
 * when the text does not parse.
 */
export function locatorForText(text: string): Locate | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  return doc.errors.length > 0 ? undefined : yamlLocator(doc, lineCounter);
}

function yamlLocator(doc: Document, lineCounter: LineCounter): Locate {
  // Points at a field's key (`revision:`) where there is one, else at the value itself.
  return (path) => {
    if (path.length > 0) {
      const parentPath = path.slice(0, -1) as unknown[];
      const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
      const last = path[path.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
        if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]);
      }
    }
    const node = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
    if (!isNode(node) || !node.range) return undefined;
    return lineCounter.linePos(node.range[0]);
  };
}

/** Loads and validates one `constitutions/<name>/<version>.yaml` file. */
export function loadConstitutionFile(path: string, opts: LoadFileOptions = {}): LoadedConstitution {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConstitutionError('constitution_unreadable', path, [
      {
        path: '(file)',
        message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        fix: 'check that the path exists and is a readable file',
      },
    ]);
  }
  const constitution = parseConstitutionYaml(text, path);
  if (opts.checkLayout ?? true) checkLayout(path, constitution);
  return { constitution, sha256: constitutionSha256(constitution), path };
}

/**
 * Loads every `<dir>/<name>/<version>.yaml`, sorted by name and then version. Other files (a
 * README, a LICENSE) are ignored; a YAML file outside that layout is an error rather than
 * silently skipped, since an author who put it there meant it to be loaded.
 */
export function loadConstitutionDir(dir: string): LoadedConstitution[] {
  const loaded: LoadedConstitution[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      for (const file of readdirSync(full).sort()) {
        const path = join(full, file);
        if (!statSync(path).isFile()) continue;
        if (isYamlName(file)) loaded.push(loadConstitutionFile(path));
      }
    } else if (isYamlName(entry)) {
      throw new ConstitutionError('constitution_layout', full, [
        {
          path: '(file)',
          message: 'a constitution file directly in the constitutions folder',
          fix: 'move it to <name>/<version>.yaml inside its own folder',
        },
      ]);
    }
  }
  return loaded.sort((a, b) => a.constitution.name.localeCompare(b.constitution.name) || compareVersions(a.constitution.version, b.constitution.version));
}

/** Orders semantic versions numerically (1.10.0 after 1.9.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isYamlName(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

function checkLayout(path: string, c: Constitution): void {
  const folder = basename(dirname(path));
  const ext = extname(path);
  const stem = basename(path, ext);
  const issues: ConstitutionIssue[] = [];
  if (ext !== '.yaml') {
    issues.push({
      path: '(file)',
      message: `the file name ends in "${ext}"`,
      fix: `rename it to ${c.version}.yaml`,
    });
  }
  if (c.name !== folder) {
    issues.push({
      path: 'name',
      message: `name "${c.name}" differs from the folder "${folder}"`,
      fix: `set name: ${folder}, or move the file to constitutions/${c.name}/`,
    });
  }
  if (c.version !== stem) {
    issues.push({
      path: 'version',
      message: `version "${c.version}" differs from the file name "${stem}${ext}"`,
      fix: `set version: "${stem}" or rename the file to ${c.version}.yaml (a new version is a new file; published versions never change)`,
    });
  }
  if (issues.length > 0) throw new ConstitutionError('constitution_layout', path, issues);
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}
