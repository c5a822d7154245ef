import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The documentation a newcomer reads first stays short, its links lead somewhere, and the code
 * cites only documents that are in the repository (docs/development.md#documentation). Reads
 * files only: no service is needed.
 */

const ROOT = join(__dirname, '..');
/** Folders that are not the project's own text. */
const SKIP = new Set(['node_modules', 'dist', 'coverage', 'out', '.git', 'bench/results']);
const CODE = ['apps', 'libs', 'test', 'scripts', 'bench'];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (SKIP.has(name) || SKIP.has(relative(ROOT, path)) || name.startsWith('.venv')) continue;
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

const repoFiles = walk(ROOT);
const repoBasenames = new Set(repoFiles.map((f) => basename(f)));
const docFiles = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];
/** Every Markdown file of the repository: the guides above, and the READMEs and notes beside the code. */
const markdownFiles = repoFiles.filter((f) => f.endsWith('.md'));
// This file's own examples name documents that do not exist, on purpose.
const codeFiles = CODE.flatMap((d) => walk(join(ROOT, d))).filter((f) => /\.(ts|tsx|mts|js|mjs|py|sh)$/.test(f) && f !== __filename);

/**
 * GitHub's heading anchors: lower case, every character that is not a letter, digit, space, `-`
 * or `_` dropped, spaces to `-`; a repeated heading gets `-1`, `-2`, ...
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown, { inline: false }).split('\n')) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The text with fenced code blocks blanked (line count kept) and, unless told not to, inline code spans removed. */
function withoutCode(markdown: string, opts = { inline: true }): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      if (fenced) return '';
      return opts.inline ? line.replace(/`[^`]*`/g, '') : line;
    })
    .join('\n');
}

/** Targets of inline links and images, `[text](target)` and `![alt](target "title")`. */
export function linkTargets(markdown: string): string[] {
  const out: string[] = [];
  for (const m of withoutCode(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  return out;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Every comment of a TypeScript or JavaScript file, as the compiler reads them (so `//` in a string or URL is not one). */
