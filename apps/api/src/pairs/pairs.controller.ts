import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Response } from 'express';
import { PairsQuerySchema, type PairRecord } from '@amend/contracts';
import { formatPair, toSft } from '@amend/pipeline';
import { Store } from '@amend/store';
import { RunsService } from '../runs/runs.service';
import { uuidPipe } from '../runs/runs.controller';

/** Resolves when the client has taken the buffered lines, or went away. */
function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

class PairsQueryDto extends createZodDto(PairsQuerySchema) {}

@ApiTags('pairs')
@Controller('v1/runs/:id')
export class PairsController {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  @Get('pairs')
  @ApiProduces('application/x-ndjson')
  async pairs(@Param('id', uuidPipe) id: string, @Query() query: PairsQueryDto, @Res() res: Response) {
    await this.runs.get(id);
    await this.streamLines(res, id, (p) => formatPair(p, query.format));
  }

  @Get('sft')
  @ApiProduces('application/x-ndjson')
  async sft(@Param('id', uuidPipe) id: string, @Res() res: Response) {
    await this.runs.get(id);
    await this.streamLines(res, id, toSft);
  }

  /** One JSON line per pair, written as Postgres pages arrive and paused while the client is slow. */
  private async streamLines(res: Response, runId: string, project: (p: PairRecord) => object) {
    res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    let closed = false;
    res.on('close', () => (closed = true));
    for await (const pair of this.store.pairs.stream(runId)) {
      if (closed) return;
      if (!res.write(JSON.stringify(project(pair)) + '\n')) await drainedOrClosed(res);
    }
    res.end();
  }
}
