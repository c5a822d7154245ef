import type { z } from 'zod';
import { ChatMessageSchema } from '@amend/contracts';
import { ConstitutionError, formatPath, type ConstitutionIssue } from './errors';
import { ConstitutionSchema, ExampleSchema, PrincipleSchema, type Constitution } from './schema';

export type Locate = (path: ReadonlyArray<PropertyKey>) => { line: number; col: number } | undefined;

export interface ValidateOptions {
  /** Named in error messages. */
  file?: string | null;
  /** Maps a field path to its position in the source, for messages that point at a line. */
  locate?: Locate;
}

/**
 * Parses constitution content (from YAML, JSON or an importer) and turns every schema problem
 * into an issue naming the field and the fix. Also checks what the schema cannot express on its
 * own: principle ids must be unique, because pairs record the id and audits look it up.
 */
export function validateConstitution(data: unknown, opts: ValidateOptions = {}): Constitution {
  const file = opts.file ?? null;
  const parsed = ConstitutionSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => describeIssue(i, data, opts.locate));
    throw new ConstitutionError('constitution_invalid', file, issues);
  }
  const issues = duplicateIds(parsed.data, opts.locate);
  if (issues.length > 0) throw new ConstitutionError('constitution_invalid', file, issues);
  return parsed.data;
}

function duplicateIds(c: Constitution, locate?: Locate): ConstitutionIssue[] {
  const first = new Map<string, number>();
  const issues: ConstitutionIssue[] = [];
  c.principles.forEach((p, i) => {
    const seen = first.get(p.id);
    if (seen === undefined) {
      first.set(p.id, i);
      return;
    }
    const path = ['principles', i, 'id'];
    issues.push({
      path: formatPath(path),
      message: `duplicate principle id "${p.id}" (already used by principles[${seen}])`,
      fix: 'give every principle its own id; pairs and audit records refer to principles by id',
      ...locate?.(path),
    });
  });
  return issues;
}

const FIELD_HINTS: Record<string, string> = {
  name: 'the constitution name, a lowercase slug equal to its folder name',
  version: 'a semantic version such as "1.0.0", equal to the file name',
  principles: 'a list of principles, each with id, critique and revision',
  id: 'a lowercase slug such as "harmful-general"',
  critique: 'the request asking the model to critique its last response',
  revision: 'the request asking the model to rewrite its response',
  comparison: 'the multiple-choice question a feedback model answers',
  messages: 'a list of {role, content} messages',
  role: 'one of user, assistant, system',
  content: 'the message text',
};

