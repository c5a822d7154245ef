import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SampleJob } from '@amend/contracts';
import { RUN_TRACE_TTL_S, runTraceKey } from './tracing';

/**
 * Retries here cover crashes and infrastructure errors (Postgres down, a worker killed). Model
 * errors are retried inside the model adapter, the only retry layer for model calls.
 */
export const SAMPLE_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: true,
  removeOnFail: { count: 10_000 },
};

const ADD_CHUNK = 2_000;

/**
 * BullMQ job priorities, lower first. BullMQ takes a job without a priority before any job with
 * one, so run jobs carry a priority too for previews to overtake them. (Prioritised adds cost
 * about 10-20% more enqueue time: ~1.4 s instead of ~1.25 s for 20,000 jobs on a local Redis.)
 */
export const JOB_PRIORITY = { preview: 1, run: 10 } as const;

/** Enqueues one job per sample. The job id is the sample id, so a repeat is a no-op. */
export async function enqueueSamples(
  queue: Queue,
  runId: string,
  sampleIds: string[],
  opts: { priority?: number; firstChunk?: number; traceparent?: string } = {},
): Promise<void> {
  const priority = opts.priority ?? JOB_PRIORITY.run;
  // The first chunk small (about 2 x the workers' concurrency) so workers start on it while the
  // rest of a large run is still being added.
  const first = Math.max(1, Math.min(opts.firstChunk ?? ADD_CHUNK, ADD_CHUNK));
  for (let i = 0; i < sampleIds.length;) {
    const size = i === 0 ? first : ADD_CHUNK;
    const chunk = sampleIds.slice(i, i + size);
    i += size;
    await queue.addBulk(
      chunk.map((id) => ({
        name: 'sample',
        data: (opts.traceparent ? { sample_id: id, run_id: runId, traceparent: opts.traceparent } : { sample_id: id, run_id: runId }) satisfies SampleJob,
        opts: { ...SAMPLE_JOB_OPTIONS, jobId: id, priority },
      })),
    );
  }
}

/** The sample ids of `ids` that have no job in Redis (lost in a flush or restart). */
export async function missingJobs(queue: Queue, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // eslint-disable-next-line no-restricted-syntax -- BullMQ types its client as its own narrow IRedisClient; it is an ioredis client (pipeline, exists).
  const client = (await queue.client) as unknown as Redis;
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.exists(queue.toKey(id));
  const results = (await pipeline.exec()) ?? [];
  return ids.filter((_, i) => results[i]?.[1] === 0);
}

/** A suggestion job: retried like a sample's (it resumes at its first unsaved call), removed once done. */
export const SUGGESTION_JOB_OPTIONS: JobsOptions = { ...SAMPLE_JOB_OPTIONS, attempts: 3 };

/** Enqueues a suggestion set's job; the job id is the set id, so a repeat is a no-op. */
export async function enqueueSuggestion(queue: Queue, suggestionId: string): Promise<void> {
  await queue.add('suggestion', { suggestion_id: suggestionId }, { ...SUGGESTION_JOB_OPTIONS, jobId: suggestionId });
}

/**
 * Keeps a run's traceparent in Redis (tracing on only) for its work that no job carries: a batch
 * run's waves, and samples the reconciler enqueues again. Lost with Redis's data, like the jobs:
 * what follows then starts traces of its own.
 */
export async function keepRunTrace(queue: Queue, queuePrefix: string, runId: string, traceparent: string): Promise<void> {
  // eslint-disable-next-line no-restricted-syntax -- BullMQ types its client as its own narrow IRedisClient; it is an ioredis client (SET with EX).
  const client = (await queue.client) as unknown as Redis;
  await client.set(runTraceKey(queuePrefix, runId), traceparent, 'EX', RUN_TRACE_TTL_S);
}

/** The traceparent kept for a run, if any. */
export async function runTrace(queue: Queue, queuePrefix: string, runId: string): Promise<string | undefined> {
  const client = await queue.client;
  return (await client.get(runTraceKey(queuePrefix, runId))) ?? undefined;
}
