import { Inject, Injectable } from '@nestjs/common';
import { constitutionToYaml } from '@amend/constitution';
import { formatExcluded, type Config, type HubExportRequest, type HubExportResult } from '@amend/contracts';
import { buildHfFolder, HF_FOLDER_FILES, pushToHub } from '@amend/hub';
import { CONFIG } from '@amend/runtime';
import { Store } from '@amend/store';
import { ApiError } from '../errors/api-error';
import { teamScope, type Principal } from '../auth/principal';
import { ConstitutionsService } from '../constitutions/constitutions.service';
import { PairsService, type ExportLines } from '../pairs/pairs.service';
import { ReportsService } from '../reports/reports.service';
import { RunsService } from '../runs/runs.service';

/**
 * `POST /v1/runs/{id}/exports/hub`: the run's HF dataset folder, built by the same @amend/hub
 * builder as `amend export --hf` from the same reads (the run with its seal, the report, the
 * manifest, the constitution's YAML, the pairs export), pushed to the Hub with the team's token
 * from AMEND_HF_TOKENS. The token goes to the Hub's requests and nowhere else: not into the
 * answer, an error, a log line or the `dataset.pushed` event.
 */
@Injectable()
export class HubExportService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
    private readonly pairs: PairsService,
    private readonly reports: ReportsService,
    private readonly constitutions: ConstitutionsService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async push(runId: string, body: HubExportRequest, caller: Principal): Promise<HubExportResult> {
    const run = await this.runs.detail(runId, teamScope(caller));
    const token = this.config.AMEND_HF_TOKENS?.forTeam(caller.team);
    if (!token) {
      throw new ApiError(
        'hub_not_configured',
        `no Hugging Face token for team ${caller.team}: the operator gives each team that publishes one in AMEND_HF_TOKENS`,
        {
          team: caller.team,
        },
      );
    }
    const [report, manifest, { constitution }, exported] = await Promise.all([
      this.reports.report(run),
      this.runs.manifest(runId, teamScope(caller)),
      this.constitutions.get(run.constitution.name, run.constitution.version),
      this.pairs.pairs(runId, { format: body.format, exclude: body.exclude }, caller),
    ]);
    const options = { testSize: body.test_size, seed: body.seed, format: body.format, license: body.license };
    const lines = await lineTexts(exported);
    if (lines.length === 0) {
      // A repository of nothing is no dataset (`datasets` cannot load an empty split): say what was left out instead.
      throw new ApiError(
        'empty_export',
        `the export holds no pair, so nothing was pushed; left out: ${formatExcluded(exported.excluded)} (docs/ml-teams.md "Left out")`,
        { excluded: exported.excluded },
      );
    }
    const folder = buildHfFolder(lines, run, report, options, {
      constitutionYaml: constitutionToYaml(constitution),
      manifest,
      seal: run.seal ?? null,
      excluded: exported.excluded,
    });
    const { train, test } = folder.counts;
    const pushed = await pushToHub(folder.files, {
      repo: body.repo,
      token,
      private: body.private,
      branch: body.branch,
      endpoint: this.config.HF_ENDPOINT,
      title: `Amend run ${run.id}: ${train} train and ${test} test pairs`,
      description: `Constitution ${run.constitution.name}@${run.constitution.version} (sha256 ${run.constitution.sha256}); pushed by ${caller.actor} through POST /v1/runs/{id}/exports/hub.`,
      owned: HF_FOLDER_FILES,
    });
    // A push that changed nothing on the Hub changes nothing here either.
    if (pushed.changed) {
      await this.store.audit.record([
        {
          run_id: run.id,
          sample_id: null,
          type: 'dataset.pushed',
          actor: caller.actor,
          payload: {
            repo: pushed.repo,
            branch: pushed.branch,
            // The Hub's address names where it went; a token is never part of it.
            endpoint: this.config.HF_ENDPOINT ?? null,
            commit: pushed.commit,
            created: pushed.created,
            files: pushed.files,
            counts: folder.counts,
            options: { format: body.format, exclude: body.exclude ?? null, test_size: body.test_size, seed: body.seed, license: body.license },
            seal_event_id: run.seal?.event_id ?? null,
          },
        },
      ]);
    }
    return { ...pushed, counts: folder.counts };
  }
}

/** The export's lines as text, exactly as `GET /v1/runs/{id}/pairs` sends them (what the CLI's folder is built from). */
async function lineTexts(out: ExportLines): Promise<string[]> {
  const lines: string[] = [];
  if (out.kind === 'objects') {
    for await (const line of out.lines) lines.push(JSON.stringify(line));
    return lines;
  }
  if (!out.lines) return lines;
  let text = '';
  for await (const chunk of out.lines) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text.split('\n').filter((l) => l.trim() !== '');
}
