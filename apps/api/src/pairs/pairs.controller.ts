import { pipeline } from 'node:stream/promises';
import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Response } from 'express';
import { DEFAULT_EXCLUDE, PairsQuerySchema, SftQuerySchema, type PairFlag } from '@amend/contracts';
import { formatPair, toSft } from '@amend/pipeline';
import { Store, type LineFormat } from '@amend/store';
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
    // A run nobody reviewed (the common case) streams lines Postgres builds, at disk speed.
    if (await this.copyable(id)) return this.copyLines(res, id, query.format, query.exclude ?? DEFAULT_EXCLUDE, query.reviewed === 'accepted');
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
    if (await this.copyable(id)) return this.copyLines(res, id, 'sft', query.exclude ?? DEFAULT_EXCLUDE, query.reviewed === 'accepted');
    // Like the pairs export: flags left out in SQL, then reviews applied (a swap or an edit changes
    // the text trained on); a pair a reviewer rejected is no SFT target, so it is left out too.
    const stored = this.store.pairs.stream(id, undefined, { exclude: query.exclude ?? DEFAULT_EXCLUDE });
    const pairs = this.reviews.reviewed(id, stored, { onlyAccepted: query.reviewed === 'accepted' });
    await this.streamLines(res, withoutRejected(pairs), ({ pair, review }) => ({ ...toSft(pair), ...(review ? { review } : {}) }));
  }

  /** Reviews change lines (swaps, edits, review fields): only a run without any is exported by COPY. */
  private async copyable(runId: string): Promise<boolean> {
    return this.store.pairs.canCopy && !(await this.store.reviews.anyForRun(runId));
  }

  /**
   * Lines from `COPY ... TO STDOUT` piped to the response: backpressure end to end, nothing
   * parsed or re-encoded here, so memory stays at the stream buffers whatever the run's size.
   * `none`: only accepted pairs were asked for and nobody reviewed any, so the export is empty.
   */
  private async copyLines(res: Response, runId: string, format: LineFormat, exclude: readonly PairFlag[], none: boolean) {
    res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    if (none) return void res.end();
    const lines = await this.store.pairs.copyLines(runId, format, { exclude });
    try {
      await pipeline(lines, res);
    } catch (err) {
      // The client went away mid-stream: nothing more to send (the connection is dropped, not reused).
      if (!res.destroyed && !res.writableEnded) throw err;
    }
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
