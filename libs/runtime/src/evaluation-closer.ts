import { isSampleFinished, type EvaluationReport, type JudgeDimension } from '@amend/contracts';
import type { Queue } from 'bullmq';
import { buildEvaluationReport, type PromptOutcome } from '@amend/pipeline';
import { BUSY, untilNotBusy, type EvaluationsRepository, type RunEvaluationLink } from '@amend/store';
import { enqueueSamples } from './sample-queue';

/** The store as evaluations close: a slice of Store, so a worker's port can carry it. */
export interface EvaluationStore {
  evaluations: Pick<EvaluationsRepository, 'row' | 'candidateTwin' | 'finish'>;
}

/** Closes in flight in this process, by evaluation: a caller that comes meanwhile joins the next one. */
const closing = new WeakMap<EvaluationStore, Map<string, { again: boolean; done: Promise<boolean> }>>();

/**
 * Writes an evaluation's report once both of its runs are finished: true when this call (or one it
 * joined) wrote it. Called by the worker that closes either run, by the reconciler, and by the API
 * when an evaluation is read, which covers a worker that stopped in between.
 *
 * Only one session writes; another that finds the evaluation's row held does not queue on it
 * (issue 23). With `wait` (the worker, the reconciler) it looks again once the holder is gone,
 * since the holder may have looked before this caller's run was closed and found it still going:
 * without the second look nobody would write the report. Without `wait` (a GET) it answers at
 * once; the client asks again, and the reconciler covers the rest. Callers in one process that
 * come while a close is going wait for one more close that starts after them, so each sees its
 * own run's close.
 */
export function closeEvaluation(store: EvaluationStore, evaluationId: string, actor: string, opts: { wait?: boolean } = {}): Promise<boolean> {
  const wait = opts.wait ?? true;
  let byId = closing.get(store);
  if (!byId) closing.set(store, (byId = new Map()));
  const going = byId.get(evaluationId);
  if (going) {
    going.again = true;
    return going.done;
  }
  const entry = { again: false, done: Promise.resolve(false) };
  const map = byId;
  entry.done = (async () => {
    let written = false;
    try {
      do {
        entry.again = false;
        const once = () => store.evaluations.finish(evaluationId, buildReport, actor).then((o) => (o === 'busy' ? BUSY : o));
        const outcome = wait ? await untilNotBusy(`closing evaluation ${evaluationId}`, once) : await once();
        written ||= outcome === 'written';
      } while (entry.again);
      return written;
    } finally {
      map.delete(evaluationId);
    }
  })();
  map.set(evaluationId, entry);
  return entry.done;
}

/** Pure: it runs while the evaluation's row is held, so it may not reach the database. */
function buildReport(prompts: PromptOutcome[], runs: { simulated: boolean; rubric: unknown }): EvaluationReport {
  // The evaluation's own dimensions are stored with what it cites for them; the rubric's are the default.
  const rubric = runs.rubric as { name: string; version: string; sha256: string; dimensions?: JudgeDimension[] };
  return buildEvaluationReport(prompts, {
    simulated: runs.simulated,
    ...(rubric?.dimensions && { dimensions: rubric.dimensions, rubric: { name: rubric.name, version: rubric.version, sha256: rubric.sha256 } }),
  });
}

/**
 * A baseline sample finished (completed, failed or stopped): its candidate twin can go, so its
 * job is added now, or moved up if it was waiting in the delayed set.
 */
export async function releaseCandidateTwin(store: EvaluationStore, queue: Queue, link: RunEvaluationLink, idx: number, traceparent?: string): Promise<void> {
  if (link.role !== 'baseline') return;
  const row = await store.evaluations.row(link.id);
  if (!row) return;
  const twin = await store.evaluations.candidateTwin(row.candidate_run_id, idx);
  if (!twin || isSampleFinished(twin.status)) return;
  const job = await queue.getJob(twin.id);
  if (!job) {
    await enqueueSamples(queue, row.candidate_run_id, [twin.id], { traceparent });
    return;
  }
  if (await job.isDelayed()) await job.promote().catch(() => undefined); // it may have just moved on its own
}
