import { Injectable } from '@nestjs/common';
import { isRunFinished, type ErasureResult } from '@amend/contracts';
import { Store } from '@amend/store';
import { ApiError, notFound } from '../errors/api-error';
import type { Principal } from '../auth/principal';
import { isOperatorAdmin } from '../keys/key-scope';

/** The operator's admins erase in every team; any other admin in its own team (another team's ids are 404s, as everywhere). */
const scopeOf = (caller: Principal) => (isOperatorAdmin(caller) ? undefined : caller.team);

/**
 * Erasure (docs/audit.md "Erasure"): an admin removes a sample's content, or a whole run's, for a
 * stated reason. The trail keeps every hash and records who, when and why; verify then reports
 * those rows as erased, not altered.
 */
@Injectable()
export class ErasureService {
  constructor(private readonly store: Store) {}

  async sample(sampleId: string, reason: string, caller: Principal): Promise<ErasureResult> {
    const sample = await this.store.samples.row(sampleId, scopeOf(caller));
    if (!sample) throw notFound('sample', sampleId);
    const r = await this.store.erasure.eraseSamples([sampleId], caller.actor, reason);
    if (r.erased.length === 0) {
      const before = await this.store.erasure.of(sampleId);
      throw new ApiError('already_erased', `sample ${sampleId} was already erased${before ? ` by ${before.by} at ${before.at}` : ''}`, {
        erasure: before ?? null,
      });
    }
    return { run_id: sample.run_id, ...r, reason };
  }

  async run(runId: string, reason: string, caller: Principal): Promise<ErasureResult> {
    const run = await this.store.runs.row(runId, scopeOf(caller));
    if (!run) throw notFound('run', runId);
    if (!isRunFinished(run.status)) {
      throw new ApiError('run_not_finished', `run ${runId} is ${run.status}: cancel it (POST /v1/runs/${runId}/cancel) or wait for it to finish, then erase`);
    }
    const r = await this.store.erasure.eraseRun(runId, caller.actor, reason);
    return { run_id: runId, ...r, reason };
  }
}
