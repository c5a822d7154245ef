import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { CreateRunSchema, isRunFinished, type PairRecord, type PreviewRequest, type PreviewResult, type RunStatus } from '@amend/contracts';
import { Store } from '@amend/store';
import { ApiError } from '../errors/api-error';
import { RunsService } from '../runs/runs.service';
import type { Principal } from '../auth/principal';

/** First poll soon (a simulator preview takes tens of milliseconds), then back off to this. */
const MAX_POLL_MS = 250;

/**
 * A preview is a small run, flagged so that run lists leave it out, enqueued at preview priority
 * so that it overtakes the jobs of big runs, and waited for here with a deadline. It goes through
 * the same queue, workers, checkpoints and audit trail as any run.
 */
@Injectable()
export class PreviewService {
  constructor(
    private readonly runs: RunsService,
    private readonly store: Store,
  ) {}

  /** `constitution`: `name@x.y.z`, or `name#draft` (a draft of the caller's team). */
  async preview(constitution: string, req: PreviewRequest, caller: Principal): Promise<PreviewResult> {
    const body = CreateRunSchema.parse({
      constitution,
      prompts: req.prompts,
      rounds: req.rounds,
      model: req.model,
      ...(req.seed !== undefined ? { seed: req.seed } : {}),
      ...(req.sampling ? { sampling: req.sampling } : {}),
      ...(req.principle ? { principles: { ids: [req.principle] } } : {}),
    });
    const { run } = await this.runs.create(body, null, undefined, caller, { preview: true });

    const deadline = Date.now() + req.timeout_ms;
    let status = run.status;
    for (let wait = 20; !isRunFinished(status); wait = Math.min(wait * 2, MAX_POLL_MS)) {
      if (Date.now() >= deadline) {
        // Nobody is waiting for the result any more: free the workers for real runs.
        await this.store.runs.cancel(run.id, caller.actor);
        const after = await this.runs.get(run.id, caller.team);
        throw new ApiError(
          'preview_timeout',
          `the preview did not finish within ${req.timeout_ms} ms and was cancelled; ` +
            `its stages so far are at GET /v1/runs/${run.id}/samples. Try fewer prompts, fewer rounds or a longer timeout_ms`,
          { run_id: run.id, counts: after.counts },
        );
      }
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
      status = (await this.store.runs.row(run.id))?.status as RunStatus;
    }
    return this.result(run.id, req.principle ?? null, caller.team);
  }

  private async result(runId: string, principle: string | null, team: string): Promise<PreviewResult> {
    const run = await this.runs.get(runId, team);
    const pairs = new Map<string, PairRecord>();
    for await (const pair of this.store.pairs.stream(runId)) pairs.set(pair.sample_id, pair);
    const { samples } = await this.store.samples.list(runId, { limit: 100 });
    const results = [];
    for (const s of samples) {
      const detail = await this.store.samples.detail(s.id);
      results.push({
        sample_id: s.id,
        prompt: detail?.prompt ?? '',
        status: s.status,
        failure_reason: s.failure_reason,
        stages: detail?.stages ?? [],
        pair: pairs.get(s.id) ?? null,
      });
    }
    return {
      run_id: run.id,
      constitution: run.constitution,
      principle,
      status: run.status,
      usage: run.usage,
      simulated: run.simulated,
      results,
    };
  }
}