function describeIssue(issue: z.core.$ZodIssue, data: unknown, locate?: Locate): ConstitutionIssue[] {
  const path = issue.path as PropertyKey[];
  const at = (p: PropertyKey[]) => nearestLocation(p, locate);
  const field = path.length > 0 ? path[path.length - 1] : undefined;
  const fieldName = typeof field === 'string' ? field : undefined;
  const value = valueAt(data, path);

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path);
      return issue.keys.map((key) => {
        const p = [...path, key];
        const near = allowed ? closest(key, allowed) : undefined;
        const fix = near ? `rename "${key}" to "${near}"` : `remove "${key}"${allowed ? `; the fields allowed here are ${allowed.join(', ')}` : ''}`;
        return { path: formatPath(p), message: `unknown field "${key}"`, fix, ...at(p) };
      });
    }
    case 'invalid_type': {
      if (path.length === 0 && (value === null || typeof value !== 'object' || Array.isArray(value))) {
        return [
          {
            path: formatPath(path),
            message: value === undefined || value === null ? 'the document is empty' : 'the document is not a mapping of fields',
            fix: 'write a YAML mapping with name, version and principles',
            ...at(path),
          },
        ];
      }
      if (value === undefined) {
        const hint = fieldName && FIELD_HINTS[fieldName] ? ` (${FIELD_HINTS[fieldName]})` : '';
        return [
          {
            path: formatPath(path),
            message: `required field "${String(field)}" is missing`,
            fix: `add "${String(field)}"${hint}`,
            ...at(path),
          },
        ];
      }
      const got = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
      let fix = `make it ${kindName(issue.expected)}`;
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
        fix = `put the value in quotes so YAML reads it as text, e.g. ${String(field)}: "${String(value)}"`;
        if (fieldName === 'version' && typeof value === 'number') {
          fix = 'quote the version and give all three parts, e.g. version: "1.0.0"';
        }
      } else if (issue.expected === 'array') {
        fix = `make it a list (each item on its own line starting with "- ")`;
      } else if (issue.expected === 'object') {
        fix = `make it a mapping of fields${fieldName && FIELD_HINTS[fieldName] ? ` (${FIELD_HINTS[fieldName]})` : ''}`;
      }
      return [{ path: formatPath(path), message: `expected ${kindName(issue.expected)}, found ${got}`, fix, ...at(path) }];
    }
    case 'too_small': {
      let fix: string;
      let message: string;
      if (issue.origin === 'string') {
        message = 'is empty';
        fix = `write the text${fieldName && FIELD_HINTS[fieldName] ? ` (${FIELD_HINTS[fieldName]})` : ''}`;
      } else if (issue.origin === 'array') {
        message = `needs at least ${String(issue.minimum)} item(s)`;
        fix = `add at least ${String(issue.minimum)} item(s)${fieldName && FIELD_HINTS[fieldName] ? ` (${FIELD_HINTS[fieldName]})` : ''}`;
      } else {
        message = `must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}`;
        fix =
          fieldName === 'weight'
            ? 'use a positive number; weights are relative, 1 is the default, 2 makes a principle twice as likely'
            : `use a number ${issue.inclusive ? 'of at least' : 'greater than'} ${String(issue.minimum)}`;
      }
      return [{ path: formatPath(path), message, fix, ...at(path) }];
    }
    case 'invalid_format':
      return [
        {
          path: formatPath(path),
          message: `"${String(value)}" is not ${issue.message}`,
          fix: `use ${issue.message}`,
          ...at(path),
        },
      ];
    case 'invalid_value':
      return [
        {
          path: formatPath(path),
          message: `"${String(value)}" is not allowed`,
          fix: `use one of ${issue.values.map(String).join(', ')}`,
          ...at(path),
        },
      ];
    default:
      return [{ path: formatPath(path), message: issue.message, fix: 'correct the value as described', ...at(path) }];
  }
}

/** YAML's words for zod's types: authors write lists and mappings, not arrays and objects. */
function kindName(expected: string): string {
  return expected === 'array' ? 'a list' : expected === 'object' ? 'a mapping' : article(expected);
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/** A missing field has no position of its own: point at the closest enclosing node that exists. */
function nearestLocation(path: PropertyKey[], locate?: Locate): { line: number; col: number } | object {
  if (!locate) return {};
  for (let n = path.length; n >= 0; n--) {
    const pos = locate(path.slice(0, n));
    if (pos) return pos;
  }
  return {};
}

function allowedKeys(path: PropertyKey[]): string[] | undefined {
  const shape = (s: { shape: Record<string, unknown> }) => Object.keys(s.shape);
  const kinds = path.map((p) => (typeof p === 'number' ? '#' : p)).join('/');
  switch (kinds) {
    case '':
      return shape(ConstitutionSchema);
    case 'principles/#':
      return shape(PrincipleSchema);
    case 'examples/#':
      return shape(ExampleSchema);
    case 'examples/#/messages/#':
      return shape(ChatMessageSchema);
    default:
      return undefined;
  }
}

/**
 * The allowed key an author most likely meant: a typo (small edit distance) or a near name from
 * another format (a long shared prefix, e.g. H4's `critic` for `critique`).
 */
function closest(key: string, allowed: string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const a of allowed) {
    const d = editDistance(k, a);
    const plausible = d <= Math.max(1, Math.floor(k.length / 3)) || commonPrefix(k, a) >= 5;
    if (plausible && d < bestScore) {
      best = a;
      bestScore = d;
    }
  }
  return best;
}

function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
