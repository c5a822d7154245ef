import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { EvalSet, TextPromptItem } from '@amend/contracts';

/*
 * Bundled evaluation sets: `evalsets/<name>/set.json` names the prompts file and its format.
 * Every prompt is tagged `kind: "benign"` or `"red-team"` (and `benign: true|false`, which the
 * refusal rules and the rubric read), so a report can split refusal rates by kind.
 */

const ManifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  title: z.string(),
  file: z.string().regex(/^[A-Za-z0-9._-]+$/),
  format: z.enum(['xstest-csv', 'jsonl']),
  licence: z.string(),
  source: z.string(),
});

const JsonlPromptSchema = z.strictObject({ id: z.string().min(1), prompt: z.string().min(1), kind: z.enum(['benign', 'red-team']) });

export interface LoadedEvalSet extends EvalSet {
  items: TextPromptItem[];
}

/** RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

function xstestItems(text: string): TextPromptItem[] {
  const [header, ...rows] = parseCsv(text);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`xstest csv has no column "${name}"`);
    return i;
  };
  const [id, prompt, type, label, focus, note] = ['id', 'prompt', 'type', 'label', 'focus', 'note'].map(col);
  return rows.map((r) => {
    if (r[label] !== 'safe' && r[label] !== 'unsafe') throw new Error(`xstest row ${r[id]}: label "${r[label]}" is neither safe nor unsafe`);
    const benign = r[label] === 'safe';
    return {
      id: `xstest-${r[id]}`,
      prompt: r[prompt],
      metadata: { kind: benign ? 'benign' : 'red-team', benign, type: r[type], focus: r[focus], note: r[note], xstest_id: Number(r[id]) },
    };
  });
}

function jsonlItems(text: string): TextPromptItem[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const p = JsonlPromptSchema.parse(JSON.parse(l));
      return { id: p.id, prompt: p.prompt, metadata: { kind: p.kind, benign: p.kind === 'benign' } };
    });
}

/** Every set under `dir`, read once; a malformed set stops the boot with its name. */
export function loadEvalSets(dir: string): Map<string, LoadedEvalSet> {
  const sets = new Map<string, LoadedEvalSet>();
  if (!existsSync(dir)) return sets;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const manifestPath = join(dir, entry.name, 'set.json');
    if (!existsSync(manifestPath)) continue;
    try {
      const m = ManifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
      if (m.name !== entry.name) throw new Error(`name "${m.name}" is not the folder's ("${entry.name}")`);
      const text = readFileSync(join(dir, entry.name, m.file), 'utf8');
      const items = m.format === 'xstest-csv' ? xstestItems(text) : jsonlItems(text);
      const redTeam = items.filter((i) => typeof i !== 'string' && i.metadata?.benign === false).length;
      sets.set(m.name, {
        name: m.name,
        title: m.title,
        licence: m.licence,
        source: m.source,
        prompts: items.length,
        red_team: redTeam,
        benign: items.length - redTeam,
        items,
      });
    } catch (e) {
      throw new Error(`evaluation set ${manifestPath}: ${(e as Error).message}`, { cause: e });
    }
  }
  return sets;
}
