import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { bundleEnd, bundleHeader } from '@amend/audit';
import { isRunFinished, type RunVerify } from '@amend/contracts';
import { Store, type AuditQuery } from '@amend/store';
import { ApiError } from '../errors/api-error';
import { NdjsonWriter } from '../common/ndjson';


/** Auditors' reads: events, verification and the exported bundle. Nothing here writes. */
@Injectable()
export class AuditService {
  constructor(private readonly store: Store) {}

  private async run(id: string) {
    const run = await this.store.runs.row(id);
    if (!run) throw new ApiError(404, 'run_not_found', `no run ${id}`);
    return run;
  }

  async runEvents(runId: string, page: { cursor?: string; limit: number }) {
    await this.run(runId);
    const { events, next } = await this.store.audit.search({ run: runId, after: page.cursor, limit: page.limit });
    return { events, next_cursor: next };
  }

  async search(q: Omit<AuditQuery, 'since' | 'until' | 'after'> & { since?: string; until?: string; cursor?: string }) {
    const { events, next } = await this.store.audit.search({
      ...q,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
      after: q.cursor,
    });
    return { events, next_cursor: next };
  }

  async verifyRun(runId: string): Promise<RunVerify> {
    const run = await this.run(runId);
    const started = performance.now();
    // The blobs the events name are re-hashed once each by verifyRows below, not once per event.
    const report = await this.store.audit.verifyRun(runId, { finished: isRunFinished(run.status), chainsOnly: true });
    // The chains say the trail is intact; the dataset check says the pairs and reviews still are what it recorded.
    const dataset = await this.store.audit.verifyDataset(runId);
    // And the rows the read paths serve (stage records, blobs, samples, run, constitution, evaluation, keys).
    const rows = await this.store.audit.verifyRows(runId);
    return {
      run_id: runId,
      run_status: run.status,
      verified_at: new Date().toISOString(),
      took_ms: Math.round(performance.now() - started),
      ...report,
      ok: report.ok && dataset.ok && rows.ok,
      dataset,
      rows,
    };
  }

  verifyGlobal() {
    return this.store.audit.verifyChain('global');
  }

  async sample(sampleId: string) {
    const sample = await this.store.samples.detail(sampleId);
    if (!sample) throw new ApiError(404, 'sample_not_found', `no sample ${sampleId}`);
    const events = await this.store.audit.listForSample(sampleId);
    const chain = await this.store.audit.verifyChain(`sample:${sampleId}`);
    return { sample_id: sampleId, run_id: sample.run_id, chain, events };
  }

  /** The JSON Lines bundle: header, every event chain by chain, end line; paced by the client. */
  async export(runId: string, res: Response): Promise<void> {
    const run = await this.run(runId);
    const out = new NdjsonWriter(res);
    res.setHeader('Content-Disposition', `attachment; filename="audit-${runId}.jsonl"`);
    await out.write(bundleHeader(run));
    let n = 0;
    for await (const e of this.store.audit.streamRun(runId)) {
      if (out.isClosed) return;
      await out.write(e);
      n++;
    }
    await out.write(bundleEnd(n));
    out.end();
  }
}
