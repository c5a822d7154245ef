import { Body, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Request, Response } from 'express';
import { CreateRunSchema, ListRunsQuerySchema, RunListSchema, RunManifestSchema, RunSchema } from '@amend/contracts';
import { RunsService } from './runs.service';
import { ApiError } from '../errors/api-error';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { V1Controller } from '../common/v1-controller';

class CreateRunDto extends createZodDto(CreateRunSchema) {}
class ListRunsQueryDto extends createZodDto(ListRunsQuerySchema) {}
class RunDto extends createZodDto(RunSchema) {}
class RunListDto extends createZodDto(RunListSchema) {}
class RunManifestDto extends createZodDto(RunManifestSchema) {}

export const uuidPipe = new ParseUUIDPipe({
  exceptionFactory: () => new ApiError(404, 'not_found', 'no such id (ids are UUIDs)'),
});

@V1Controller('runs', 'runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
  ) {}

  @Post()
  @Allow('submitRuns')
  @ApiOperation({
    summary: 'Create a run: one job per prompt, answered 202 while workers process it',
    description:
      'A JSON body up to AMEND_MAX_BODY_BYTES (4 MiB by default), or a JSON Lines upload of any size (`Content-Type: application/x-ndjson`): ' +
      'the first line the run options (this body without `prompts`), then one prompt a line (a string or {id?, prompt, metadata?}), streamed into the run.',
  })
  @ApiConsumes('application/json', 'application/x-ndjson')
  @ApiBody({ type: CreateRunDto })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'the same key and body return the same run' })
  @ZodResponse({ status: 202, type: RunDto })
  async create(
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @Caller() caller: Principal,
    @Headers('idempotency-key') key?: string,
  ) {
    // A replay answers exactly as the first request did (202), marked by a header.
    const { run, created } = req.is('application/x-ndjson')
      ? await this.runs.createStreamed(req, key, caller)
      : await this.runs.create(CreateRunSchema.parse(body ?? {}), body, key, caller);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `/v1/runs/${run.id}`);
    return run;
  }

  @Get()
  @Allow('readRuns')
  @ApiOperation({ summary: "Runs of the caller's team, newest first (an auditor's: every team's)" })
  @ZodResponse({ type: RunListDto })
  list(@Query() query: ListRunsQueryDto, @Caller() caller: Principal) {
    return this.runs.list(query, caller);
  }

  @Get(':id')
  @Allow('readRuns')
  @ZodResponse({ type: RunDto })
  get(@Param('id', uuidPipe) id: string, @Caller() caller: Principal) {
    return this.runs.get(id, teamScope(caller));
  }

  @Get(':id/manifest')
  @Allow('readRuns')
  @ApiOperation({ summary: 'A POST /v1/runs body that replays this run: prompts, constitution pinned by version and sha256, models, sampling, seed, options' })
  @ZodResponse({ type: RunManifestDto })
  manifest(@Param('id', uuidPipe) id: string, @Caller() caller: Principal) {
    return this.runs.manifest(id, teamScope(caller));
  }

  @Post(':id/cancel')
  @Allow('submitRuns')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel pending samples; pairs made so far stay exportable' })
  @ZodResponse({ type: RunDto })
  cancel(@Param('id', uuidPipe) id: string, @Caller() caller: Principal) {
    return this.runs.cancel(id, caller);
  }
}
