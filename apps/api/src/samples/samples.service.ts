import { Injectable } from '@nestjs/common';
import type { ListSamplesQuery } from '@amend/contracts';
import { Store } from '@amend/store';
import { notFound } from '../errors/api-error';
import { RunsService } from '../runs/runs.service';
import { teamScope, type Principal } from '../auth/principal';

/** Reads of samples, within the caller's team like their runs. */
@Injectable()
export class SamplesService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  async list(runId: string, query: ListSamplesQuery, caller: Principal) {
    await this.runs.get(runId, teamScope(caller));
    return this.store.samples.list(runId, query);
  }

  /** Another team's sample is a 404, as its run is. */
  async get(id: string, caller: Principal) {
    const sample = await this.store.samples.detail(id, teamScope(caller));
    if (!sample) throw notFound('sample', id);
    return sample;
  }
}
