import { CodedError } from '@amend/contracts';

/** One problem found in a constitution, phrased for the author who has to fix it. */
export interface ConstitutionIssue {
  /** Field path in the author's notation, e.g. `principles[3].revision`; `(top level)` for the whole document. */
  path: string;
  /** What is wrong. */
  message: string;
  /** What to do about it, in words. */
  fix: string;
  /** 1-based position in the source file, when the problem can be located there. */
  line?: number;
  col?: number;
}

/** Catalogue codes (libs/contracts/src/error-codes.ts). */
export type ConstitutionErrorCode =
  /** The file could not be read. */
  | 'constitution_unreadable'
  /** The file is not valid YAML (or the H4 document is not valid JSON of the expected shape). */
  | 'constitution_syntax'
  /** The content does not satisfy the constitution schema. */
  | 'constitution_invalid'
  /** The file is not at `constitutions/<name>/<version>.yaml`, or its name/version disagree with that path. */
  | 'constitution_layout';

/**
 * A constitution that cannot be used. The message names the file, the field and the fix for each
 * issue, so it can be shown to an author as is (CLI, API 422 details, boot log).
 */
export class ConstitutionError extends CodedError<ConstitutionErrorCode> {
  override readonly name = 'ConstitutionError';

  constructor(
    code: ConstitutionErrorCode,
    /** The file (or source label) the issues were found in; null for in-memory content. */
    readonly file: string | null,
    readonly issues: ConstitutionIssue[],
  ) {
    super(code, formatIssues(file, issues), { file, issues });
  }
}

function formatIssues(file: string | null, issues: ConstitutionIssue[]): string {
  const where = file ?? 'constitution';
  const lines = issues.map((i) => {
    const pos = i.line !== undefined ? `:${i.line}:${i.col ?? 1}` : '';
    return `${where}${pos}: ${i.path}: ${i.message}. Fix: ${i.fix}`;
  });
  return lines.length === 1 ? lines[0] : `${where}: ${issues.length} problems\n${lines.join('\n')}`;
}

/** `['principles', 3, 'revision']` -> `principles[3].revision`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(top level)' : out;
}
