import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { isRunFinished, isSampleFinished, type Config } from '@amend/contracts';
import {
  BATCH_LIMITS,
  ModelError,
  ModelRegistry,
  appliedAnswerMode,
  chatRequestBody,
  completionResult,
  readResultFile,
  splitIntoFiles,
  type BatchLimits,
  type BatchLineResult,
  type BatchRequestLine,
  type OpenAIBatchClient,
  type ProviderBatch,
} from '@amend/llm';
import { nextStep, type PlannedCall, type RunSpec } from '@amend/pipeline';
import { CONFIG, ConstitutionCache, SAMPLES_QUEUE, Tracing, runTrace, type SpanAttributes } from '@amend/runtime';
import { PROVIDER_TERMINAL, Store, type BatchRow, type NewBatch, type ProviderState, type WorkItem } from '@amend/store';
import { SampleOrchestrator, WORKER_ACTOR, sampleState, type SampleState } from './sample-orchestrator';
import { runSpecOf } from './stage-checkpoint';

/** Samples planned or applied at once: enough to keep Postgres busy, few enough for the pool. */
const CONCURRENCY = 8;
const PAGE = 1_000;
/** The metadata key that tags a provider batch with its `batches` row. */
const TAG = 'amend_batch';

/** `<sample id>:<seq>`: one stage of one sample, the custom_id of its request line. */
export function customId(sampleId: string, seq: number): string {
  return `${sampleId}:${seq}`;
}

function parseCustomId(id: string): { sampleId: string; seq: number } {
  const at = id.lastIndexOf(':');
  return { sampleId: id.slice(0, at), seq: Number(id.slice(at + 1)) };
}

class LeaseLost extends Error {}

/**
 * Drives batch runs (`"batch": true`) through the provider's Files and Batches API, in waves:
 * every unfinished sample's next call goes into one wave of batches (one per alias, split at the
 * provider's file limits); once every batch of the wave has ended its results are checkpointed
 * per sample, exactly as online results are, and the next wave is planned from what Postgres
 * then holds. Runs in every worker process; a lease on the run row lets one process at a time
 * drive a run, and a killed process's lease lapses after BATCH_LEASE_MS.
 *
 * Never twice: a batch's row is written (`submitting`) before the provider batch is created and
 * the batch carries the row id in its metadata, so a coordinator that died in between finds the
 * batch at the provider instead of submitting the stage again; a wave is only planned once every
 * earlier batch has settled, and a stage already saved is never planned again.
 */
