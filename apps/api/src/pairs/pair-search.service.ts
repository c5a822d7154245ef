import { Injectable } from '@nestjs/common';
import { metadataFilters, type PairSearchQuery, type PairSearchResult } from '@amend/contracts';
import { Store } from '@amend/store';
import { RunsService } from '../runs/runs.service';
import { teamScope, type Principal } from '../auth/principal';

/** `GET /v1/pairs`: a search over the pairs of the caller's team (every team's for auditors). */
@Injectable()
export class PairSearchService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  async search(query: PairSearchQuery, caller: Principal): Promise<PairSearchResult> {
    const team = teamScope(caller);
    // A named run the caller may not read is a 404, as an unknown id (ids do not leak).
    if (query.run !== undefined) await this.runs.get(query.run, team);
    return this.store.pairs.search({
      team,
      run: query.run,
      q: query.q,
      flags: query.flag,
      principle: query.principle,
      reviewStatus: query.review_status,
      metadata: metadataFilters(query),
      limit: query.limit,
      cursor: query.cursor,
    });
  }
}
