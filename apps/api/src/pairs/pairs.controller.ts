import { pipeline } from 'node:stream/promises';
import { Get, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiResponse } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Response } from 'express';
import { EXCLUDED_HEADER, EXCLUDED_REASONS, PairsQuerySchema, SftQuerySchema, formatExcluded } from '@amend/contracts';
import { NdjsonWriter } from '../common/ndjson';
import { runIdPipe } from '../common/id-pipe';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { PairsService, type ExportLines } from './pairs.service';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class PairsQueryDto extends createZodDto(PairsQuerySchema) {}

/** The 200 of an export, with the header that says, before the stream, what it left out (docs/ml-teams.md "Left out"). */
const EXPORTED = ApiResponse({
  status: 200,
  description: 'JSON Lines, one line per pair kept',
  headers: {
    [EXCLUDED_HEADER]: {
      description: `Pairs left out and why, each counted once under its first reason (in this order: ${EXCLUDED_REASONS.join(', ')}): \`erased=1,truncated=2,noop=1\`, or \`none\``,
      schema: { type: 'string' },
    },
  },
});
class SftQueryDto extends createZodDto(SftQuerySchema) {}

@V1Controller('pairs', 'runs/:id')
export class PairsController {
  constructor(private readonly exports: PairsService) {}

  @Get('pairs')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiProduces('application/x-ndjson')
  @EXPORTED
  async pairs(@Param('id', runIdPipe) id: string, @Query() query: PairsQueryDto, @Res() res: Response, @Caller() caller: Principal) {
    await send(res, await this.exports.pairs(id, query, caller));
  }

  @Get('sft')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiProduces('application/x-ndjson')
  @EXPORTED
  async sft(@Param('id', runIdPipe) id: string, @Query() query: SftQueryDto, @Res() res: Response, @Caller() caller: Principal) {
    await send(res, await this.exports.sft(id, query, caller));
  }
}

/**
 * COPY lines are piped to the response: backpressure end to end, nothing parsed or re-encoded
 * here, so memory stays at the stream buffers whatever the run's size. Objects are written one
 * JSON line each as Postgres pages arrive, paused while the client is slow.
 */
async function send(res: Response, out: ExportLines): Promise<void> {
  // docs/ml-teams.md "Left out": an export says what it left out and why, before the stream (`truncated=3,noop=2`).
  res.setHeader(EXCLUDED_HEADER, formatExcluded(out.excluded));
  if (out.kind === 'objects') {
    const writer = new NdjsonWriter(res);
    for await (const line of out.lines) {
      if (writer.isClosed) return;
      await writer.write(line);
    }
    return writer.end();
  }
  res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
  if (!out.lines) return void res.end();
  try {
    await pipeline(out.lines, res);
  } catch (err) {
    // The client went away mid-stream: nothing more to send (the connection is dropped, not reused).
    if (!res.destroyed && !res.writableEnded) throw err;
  }
}
