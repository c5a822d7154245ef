import { applyReview, exportReview, formatPair, toSft } from '@amend/pipeline';
import { asStoredJson, canonicalJson } from './canonical';
import type { BundledPair, Erasure } from './bundle';

/**
 * A dataset file someone received, checked line by line against the pairs of an audit bundle
 * (`amend audit verify --file BUNDLE --dataset FILE.jsonl`): each line must be exactly the export
 * line of its pair (found by the line's `id`) in the format it is written in, as the export
 * builds it (libs/pipeline formats.ts, with the pair's latest review applied as the export
 * applies it), and that pair must hash to what its `pair.emitted` event recorded.
 */
export type DatasetFileFormat = 'conversational' | 'standard' | 'h4' | 'sft';

export type DatasetLineReason = 'not_json' | 'unknown_format' | 'no_pair' | 'pair_altered' | 'differs';

/** A line of a pair whose sample was erased after the file was exported: it cannot be compared, and is not called altered. */
export interface DatasetErasedLine {
  line: number;
  id: string;
  format: DatasetFileFormat;
  erasure: { event_id: string; by: string; at: string; reason: string | null };
}

export interface DatasetLineFailure {
  /** Line number in the file, from 1. */
  line: number;
  reason: DatasetLineReason;
  /** The pair id the line gives (null when it gives none). */
  id: string | null;
  format: DatasetFileFormat | null;
  /** Top-level fields that differ from the pair's line (for `differs`). */
  fields: string[];
  message: string;
}

export interface DatasetFileReport {
  ok: boolean;
  lines: number;
  matched: number;
  formats: Partial<Record<DatasetFileFormat, number>>;
  failures: DatasetLineFailure[];
  failures_total: number;
  erased: DatasetErasedLine[];
}

const MAX_FAILURES = 1000;

/** Which export a line comes from, by the fields only that format has. */
export function datasetLineFormat(line: Record<string, unknown>): DatasetFileFormat | null {
  if ('init_prompt' in line) return 'h4';
  if (Array.isArray(line.messages) && !('chosen' in line)) return 'sft';
  if (Array.isArray(line.prompt) && Array.isArray(line.chosen)) return 'conversational';
  if (typeof line.prompt === 'string' && typeof line.chosen === 'string') return 'standard';
  return null;
}

/** The export line of a pair in a format, with its review applied as the export applies it (or as emitted, without). */
export function exportLineOf(pair: BundledPair, format: DatasetFileFormat, withReview = true): Record<string, unknown> {
  const review = withReview ? pair.review : null;
  const record = applyReview(pair.record, review);
  const line: object = format === 'sft' ? toSft(record) : formatPair(record, format);
  return asStoredJson<Record<string, unknown>>(review ? { ...line, review: exportReview(review) } : line);
}

function differingFields(got: Record<string, unknown>, want: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
  return [...keys].filter((k) => !(k in got) || !(k in want) || canonicalJson(got[k]) !== canonicalJson(want[k])).sort();
}

export async function checkDatasetFile(
  lines: AsyncIterable<string> | Iterable<string>,
  pairs: Map<string, BundledPair>,
  erasedPairs: Map<string, Erasure> = new Map(),
): Promise<DatasetFileReport> {
  const failures: DatasetLineFailure[] = [];
  let total = 0;
  let count = 0;
  let matched = 0;
  const formats: DatasetFileReport['formats'] = {};
  const erased: DatasetErasedLine[] = [];
  const fail = (f: Omit<DatasetLineFailure, 'fields'> & { fields?: string[] }) => {
    total++;
    if (failures.length < MAX_FAILURES) failures.push({ fields: [], ...f });
  };
  let lineNo = 0;
  for await (const raw of lines as AsyncIterable<string>) {
    lineNo++;
    if (!raw.trim()) continue;
    count++;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      fail({ line: lineNo, reason: 'not_json', id: null, format: null, message: `line ${lineNo} is not JSON` });
      continue;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      fail({ line: lineNo, reason: 'unknown_format', id: null, format: null, message: `line ${lineNo} is not a JSON object` });
      continue;
    }
    const line = value as Record<string, unknown>;
    const id = typeof line.id === 'string' ? line.id : null;
    const format = datasetLineFormat(line);
    if (!format) {
      fail({
        line: lineNo,
        reason: 'unknown_format',
        id,
        format: null,
        message: `line ${lineNo} is in none of the export formats (conversational, standard, h4, sft)`,
      });
      continue;
    }
    formats[format] = (formats[format] ?? 0) + 1;
    const pair = id ? pairs.get(id) : undefined;
    const gone = id && !pair ? erasedPairs.get(id) : undefined;
    if (gone) {
      erased.push({ line: lineNo, id: id!, format, erasure: { event_id: gone.event_id, by: gone.by, at: gone.at, reason: gone.reason } });
      continue;
    }
    if (!pair) {
      fail({
        line: lineNo,
        reason: 'no_pair',
        id,
        format,
        message: id ? `line ${lineNo}: pair ${id} is not in the bundle` : `line ${lineNo} names no pair (no "id")`,
      });
      continue;
    }
    if (pair.erased && !pair.intact) {
      const { event_id, by, at, reason } = pair.erased;
      erased.push({ line: lineNo, id: id!, format, erasure: { event_id, by, at, reason } });
      continue;
    }
    if (!pair.intact) {
      fail({
        line: lineNo,
        reason: 'pair_altered',
        id,
        format,
        message: `line ${lineNo}: pair ${id} in the bundle is not the pair its pair.emitted event recorded`,
      });
      continue;
    }
    const got = canonicalJson(line);
    const want = exportLineOf(pair, format);
    if (got === canonicalJson(want)) {
      matched++;
      continue;
    }
    // A file exported before the pair was reviewed holds the pair as it was emitted.
    if (pair.review && got === canonicalJson(exportLineOf(pair, format, false))) {
      matched++;
      continue;
    }
    const fields = differingFields(line, want);
    fail({
      line: lineNo,
      reason: 'differs',
      id,
      format,
      fields,
      message: `line ${lineNo} (${format}, pair ${id}) is not its pair's line: ${fields.join(', ')} differ${fields.length === 1 ? 's' : ''}`,
    });
  }
  return { ok: total === 0, lines: count, matched, formats, failures, failures_total: total, erased };
}
