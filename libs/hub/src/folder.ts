import { createHash } from 'node:crypto';
import YAML from 'yaml';
import type { PairFormat, QualityReport, Run, RunManifest, RunSeal } from '@amend/contracts';

/*
 * The Hugging Face dataset folder of a run, built in memory, the one builder of `amend export RUN
 * --hf DIR` (which writes it to disk), `amend export RUN --hub` and `POST /v1/runs/{id}/exports/hub`
 * (which push it): a folder that `datasets.load_dataset(DIR)` reads as a DatasetDict (train and
 * test splits named in the README's `configs`), the run's manifest (`manifest.json`, a body
 * `POST /v1/runs` replays) and a dataset card: YAML front matter (configs, license, the
 * constitution with version and sha256, models, counts, the quality report, the manifest's
 * settings, the audit seal, what the export left out) and a body with the constitution's text and
 * how to check the lineage.
 *
 * `datasets` cannot load an empty JSON Lines file (datasets 5.0.1: `Instruction "test" corresponds
 * to no data!`; 4.x: a bare StopIteration), so an empty split is no file and no `data_files`
 * entry, and the card says which split was left out and why. An export of no pairs at all is
 * refused (EmptyExportError): a folder of nothing is no dataset.
 */

export interface HfExportOptions {
  testSize: number;
  seed: number;
  format: PairFormat;
  license: string;
  /** `accepted`: only pairs a reviewer accepted (the card says so). */
  reviewed?: 'accepted';
}

export const SPLITS = ['train', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** Refused: the export holds no pair. */
export class EmptyExportError extends Error {}

/** Why a split is empty, in words: the test share of the pairs rounds to none of them, or to all. */
export function emptyBecause(split: Split, total: number, testSize: number): string {
  const ofTotal = `${total} ${total === 1 ? 'pair' : 'pairs'}`;
  return split === 'test' ? `test_size ${testSize} of ${ofTotal} rounds to 0` : `test_size ${testSize} of ${ofTotal} puts every pair in test`;
}

/**
 * The lines of the test split: exactly round(n * testSize) of them, chosen by sha256 of (seed,
 * sample index), so the same run, seed and size always give the same split, and a prompt keeps its
 * split across reruns of the same manifest.
 */
export function splitLines(lines: readonly string[], testSize: number, seed: number): { train: string[]; test: string[] } {
  const keyed = lines.map((line) => {
    const index = (JSON.parse(line) as { sample_index?: number }).sample_index ?? 0;
    return { line, index, key: createHash('sha256').update(`split:${seed}:${index}`).digest('hex') };
  });
  const nTest = Math.round(lines.length * testSize);
  const test = new Set(
    [...keyed]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, nTest)
      .map((k) => k.line),
  );
  const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
  return {
    train: keyed
      .filter((k) => !test.has(k.line))
      .sort(byIndex)
      .map((k) => k.line),
    test: keyed
      .filter((k) => test.has(k.line))
      .sort(byIndex)
      .map((k) => k.line),
  };
}

/**
 * The name of the folder's one config: `amend-` and 12 hex digits of the sha256 of the two split
 * files. `datasets` caches a folder under its base name, the config name and a hash that does not
 * change with the files' content (seen with datasets 5.0.1): with the usual `default`, loading a
 * second export into the same folder, or another folder of the same name, returned the first one's
 * rows from the cache, or failed to cast them. A name that follows the content makes the cache
 * follow it; `default: true` keeps `load_dataset(DIR)` picking it without being told.
 */
export function configName(train: string, test: string): string {
  return `amend-${createHash('sha256').update(train).update('\0').update(test).digest('hex').slice(0, 12)}`;
}

/** What the card says beyond the pairs: each part is left out when the caller has none. */
export interface HfCardExtras {
  /** The constitution version's text, as `GET /v1/constitutions/{name}/{version}` gives it in YAML. */
  constitutionYaml?: string | null;
  /** `GET /v1/runs/{id}/manifest`: its settings go in the front matter, the whole of it in manifest.json. */
  manifest?: RunManifest | null;
  /** The run's last seal (the run's `seal`), which the trail an auditor exports holds. */
  seal?: RunSeal | null;
  /** What the export left out, by why (its `Amend-Excluded` header); absent when not known. */
  excluded?: Record<string, number> | null;
}

