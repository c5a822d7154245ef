import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildHfFolder, emptyBecause, HF_FOLDER_FILES, pushToHub, SPLITS, type HfExportOptions } from '@amend/hub';
import { CodedError, type PairFormat } from '@amend/contracts';
import type { ApiClient } from './api-client';
import { EXIT_EMPTY, leftOut } from './export-summary';

type Print = (s: string) => void;

export interface ExportFlags extends HfExportOptions {
  hf?: string;
  hub?: string;
  private?: boolean;
  branch?: string;
  format: PairFormat;
  exclude?: string;
}

/**
 * `amend export RUN --hf DIR` writes the run's HF dataset folder; `--hub OWNER/NAME` pushes the
 * same folder (built by @amend/hub, as the API's push builds it) to a dataset repository with the
 * token in HF_TOKEN, to HF_ENDPOINT if set. Both may be given.
 */
export async function exportCommand(runId: string, opts: ExportFlags, api: ApiClient, env: NodeJS.ProcessEnv, out: Print, err: Print): Promise<number> {
  if (!opts.hf && !opts.hub) {
    err('give --hf <dir> (write the folder), --hub <owner/name> (push it to the Hugging Face Hub), or both');
    return 1;
  }
  const token = env.HF_TOKEN?.trim();
  if (opts.hub && !token) {
    err('--hub needs a Hugging Face write token in HF_TOKEN (https://huggingface.co/settings/tokens)');
    return 1;
  }
  const run = await api.getRun(runId);
  const [report, manifest, constitutionYaml, stream] = await Promise.all([
    api.getReport(runId),
    api.getManifest(runId),
    api.getConstitutionYaml(run.constitution.name, run.constitution.version),
    api.pairsStream(runId, opts.format, { exclude: opts.exclude, reviewed: opts.reviewed }),
  ]);
  const text = await new Response(stream.body).text();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const left = leftOut(stream.excluded);
  if (lines.length === 0) {
    // No folder of nothing, and no push of one: `datasets` cannot load it, and a training job must not find one.
    err(`the export is empty: nothing written${opts.hf ? ` to ${opts.hf}` : ''}${opts.hub ? ` or pushed to ${opts.hub}` : ''}${left ? `; ${left}` : ''}`);
    return EXIT_EMPTY;
  }
  const folder = buildHfFolder(lines, run, report, opts, { constitutionYaml, manifest, seal: run.seal ?? null, excluded: stream.excluded });
  const { train, test } = folder.counts;
  const splits = SPLITS.filter((s) => folder.counts[s] > 0)
    .map((s) => `${folder.counts[s]} ${s}`)
    .join(' and ');
  // What is not in the folder, and why: an empty split, the pairs the export left out.
  const notes = [
    ...SPLITS.filter((s) => folder.counts[s] === 0).map((s) => `no ${s} split: ${emptyBecause(s, lines.length, opts.testSize)}`),
    ...(left ? [left] : []),
  ]
    .map((x) => `; ${x}`)
    .join('');

  if (opts.hf) {
    const written = new Set(folder.files.map((f) => f.path));
    for (const f of folder.files) {
      const path = join(opts.hf, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content);
    }
    // A file of an earlier export into the same folder that this one has not (an empty split) goes, so the folder is what its card says.
    for (const path of HF_FOLDER_FILES) if (!written.has(path)) rmSync(join(opts.hf, path), { force: true });
    out(`${splits} pairs written to ${opts.hf} (README.md dataset card; load with datasets.load_dataset("${opts.hf}"))${notes}`);
  }
  if (!opts.hub) return 0;
  try {
    const pushed = await pushToHub(folder.files, {
      repo: opts.hub,
      token: token!,
      private: opts.private,
      branch: opts.branch,
      endpoint: env.HF_ENDPOINT || undefined,
      title: `Amend run ${run.id}: ${train} train and ${test} test pairs`,
      description: `Constitution ${run.constitution.name}@${run.constitution.version} (sha256 ${run.constitution.sha256}); pushed by amend export --hub.`,
      owned: HF_FOLDER_FILES,
    });
    const where = `${pushed.url}${pushed.branch === 'main' ? '' : ` (branch ${pushed.branch})`}`;
    out(
      pushed.changed
        ? `${splits} pairs pushed to ${where}: commit ${pushed.commit}${pushed.created ? ' (repository created)' : ''}${notes}`
        : `${where} already holds this folder: nothing pushed`,
    );
    return 0;
  } catch (e) {
    if (e instanceof CodedError) {
      err(`error: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
