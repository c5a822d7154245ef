import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Response } from 'express';
import { DEFAULT_EXCLUDE, PairsQuerySchema, SftQuerySchema } from '@amend/contracts';
import { formatPair, toSft } from '@amend/pipeline';
import { Store } from '@amend/store';
import { NdjsonWriter } from '../common/ndjson';
import { RunsService } from '../runs/runs.service';
import { uuidPipe } from '../runs/runs.controller';
import { ReviewsService } from '../reviews/reviews.service';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';


class PairsQueryDto extends createZodDto(PairsQuerySchema) {}
class SftQueryDto extends createZodDto(SftQuerySchema) {}

@ApiTags('pairs')
@ApiBearerAuth()
@Controller('v1/runs/:id')
export class PairsController {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
    private readonly reviews: ReviewsService,
  ) {}

  @Get('pairs')
  @Allow('submitter', 'auditor')
  @ApiProduces('application/x-ndjson')
  async pairs(@Param('id', uuidPipe) id: string, @Query() query: PairsQueryDto, @Res() res: Response, @Caller() caller: Principal) {
    await this.runs.get(id, teamScope(caller));
    // Reviews apply to every export (swaps, edits, review fields); `reviewed=accepted` keeps only accepted pairs.
    // `exclude=noop,rejected_by_judge,...` leaves flagged pairs out in SQL, before reviews apply;
    // without it, truncated pairs are left out (DEFAULT_EXCLUDE).
    const stored = this.store.pairs.stream(id, undefined, { exclude: query.exclude ?? DEFAULT_EXCLUDE });
    const pairs = this.reviews.reviewed(id, stored, { onlyAccepted: query.reviewed === 'accepted' });
    await this.streamLines(res, pairs, ({ pair, review }) => ({ ...formatPair(pair, query.format), ...(review ? { review } : {}) }));
  }

  @Get('sft')
  @Allow('submitter', 'auditor')
  @ApiProduces('application/x-ndjson')
  async sft(@Param('id', uuidPipe) id: string, @Query() query: SftQueryDto, @Res() res: Response, @Caller() caller: Principal) {
    await this.runs.get(id, teamScope(caller));
    // Like the pairs export: flags left out in SQL, then reviews applied (a swap or an edit changes
    // the text trained on); a pair a reviewer rejected is no SFT target, so it is left out too.
    const stored = this.store.pairs.stream(id, undefined, { exclude: query.exclude ?? DEFAULT_EXCLUDE });
    const pairs = this.reviews.reviewed(id, stored, { onlyAccepted: query.reviewed === 'accepted' });
    await this.streamLines(res, withoutRejected(pairs), ({ pair, review }) => ({ ...toSft(pair), ...(review ? { review } : {}) }));
  }

  /** One JSON line per pair, written as Postgres pages arrive and paused while the client is slow. */
  private async streamLines<T>(res: Response, source: AsyncIterable<T>, project: (p: T) => object) {
    const out = new NdjsonWriter(res);
    for await (const pair of source) {
      if (out.isClosed) return;
      await out.write(project(pair));
    }
    out.end();
  }
}

async function* withoutRejected<T extends { review?: { status: string } }>(source: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const item of source) if (item.review?.status !== 'rejected') yield item;
}