/** The folder's files by path, as text. */
export interface HfFolder {
  files: { path: string; content: string }[];
  counts: { train: number; test: number };
}

export const MANIFEST_FILE = 'manifest.json';

/** Every path the builder writes: a push deletes one the repository holds and this folder lacks. */
export const HF_FOLDER_FILES = ['README.md', 'train.jsonl', 'test.jsonl', MANIFEST_FILE] as const;

export function datasetCard(
  run: Run,
  report: QualityReport,
  counts: { train: number; test: number },
  opts: HfExportOptions,
  config = 'default',
  extras: HfCardExtras = {},
): string {
  const settings = extras.manifest ? manifestSettings(extras.manifest) : null;
  const total = counts.train + counts.test;
  const present = SPLITS.filter((s) => counts[s] > 0);
  const absent = SPLITS.filter((s) => counts[s] === 0);
  const excluded = extras.excluded ?? null;
  const front = {
    license: opts.license,
    configs: [
      {
        config_name: config,
        ...(config !== 'default' && { default: true }),
        data_files: present.map((split) => ({ split, path: `${split}.jsonl` })),
      },
    ],
    task_categories: ['text-generation'],
    tags: ['constitutional-ai', 'preference', 'dpo', 'amend', ...(run.simulated ? ['simulated'] : [])],
    // Keys sorted: the same run read back through another path (Postgres's jsonb, a client's schema
    // parse) comes with other key orders, and the same run must give the same bytes (a push compares them).
    amend: sortedKeys({
      run_id: run.id,
      mode: run.mode,
      format: opts.format,
      constitution: { name: run.constitution.name, version: run.constitution.version, sha256: run.constitution.sha256 },
      models: { policy: run.model, feedback: run.feedback_model ?? null },
      simulated: run.simulated,
      seed: run.seed,
      rounds: run.rounds,
      sampling: run.sampling,
      split: { test_size: opts.testSize, seed: opts.seed },
      ...(opts.reviewed && { reviewed: opts.reviewed }),
      counts: { train: counts.train, test: counts.test, total, samples: run.counts },
      // Splits with no pair have no file: `datasets` cannot load an empty one.
      ...(absent.length && { splits_left_out: absent }),
      // Pairs the export left out, by why (Amend-Excluded); {} when none.
      ...(excluded && { excluded }),
      quality_report: report.overall,
      ...(settings && { manifest: settings }),
      audit: extras.seal
        ? { sealed: true, seal_event_id: extras.seal.event_id, seal_hash: extras.seal.hash, root: extras.seal.root, sealed_at: extras.seal.at }
        : { sealed: false },
    }),
  };
  const c = run.constitution;
  const body = [
    `# Amend run ${run.id}`,
    '',
    `Preference pairs made by Amend (a constitutional-AI critique-and-revise service) with the constitution **${c.name}@${c.version}** (sha256 \`${c.sha256}\`), ` +
      `mode \`${run.mode}\`, policy model alias \`${run.model}\`${run.feedback_model ? `, feedback model alias \`${run.feedback_model}\`` : ''}.`,
    '',
    `Format \`${opts.format}\` (see Amend's docs/ml-teams.md, "Export formats"): ${
      opts.format === 'conversational'
        ? "TRL's conversational preference format (prompt as messages, chosen/rejected one assistant message each)"
        : opts.format === 'standard'
          ? "TRL's standard preference format (HH transcript prompt; prompt + chosen is the full text)"
          : 'the columns of HuggingFaceH4/cai-conversation-harmless'
    }. Every row also has id, run_id, sample_id, sample_index, reason, category and metadata; ` +
      `\`metadata.external_id\` is the prompt's id and \`metadata.prompt_metadata\` the metadata it was handed in with (null when none).`,
    '',
    `Splits: ${present.map((s) => `${counts[s]} ${s}`).join(', ')} (test_size ${opts.testSize}, seed ${opts.seed}, by sample index).`,
    ...absent.map((s) => `No \`${s}\` split: it would be empty (${emptyBecause(s, total, opts.testSize)}), and \`datasets\` cannot load an empty file.`),
    ...(excluded
      ? [
          `Left out of this export: ${
            Object.entries(excluded)
              .map(([why, n]) => `${why} ${n}`)
              .join(', ') || 'none'
          } (see Amend's docs/ml-teams.md, "Left out").`,
        ]
      : []),
    run.simulated ? '\n**Made by the built-in simulator: for trying pipelines, not for training.**' : '',
    '',
    '```python',
    'from datasets import load_dataset',
    `ds = load_dataset("path/to/this/folder")  # DatasetDict with ${present.join(' and ')}`,
    '```',
    '',
    ...(settings
      ? [`\`${MANIFEST_FILE}\` is the run's manifest: posted to Amend's \`POST /v1/runs\` as is, it makes the run again (same prompts, seed and settings).`, '']
      : []),
    ...lineage(run, extras.seal ?? null),
    ...(extras.constitutionYaml
      ? ['', `## Constitution ${c.name}@${c.version}`, '', `sha256 \`${c.sha256}\``, '', '```yaml', extras.constitutionYaml.trimEnd(), '```', '']
      : []),
  ].join('\n');
  return `---\n${YAML.stringify(front, { lineWidth: 0 })}---\n\n${body}`;
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  );
}

