import { isSampleFinished } from '@amend/contracts';
import type { Queue } from 'bullmq';
import { buildEvaluationReport, type PromptOutcome } from '@amend/pipeline';
import type { EvaluationsRepository, RunEvaluationLink, RunsRepository } from '@amend/store';
import { enqueueSamples } from './sample-queue';

/** The store as evaluations close: a slice of Store, so a worker's port can carry it. */
export interface EvaluationStore {
  evaluations: Pick<EvaluationsRepository, 'row' | 'candidateTwin' | 'finish' | 'prompts'>;
  runs: Pick<RunsRepository, 'row'>;
}

/**
 * Writes an evaluation's report once both of its runs are finished (false until then, and once
 * written). Called by the worker that closes either run, and by the API when an evaluation is
 * read, which covers a worker that stopped in between.
 */
export async function closeEvaluation(store: EvaluationStore, evaluationId: string, actor: string): Promise<boolean> {
  return store.evaluations.finish(
    evaluationId,
    async (row) => {
      const prompts: PromptOutcome[] = await store.evaluations.prompts(row);
      const runs = await Promise.all([store.runs.row(row.baseline_run_id), store.runs.row(row.candidate_run_id)]);
      return buildEvaluationReport(prompts, { simulated: runs.some((r) => r?.simulated) });
    },
    actor,
  );
}

/**
 * A baseline sample finished (completed, failed or stopped): its candidate twin can go, so its
 * job is added now, or moved up if it was waiting in the delayed set.
 */
export async function releaseCandidateTwin(store: EvaluationStore, queue: Queue, link: RunEvaluationLink, idx: number): Promise<void> {
  if (link.role !== 'baseline') return;
  const row = await store.evaluations.row(link.id);
  if (!row) return;
  const twin = await store.evaluations.candidateTwin(row.candidate_run_id, idx);
  if (!twin || isSampleFinished(twin.status)) return;
  const job = await queue.getJob(twin.id);
  if (!job) {
    await enqueueSamples(queue, row.candidate_run_id, [twin.id]);
    return;
  }
  if (await job.isDelayed()) await job.promote().catch(() => undefined); // it may have just moved on its own
}
