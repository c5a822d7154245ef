import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { duplicateIdMessage, PromptItem, PromptItemSchema, type TextPromptItem } from '@amend/contracts';

export const PROMPTS_FORMATS = ['jsonl', 'json', 'txt'] as const;
export type PromptsFormat = (typeof PROMPTS_FORMATS)[number];

/** A prompts file that cannot be submitted; `line` is 1-based, `item` is the 1-based array position in `.json`. */
export class PromptsFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly where: { line?: number; item?: number } = {},
  ) {
    const at = where.line !== undefined ? `:${where.line}` : where.item !== undefined ? ` (item ${where.item})` : '';
    super(`${file}${at}: ${reason}`);
    this.name = 'PromptsFileError';
  }
}

const EXTENSIONS: Record<string, PromptsFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.txt': 'txt',
};

export function formatOfPath(path: string): PromptsFormat {
  const ext = extname(path).toLowerCase();
  const format = EXTENSIONS[ext];
  if (!format) {
    throw new PromptsFileError(
      path,
      `cannot tell the format from the extension "${ext}"; name the file .jsonl (one JSON prompt a line), ` +
        `.json (an array of prompts) or .txt (one prompt a line)`,
    );
  }
  return format;
}

export async function readPromptsFile(path: string): Promise<PromptItem[]> {
  const format = formatOfPath(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(err);
    throw new PromptsFileError(path, reason);
  }
  return parsePrompts(text, format, path);
}

/**
 * Turns the text of a prompts file into the `prompts` of a run. Each item is checked against the
 * same schema the API uses, so a bad prompt is reported with its line here instead of as an
 * array index in a 422 from the server.
 */
export function parsePrompts(text: string, format: PromptsFormat, file = '<prompts>'): PromptItem[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const items = format === 'json' ? parseJsonArray(body, file) : parseLines(body, format, file);
  if (items.length === 0) throw new PromptsFileError(file, 'contains no prompts');
  checkUniqueIds(items, file, format);
  return items.map((i) => i.value);
}

interface Located {
  value: PromptItem;
  line?: number;
  item?: number;
}

function parseLines(text: string, format: 'jsonl' | 'txt', file: string): Located[] {
  const out: Located[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (raw.trim() === '') continue;
    const line = i + 1;
    let value: unknown = raw;
    if (format === 'jsonl') {
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw new PromptsFileError(
          file,
          `not valid JSON (${(err as Error).message}); each line must be a JSON string, an object {"id"?, "prompt", "metadata"?} or {"id"?, "messages", "metadata"?}`,
          { line },
        );
      }
    }
    out.push({ value: checkItem(value, file, { line }), line });
  }
  return out;
}

function parseJsonArray(text: string, file: string): Located[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = position ? lineOfOffset(text, Number(position[1])) : undefined;
    throw new PromptsFileError(file, `not valid JSON (${message})`, { line });
  }
  if (!Array.isArray(data)) {
    throw new PromptsFileError(file, `expected a JSON array of prompts, got ${kindOf(data)}`);
  }
  return data.map((value, i) => ({ value: checkItem(value, file, { item: i + 1 }), item: i + 1 }));
}

function checkItem(value: unknown, file: string, where: { line?: number; item?: number }): PromptItem {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (typeof value !== 'string' && !isObject) {
    throw new PromptsFileError(
      file,
      `expected a prompt string, an object {"id"?, "prompt", "metadata"?} or a conversation {"id"?, "messages", "metadata"?}, got ${kindOf(value)}`,
      where,
    );
  }
  if (isObject && !('prompt' in (value as object)) && !('messages' in (value as object))) {
    throw new PromptsFileError(file, 'the object has neither a "prompt" field nor a "messages" conversation', where);
  }
  const parsed = PromptItemSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.flatMap((issue) =>
    // A union reports one list per branch: keep the branch of the value's own shape.
    issue.code === 'invalid_union' ? (issue.errors[isObject ? 1 : 0] ?? [issue]) : [issue],
  );
  const reason = issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      const keys = i.code === 'unrecognized_keys' ? ` (allowed: "id", "prompt" or "messages", "metadata"; a message has "role" and "content")` : '';
      return (path ? `${path}: ` : '') + i.message + keys;
    })
    .join('; ');
  throw new PromptsFileError(file, reason, where);
}

/**
 * The items of a command that takes single-turn prompts only (evaluations, previews): a
 * multi-turn prompt there is an error naming it, not a conversation silently cut to its last turn.
 */
export function singleTurnPrompts(items: PromptItem[], file: string, what: string): TextPromptItem[] {
  return items.map((p, i) => {
    if (typeof p === 'string') return p;
    if (p.prompt === undefined)
      throw new PromptsFileError(file, `${what} takes single-turn prompts; prompt ${i + 1} is a conversation ("messages")`, { item: i + 1 });
    return { ...(p.id !== undefined && { id: p.id }), prompt: p.prompt, ...(p.metadata !== undefined && { metadata: p.metadata }) };
  });
}

function checkUniqueIds(items: Located[], file: string, format: PromptsFormat): void {
  const seen = new Map<string, Located>();
  for (const item of items) {
    const id = typeof item.value === 'string' ? undefined : item.value.id;
    if (id === undefined) continue;
    const first = seen.get(id);
    if (first) {
      const firstAt = format === 'json' ? `item ${first.item}` : `line ${first.line}`;
      throw new PromptsFileError(file, duplicateIdMessage(id, firstAt), {
        line: item.line,
        item: item.item,
      });
    }
    seen.set(id, item);
  }
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