/** The manifest without its prompts (they are the dataset's, and manifest.json has them): the settings that made the run. */
function manifestSettings(manifest: RunManifest): Record<string, unknown> {
  const { prompts, ...settings } = manifest;
  return { ...settings, prompts: prompts.length, file: MANIFEST_FILE };
}

/** How a reader checks the pairs against the run's audit trail, from the seal this card names. */
function lineage(run: Run, seal: RunSeal | null): string[] {
  if (!seal) return ['## Lineage', '', 'The run was not sealed when this card was written (it had not finished), so the card names no seal.'];
  return [
    '## Lineage',
    '',
    `Every model call behind these pairs is in Amend's hash-chained audit trail. The run was sealed by event \`${seal.event_id}\` ` +
      `(hash \`${seal.hash}\`, ${seal.at}), the RFC 6962 Merkle root over its chains being \`${seal.root}\`.`,
    '',
    "To check it, get the run's audit bundle from the operator's auditors (`amend audit export " + run.id + '`) and run:',
    '',
    '```bash',
    `amend audit verify --file audit-${run.id}.jsonl --dataset train.jsonl   # every line against its pair in the trail`,
    `grep ${seal.event_id} audit-${run.id}.jsonl                             # the seal above, chained into the bundle`,
    '```',
    '',
    'A later event (a review, this push) seals the run again; the bundle keeps every seal, so the one above stays in it.',
  ];
}

/** The folder of a run's pair lines (one JSON object a line, in any export format). */
export function buildHfFolder(lines: readonly string[], run: Run, report: QualityReport, opts: HfExportOptions, extras: HfCardExtras = {}): HfFolder {
  if (lines.length === 0) throw new EmptyExportError('the export holds no pair');
  const { train, test } = splitLines(lines, opts.testSize, opts.seed);
  const jsonl = (xs: string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
  const [trainText, testText] = [jsonl(train), jsonl(test)];
  const counts = { train: train.length, test: test.length };
  const files = [
    { path: 'README.md', content: datasetCard(run, report, counts, opts, configName(trainText, testText), extras) },
    // An empty split is no file (a push deletes one the repository still holds: HF_FOLDER_FILES).
    ...(train.length ? [{ path: 'train.jsonl', content: trainText }] : []),
    ...(test.length ? [{ path: 'test.jsonl', content: testText }] : []),
    ...(extras.manifest ? [{ path: MANIFEST_FILE, content: `${JSON.stringify(sortedKeys(extras.manifest), null, 2)}\n` }] : []),
  ];
  return { files, counts };
}
