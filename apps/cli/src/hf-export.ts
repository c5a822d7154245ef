import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { PairFormat, QualityReport, Run } from '@amend/contracts';

/*
 * `amend export RUN --hf DIR`: a folder that `datasets.load_dataset(DIR)` reads as a DatasetDict
 * (train and test splits named in the README's `configs`), with a dataset card: YAML front matter
 * (configs, license, the constitution with version and sha256, models, counts, the quality report)
 * and a short description. Pushing it to the Hub is `huggingface-cli upload` (not done here: no
 * network on the build machine).
 */

export interface HfExportOptions {
  testSize: number;
  seed: number;
  format: PairFormat;
  license: string;
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

export function datasetCard(run: Run, report: QualityReport, counts: { train: number; test: number }, opts: HfExportOptions, config = 'default'): string {
  const front = {
    license: opts.license,
    configs: [
      {
        config_name: config,
        ...(config !== 'default' && { default: true }),
        data_files: [
          { split: 'train', path: 'train.jsonl' },
          { split: 'test', path: 'test.jsonl' },
        ],
      },
    ],
    task_categories: ['text-generation'],
    tags: ['constitutional-ai', 'preference', 'dpo', 'amend', ...(run.simulated ? ['simulated'] : [])],
    amend: {
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
      counts: { train: counts.train, test: counts.test, total: counts.train + counts.test, samples: run.counts },
      quality_report: report.overall,
    },
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
    `Splits: ${counts.train} train, ${counts.test} test (test_size ${opts.testSize}, seed ${opts.seed}, by sample index).`,
    run.simulated ? '\n**Made by the built-in simulator: for trying pipelines, not for training.**' : '',
    '',
    '```python',
    'from datasets import load_dataset',
    'ds = load_dataset("path/to/this/folder")  # DatasetDict with train and test',
    '```',
    '',
  ].join('\n');
  return `---\n${YAML.stringify(front, { lineWidth: 0 })}---\n\n${body}`;
}

export function writeHfFolder(dir: string, lines: readonly string[], run: Run, report: QualityReport, opts: HfExportOptions): { train: number; test: number } {
  const { train, test } = splitLines(lines, opts.testSize, opts.seed);
  mkdirSync(dir, { recursive: true });
  const jsonl = (xs: string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
  const [trainText, testText] = [jsonl(train), jsonl(test)];
  writeFileSync(join(dir, 'train.jsonl'), trainText);
  writeFileSync(join(dir, 'test.jsonl'), testText);
  const counts = { train: train.length, test: test.length };
  writeFileSync(join(dir, 'README.md'), datasetCard(run, report, counts, opts, configName(trainText, testText)));
  return counts;
}
