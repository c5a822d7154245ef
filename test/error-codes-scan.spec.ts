import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_CODES } from '@amend/contracts';
import { ROOT } from './support/stack';

/**
 * Every error code the service's code spells is in the catalogue (libs/contracts/src/
 * error-codes.ts), and every code of the catalogue is spelt somewhere. The compiler holds typed
 * throws to the catalogue already; this scan also covers bodies written by hand (express
 * middleware, the worker's metrics server) and the files the compiler does not see the same way.
 */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test', 'testing']);
/** The clients' own codes for what went wrong on their side (no answer, an answer off the contract) and model failures, which are not answers of the API. */
const NOT_THE_API = ['apps/cli/', 'apps/console/', 'libs/llm/'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) ? [] : sources(path);
    return /\.tsx?$/.test(name) && !/\.spec\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Where a code is written at an error: a constructor, the filter's builder, a body, a pipeline problem, a not-found builder's noun. */
const PATTERNS: [RegExp, (m: RegExpMatchArray) => string, scope?: string][] = [
  [/new (?:ApiError|StoreError|ConstitutionError|CodedError|HubPushError)\(\s*'([a-z0-9_]+)'/g, (m) => m[1]],
  [/errorResponse\(\s*'([a-z0-9_]+)'/g, (m) => m[1]],
  [/error: \{\s*code: '([a-z0-9_]+)'/g, (m) => m[1]],
  // The pipeline's run problems (RunProblem), which the API answers with their code.
  [/\bcode: '([a-z0-9_]+)',\s*message\b/g, (m) => m[1], 'libs/pipeline/'],
  [/\bcode: '([a-z0-9_]+)' satisfies ErrorCode/g, (m) => m[1]],
  [/notFound\('(run|sample|pair|key|evaluation|suggestion)'/g, (m) => `${m[1]}_not_found`],
];

const files = [...sources(join(ROOT, 'apps')), ...sources(join(ROOT, 'libs'))].filter((f) => !NOT_THE_API.some((p) => relative(ROOT, f).startsWith(p)));
const found = files.flatMap((file) => {
  const text = readFileSync(file, 'utf8');
  const rel = relative(ROOT, file);
  return PATTERNS.filter(([, , scope]) => !scope || rel.startsWith(scope)).flatMap(([re, code]) =>
    [...text.matchAll(re)].map((m) => ({ file: rel, code: code(m) })),
  );
});

describe('error codes in the code', () => {
  it('finds the throw sites (the scan itself works)', () => {
    expect(found.length).toBeGreaterThan(60);
  });

  it('spells only codes of the catalogue', () => {
    expect(found.filter((f) => !(f.code in ERROR_CODES))).toEqual([]);
  });

  it('leaves no code of the catalogue unused', () => {
    const used = new Set(found.map((f) => f.code));
    // Thrown with a code held in a variable: the constitution loader's (typed ConstitutionErrorCode).
    const typedElsewhere = new Set(['constitution_syntax', 'constitution_invalid', 'constitution_layout', 'constitution_unreadable']);
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c) && !typedElsewhere.has(c))).toEqual([]);
  });
});