@Injectable()
export class BatchCoordinator implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('BatchCoordinator');
  /** This process's lease holder id: one per process start, so a restarted process does not inherit a lease by name. */
  readonly owner = `${WORKER_ACTOR}:${randomUUID().slice(0, 8)}`;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private readonly held = new Set<string>();
  /** Test hook: file limits other than OpenAI's. */
  limits: BatchLimits = BATCH_LIMITS;

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    private readonly constitutions: ConstitutionCache,
    private readonly orchestrator: SampleOrchestrator,
    @Inject(CONFIG) private readonly config: Config,
    private readonly tracing: Tracing,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
  ) {}

  /** Per run, the traceparent of this process's last wave span: the next wave's span links to it. */
  private readonly lastWave = new Map<string, string>();

  /**
   * With tracing on, runs `fn` in a span of the run's trace (its traceparent kept in Redis by the
   * API), linked to the run's previous wave span when this process made it: a batch run's waves
   * can be hours apart, and the links lead from one to the next.
   */
  private async inRunTrace<T>(runId: string, name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
    if (!this.tracing.enabled) return fn();
    const parent = await runTrace(this.queue, this.config.QUEUE_PREFIX, runId).catch(() => undefined);
    const previous = this.lastWave.get(runId);
    return this.tracing.span(name, { parent: parent ?? '', links: previous ? [previous] : [], attributes: { 'amend.run_id': runId, ...attributes } }, () => {
      const own = this.tracing.traceparent();
      if (own) this.lastWave.set(runId, own);
      return fn();
    });
  }

  onApplicationBootstrap() {
    this.schedule(0);
  }

  async onApplicationShutdown() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking?.catch(() => undefined);
    for (const runId of this.held) await this.store.batches.release(runId, this.owner).catch(() => undefined);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.config.BATCH_POLL_MS);
      });
    }, ms);
    this.timer.unref();
  }

  /** One look at every batch run this process can lease. */
  async tick(): Promise<void> {
    let runs: string[];
    try {
      runs = await this.store.batches.runsToDrive();
    } catch (err) {
      this.logger.warn(`batch runs unreadable, will retry: ${(err as Error).message}`);
      return;
    }
    for (const runId of runs) {
      if (this.stopped) return;
      try {
        if (!(await this.renew(runId, false))) continue;
        await this.drive(runId);
      } catch (err) {
        if (err instanceof LeaseLost) this.logger.warn({ run_id: runId }, 'batch run: lease lost to another process');
        else this.logger.warn({ run_id: runId, err: (err as Error).message }, 'batch run: will retry at the next poll');
      }
    }
  }

  /** Takes or renews the lease; with `must`, losing it stops what the caller is doing. */
  private async renew(runId: string, must = true): Promise<boolean> {
    const ok = await this.store.batches.lease(runId, this.owner, this.config.BATCH_LEASE_MS);
    if (ok) this.held.add(runId);
    else this.held.delete(runId);
    if (!ok && must) throw new LeaseLost();
    return ok;
  }

  private async drive(runId: string): Promise<void> {
    const row = await this.store.runs.row(runId);
    if (!row) return;
    const cancelled = row.status === 'cancelled';
    let open = 0;
    for (const batch of await this.store.batches.unsettled(runId)) {
      if (!(await this.advance(batch, cancelled))) open++;
      await this.renew(runId);
    }
    if (isRunFinished(row.status)) this.lastWave.delete(runId);
    if (open > 0 || cancelled || isRunFinished(row.status)) return;
    await this.submitWave(runId);
  }

  /** Moves one batch on: found again, polled, cancelled, or its results saved. True once it has settled. */
  private async advance(batch: BatchRow, cancelled: boolean): Promise<boolean> {
    const client = this.models.batchClient(batch.alias);
    let providerId = batch.provider_batch_id;
    if (!providerId) {
      // Written but maybe never created: the provider's list says which.
      const since = Math.floor(batch.created_at.getTime() / 1000) - 300;
      const found = await client.find(TAG, batch.id, since);
      if (!found) {
        await this.store.batches.settle(batch.id, 'abandoned', 'not created at the provider; its requests go into the next wave');
        this.logger.warn({ run_id: batch.run_id, batch: batch.id }, 'batch was never created at the provider: its requests go into the next wave');
        return true;
      }
      this.logger.log({ run_id: batch.run_id, batch: found.id }, 'batch created before a restart found at the provider');
      await this.store.batches.submitted(batch.id, found.id, found.input_file_id, stateOf(found));
      providerId = found.id;
    }
    let remote = await client.retrieve(providerId);
    if (cancelled && !isTerminal(remote.status) && remote.status !== 'cancelling') {
      remote = await client.cancel(providerId);
      this.logger.log({ run_id: batch.run_id, batch: providerId }, 'run cancelled: batch cancelled at the provider');
    }
    await this.store.batches.update(batch.id, stateOf(remote));
    if (!isTerminal(remote.status)) return false;
    await this.inRunTrace(
      batch.run_id,
      'batch apply',
      { 'amend.wave': batch.wave, 'amend.batch_id': remote.id, 'amend.batch_status': remote.status, 'amend.model_alias': batch.alias },
      () => this.apply(batch, remote, client),
    );
    await this.store.batches.settle(batch.id, 'applied');
    return true;
  }

  /**
   * Saves a finished batch's answers, each as the stage it was asked for; failed lines fail their
   * sample (permanent errors, or transient ones asked BATCH_MAX_ATTEMPTS times) or wait for the
   * next wave. A line whose stage is already saved (a restart re-reading the same files) is skipped.
   */
  private async apply(batch: BatchRow, remote: ProviderBatch, client: OpenAIBatchClient): Promise<void> {
    const results = new Map<string, BatchLineResult>();
    for (const file of [remote.output_file_id, remote.error_file_id]) {
      if (!file) continue;
      for (const r of readResultFile(await client.content(file), client.alias)) results.set(r.custom_id, r);
    }
    const finished = remote.completed_at ?? remote.expired_at ?? remote.cancelled_at ?? remote.failed_at ?? Math.floor(Date.now() / 1000);
    const latencyMs = Math.max(0, finished - remote.created_at) * 1000;
    const wholeBatchError = remote.status === 'failed' ? (remote.errors?.data ?? []).map((e) => `${e.code}: ${e.message}`).join('; ') : null;
    const runCache = new Map<string, RunSpec>();
    let done = 0;
    await eachLimit(batch.custom_ids, CONCURRENCY, async (id) => {
      if (++done % 500 === 0) await this.renew(batch.run_id);
      const { sampleId, seq } = parseCustomId(id);
      const item = await this.store.samples.loadForWork(sampleId);
      if (!item) return;
      const key = item.run.id;
      const run = runCache.get(key) ?? (await runSpecOf(item, this.constitutions));
      runCache.set(key, run);
      const state = sampleState(item, run);
      const call = await this.nextCall(state);
      if (!call || call.seq !== seq) return; // saved already
      const line = results.get(id);
      if (!line) {
        // In neither file: a batch that failed validation, or a provider that lost the line. Asked again.
        const error = wholeBatchError
          ? ModelError.permanent('batch_failed', `${client.alias} (batch): the batch failed validation: ${wholeBatchError}`)
          : ModelError.transient('batch_line_missing', `${client.alias} (batch): no result for ${id}`);
        return this.lineFailed(item, call, error);
      }
      if (!line.ok) return this.lineFailed(item, call, line.error);
      const body = chatRequestBody(client.model, call.request, undefined, client.structuredOutput);
      const answerMode = appliedAnswerMode(call.request, undefined, client.structuredOutput);
      let result;
      try {
        result = { ...completionResult(client.alias, client.model, body, line.body, latencyMs), attempts: 1, ...(answerMode && { answer_mode: answerMode }) };
      } catch (err) {
        if (err instanceof ModelError) return this.lineFailed(item, call, err);
        throw err;
      }
      // The call ran at the provider, between the batch's creation and its end: its span says so.
      if (this.tracing.enabled) {
        this.tracing.recordModelCall(
          { alias: client.alias, stage: call.stage, seq: call.seq, request: call.request },
          result,
          remote.created_at * 1000,
          finished * 1000,
        );
      }
      await this.orchestrator.applyStage(state, call, result, { extra: { batch: { id: remote.id, custom_id: id, request_id: line.request_id } } });
    });
    await this.store.runs.finalizeIfDone(batch.run_id);
  }

  /**
   * The sample's next call, as the online walk plans it; null when every call is made, or when its
   * records cannot be continued and the sample was failed for it (as online).
   */
  private async nextCall(state: SampleState): Promise<PlannedCall | null> {
    try {
      const step = nextStep(state.run, state.sample, state.records, randomUUID);
      return step.kind === 'call' ? step.call : null;
    } catch (err) {
      if (await this.orchestrator.failIfPermanent(state.item, err)) return null;
      throw err;
    }
  }

  /** A line that did not answer, by the online rules: permanent fails the sample, transient waits for the next wave (up to the attempt limit). */
  private async lineFailed(item: WorkItem, call: PlannedCall, error: ModelError): Promise<void> {
    if (isSampleFinished(item.sample.status)) return;
    if (await this.orchestrator.failIfPermanent(item, error, call)) return;
    // A request the provider never ran (the batch expired or was cancelled) has not failed: it is simply asked again.
    if (error.code === 'batch_expired' || error.code === 'batch_cancelled') return;
    const reason = `${error.code}: ${error.message}`;
    const attempts = await this.store.batches.lineFailed(item.sample.id, call.seq, reason);
    if (attempts >= this.config.BATCH_MAX_ATTEMPTS) await this.orchestrator.fail(item, `retries exhausted: ${reason}`, call);
  }

  /** Plans every unfinished sample's next call and submits them as the next wave; closes the run when there are none. */
  private submitWave(runId: string): Promise<void> {
    return this.inRunTrace(runId, 'batch submit', {}, () => this.planAndSubmit(runId));
  }

  private async planAndSubmit(runId: string): Promise<void> {
    const first = await this.store.samples.unfinished(runId, -1, 1);
    if (first.length === 0) {
      await this.store.runs.finalizeIfDone(runId);
      return;
    }
    await this.store.runs.markRunning(runId);
    await this.store.batches.claimRun(runId);
    const byAlias = new Map<string, BatchRequestLine[]>();
    let runSpec: RunSpec | undefined;
    for (let after = -1; ;) {
      const page = await this.store.samples.unfinished(runId, after, PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1].idx;
      await eachLimit(page, CONCURRENCY, async ({ id }) => {
        const item = await this.store.samples.loadForWork(id);
        if (!item || isSampleFinished(item.sample.status)) return;
        runSpec ??= await runSpecOf(item, this.constitutions);
        const call = await this.nextCall(sampleState(item, runSpec));
        if (!call) return;
        const alias = call.request.alias;
        const client = this.models.batchClient(alias);
        const lines = byAlias.get(alias) ?? [];
        lines.push({ custom_id: customId(id, call.seq), body: chatRequestBody(client.model, call.request, undefined, client.structuredOutput) });
        byAlias.set(alias, lines);
      });
      await this.renew(runId);
    }
    if (byAlias.size === 0) {
      await this.store.runs.finalizeIfDone(runId);
      return;
    }
    const wave = await this.store.batches.nextWave(runId);
    if (this.tracing.enabled) this.tracing.annotate({ 'amend.wave': wave, 'amend.requests': [...byAlias.values()].reduce((n, l) => n + l.length, 0) });
    const rows: (NewBatch & { jsonl: string })[] = [];
    for (const [alias, lines] of [...byAlias].sort(([a], [b]) => a.localeCompare(b))) {
      // Files hold their lines in sample order, so a wave's files are the same whatever order planning finished in.
      lines.sort((a, b) => a.custom_id.localeCompare(b.custom_id));
      for (const part of splitIntoFiles(lines, this.limits)) {
        rows.push({ id: randomUUID(), run_id: runId, wave, part: rows.length, alias, custom_ids: part.custom_ids, bytes: part.bytes, jsonl: part.jsonl });
      }
    }
    if (
      !(await this.store.batches.beginWave(
        runId,
        this.owner,
        rows.map(({ jsonl: _, ...r }) => r),
      ))
    )
      throw new LeaseLost();
    for (const row of rows) {
      const client = this.models.batchClient(row.alias);
      const fileId = await client.upload(row.jsonl, `amend-${runId}-wave${wave}-part${row.part}.jsonl`);
      const created = await client.create(fileId, { [TAG]: row.id, amend_run: runId, amend_wave: String(wave) });
      await this.store.batches.submitted(row.id, created.id, fileId, stateOf(created));
      this.logger.log({ run_id: runId, wave, batch: created.id, requests: row.custom_ids.length }, 'batch submitted');
    }
  }
}

function isTerminal(status: string): boolean {
  return (PROVIDER_TERMINAL as readonly string[]).includes(status);
}

function stateOf(b: ProviderBatch): ProviderState {
  return {
    status: b.status,
    output_file_id: b.output_file_id ?? null,
    error_file_id: b.error_file_id ?? null,
    request_counts: b.request_counts ?? null,
  };
}

/** Runs `fn` over `items`, at most `limit` at a time; the first error is thrown once all started ones have ended. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}
