import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import {
  bundleEnd,
  bundleHeader,
  constitutionLine,
  constitutionRefOf,
  globalLine,
  keyIdOfActor,
  keyLine,
  manifestLine,
  pairLine,
  reviewLine,
  samplesLine,
  type BundleCounts,
} from '@amend/audit';
import { ConstitutionSchema, constitutionToYaml } from '@amend/constitution';
import { draftOfVersion, isRunFinished, type RunVerify } from '@amend/contracts';
import { Store, type AuditQuery } from '@amend/store';
import { notFound } from '../errors/api-error';
import { NdjsonWriter } from '../common/ndjson';
import { RunsService } from '../runs/runs.service';
import { toDirectoryEntry } from '../keys/keys.service';

/** Auditors' reads: events, verification and the exported bundle. Nothing here writes. */
@Injectable()
export class AuditService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  private async run(id: string) {
    const run = await this.store.runs.row(id);
    if (!run) throw notFound('run', id);
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
    if (!sample) throw notFound('sample', sampleId);
    const events = await this.store.audit.listForSample(sampleId);
    const chain = await this.store.audit.verifyChain(`sample:${sampleId}`);
    return { sample_id: sampleId, run_id: sample.run_id, chain, events };
  }

  /**
   * The JSON Lines bundle (libs/audit bundle.ts): header, every event of the run chain by chain,
   * then the manifest, the constitution texts the events name, the global chain, the key directory
   * of every key that acted, the pairs and the reviews, and an end line with the counts; paced by
   * the client. The global chain is read before the keys, so a key revoked meanwhile is
   * revoked in the directory without its event, which verify allows, never the other way round.
   */
  async export(runId: string, res: Response): Promise<void> {
    const run = await this.run(runId);
    const manifest = await this.runs.manifest(runId, undefined);
    const out = new NdjsonWriter(res);
    res.setHeader('Content-Disposition', `attachment; filename="audit-${runId}.jsonl"`);
    await out.write(bundleHeader(run));
    let n = 0;
    const refs = new Map<string, { name: string; version: string; sha256: string }>();
    const actors = new Set<string>();
    let samplesSha256: string[] = [];
    for await (const e of this.store.audit.streamRun(runId)) {
      if (out.isClosed) return;
      await out.write(e);
      n++;
      const ref = constitutionRefOf(e.payload);
      if (ref) refs.set(`${ref.name}@${ref.version}`, ref);
      const actor = keyIdOfActor(e.actor);
      if (actor) actors.add(actor);
      const names = (e.payload as { samples_sha256?: unknown } | null)?.samples_sha256;
      if (e.type === 'run.created' && !e.sample_id && Array.isArray(names)) samplesSha256 = names.map(String);
    }
    const counts: BundleCounts = { manifest: 1, samples: 0, constitutions: 0, global_events: 0, keys: 0, pairs: 0, reviews: 0 };
    await out.write(manifestLine(manifest));
    // The commitments vouch for the manifest's prompts: one blob per 10,000 samples, read one at a time.
    for (const name of samplesSha256) {
      for (const blob of await this.store.audit.contentBlobs([name])) {
        await out.write(samplesLine(blob));
        counts.samples++;
      }
    }
    for (const { name, version } of refs.values()) {
      // A draft's run used the content pinned under the sha256 its ref names.
      const ref = refs.get(`${name}@${version}`);
      const stored =
        draftOfVersion(version) !== undefined && ref ? await this.store.drafts.pinned(ref.sha256) : await this.store.constitutions.resolve(name, version);
      if (!stored) continue; // verify names the version the run used and the bundle lacks
      await out.write(constitutionLine({ name, version, sha256: stored.sha256, yaml: constitutionToYaml(ConstitutionSchema.parse(stored.content)) }));
      counts.constitutions++;
    }
    for (const e of await this.store.audit.chain('global')) {
      await out.write(globalLine(e));
      counts.global_events++;
    }
    const reviews = [];
    for await (const r of this.store.reviews.forRun(runId)) {
      reviews.push(r);
      if (r.reviewer_key_id) actors.add(r.reviewer_key_id);
    }
    for (const id of actors) {
      const key = await this.store.keys.get(id);
      if (!key) continue;
      await out.write(keyLine(toDirectoryEntry(key)));
      counts.keys++;
    }
    for await (const record of this.store.pairs.stream(runId)) {
      if (out.isClosed) return;
      await out.write(pairLine(record));
      counts.pairs++;
    }
    for (const r of reviews) {
      await out.write(reviewLine(r));
      counts.reviews++;
    }
    await out.write(bundleEnd(n, counts));
    out.end();
  }
}