export function commentsOf(file: string, text: string): string[] {
  const kind = extname(file) === '.tsx' ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const starts = new Map<number, string>();
  const collect = (pos: number) => {
    for (const r of [...(ts.getLeadingCommentRanges(text, pos) ?? []), ...(ts.getTrailingCommentRanges(text, pos) ?? [])]) {
      starts.set(r.pos, text.slice(r.pos, r.end));
    }
  };
  const visit = (node: ts.Node) => {
    collect(node.pos);
    collect(node.end);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...starts.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

/** `.md` files a text names: `docs/architecture.md`, `../README.md`, `DESIGN.md`. */
function mdReferences(text: string): string[] {
  return [...text.matchAll(/(?<![\w./-])((?:\.{1,2}\/)*(?:[\w.-]+\/)*[\w.-]+\.md)\b/g)].map((m) => m[1]);
}

describe('the documentation', () => {
  it('README.md is at most 300 lines', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(300);
  });

  it('every relative link of every Markdown file (README.md, docs/*.md and the rest) names a file of the repository, and every #anchor a heading of it', () => {
    const broken: string[] = [];
    expect(markdownFiles.map((f) => relative(ROOT, f))).toEqual(expect.arrayContaining(docFiles.map((f) => relative(ROOT, f))));
    for (const doc of markdownFiles) {
      const text = readFileSync(doc, 'utf8');
      for (const target of linkTargets(text)) {
        if (isExternal(target)) continue;
        const [path, anchor] = target.split('#');
        const file = path === '' ? doc : resolve(dirname(doc), decodeURIComponent(path));
        const where = `${relative(ROOT, doc)}: (${target})`;
        if (!file.startsWith(ROOT + '/') && file !== ROOT) broken.push(`${where} leaves the repository`);
        else if (!existsSync(file)) broken.push(`${where} names no file`);
        else if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${where} names no heading of ${relative(ROOT, file)}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('README.md and docs/*.md quote no throughput or per-pair figure: those live in bench/RESULTS.md, which they link', () => {
    const figure = /\d[\d,.]*\s*(pairs\/s|lines\/s|samples\/s|calls\/s|KB\/pair|ms\/pair|(ms|KB|MB) per pair|pairs per second)/g;
    const quoted = docFiles.flatMap((doc) => [...readFileSync(doc, 'utf8').matchAll(figure)].map((m) => `${relative(ROOT, doc)}: ${m[0]}`));
    expect(quoted).toEqual([]);
    expect('one worker makes 97.1 pairs/s; 15.5 KB per pair'.match(figure)).toEqual(['97.1 pairs/s', '15.5 KB per pair']);
  });

  it('the heading anchors are the ones GitHub makes', () => {
    // Hand-written from GitHub's rendering of these headings.
    const anchors = headingAnchors(
      '# Amend\n## The stage machine\n## Chains and seals: per sample, run, global\n### `npm test`\n## The stage machine\n```\n# not a heading\n```\n',
    );
    expect([...anchors]).toEqual(['amend', 'the-stage-machine', 'chains-and-seals-per-sample-run-global', 'npm-test', 'the-stage-machine-1']);
    expect(linkTargets('see [a](docs/a.md#x), ![b](docs/b.png "t") and `[c](no.md)`\n```\n[d](no.md)\n```')).toEqual(['docs/a.md#x', 'docs/b.png']);
  });
});

describe('the code', () => {
  it('cites only .md files that exist in the repository', () => {
    const missing: string[] = [];
    const exists = (ref: string, from: string) =>
      ref.includes('/') ? existsSync(join(ROOT, ref)) || existsSync(resolve(dirname(from), ref)) : repoBasenames.has(ref);
    for (const file of codeFiles) {
      const text = readFileSync(file, 'utf8');
      // Comments (all of a Python or shell file): a bare name must be some file's name, a path must resolve.
      const comments = /\.(py|sh)$/.test(file) ? [text] : commentsOf(file, text);
      for (const ref of comments.flatMap(mdReferences)) if (!exists(ref, file)) missing.push(`${relative(ROOT, file)}: ${ref}`);
      // Anywhere, strings included: a path from the repository's root must be there.
      for (const ref of mdReferences(text)) {
        if (/^(apps|libs|test|scripts|bench|docs|constitutions|evalsets|examples|deploy)\//.test(ref) && !existsSync(join(ROOT, ref))) {
          missing.push(`${relative(ROOT, file)}: ${ref}`);
        }
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it('cites only sections (`docs/architecture.md#group-commit`) that are headings of the document cited', () => {
    const missing: string[] = [];
    for (const file of codeFiles) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?<![\w./-])((?:[\w.-]+\/)*[\w.-]+\.md)#([\w-]+)/g)) {
        const doc = join(ROOT, m[1]);
        if (!existsSync(doc) || !headingAnchors(readFileSync(doc, 'utf8')).has(m[2])) missing.push(`${relative(ROOT, file)}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('finds the comments a citation could hide in, and not the strings', () => {
    const comments = commentsOf('x.ts', "const u = 'http://a/DESIGN.md'; // see docs/architecture.md\n/** block */\nconst t = `${u} // no`;\n");
    expect(comments).toEqual(['// see docs/architecture.md', '/** block */']);
  });

  it('no file reads or cites anything outside the repository', () => {
    const outside = [['..', 'shared'].join('/'), ['', 'work', 'shared'].join('/')];
    const offenders = repoFiles
      .filter((f) => /\.(ts|tsx|mts|js|mjs|cjs|py|sh|md|json|ya?ml)$/.test(f) || basename(f) === 'Dockerfile')
      .filter((f) => statSync(f).size < 2_000_000)
      .filter((f) => outside.some((o) => readFileSync(f, 'utf8').includes(o)))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });
});
