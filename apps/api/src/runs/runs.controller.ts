import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Request, Response } from 'express';
import { CreateRunSchema, ListRunsQuerySchema, RunListSchema, RunSchema } from '@amend/contracts';
import { Store } from '@amend/store';
import { RunsService, DEFAULT_TEAM } from './runs.service';
import { ApiError } from '../errors/api-error';

class CreateRunDto extends createZodDto(CreateRunSchema) {}
class ListRunsQueryDto extends createZodDto(ListRunsQuerySchema) {}
class RunDto extends createZodDto(RunSchema) {}
class RunListDto extends createZodDto(RunListSchema) {}

export const uuidPipe = new ParseUUIDPipe({
  exceptionFactory: () => new ApiError(404, 'not_found', 'no such id (ids are UUIDs)'),
});

@ApiTags('runs')
@Controller('v1/runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly store: Store,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a run: one job per prompt, answered 202 while workers process it' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'the same key and body return the same run' })
  @ZodResponse({ status: 202, type: RunDto })
  async create(@Body() body: CreateRunDto, @Req() req: Request, @Res({ passthrough: true }) res: Response, @Headers('idempotency-key') key?: string) {
    // A replay answers exactly as the first request did (202), marked by a header.
    const { run, created } = await this.runs.create(body, req.body, key, 'anonymous');
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `/v1/runs/${run.id}`);
    return run;
  }

  @Get()
  @ZodResponse({ type: RunListDto })
  list(@Query() query: ListRunsQueryDto) {
    return this.store.runs.list({ ...query, team: DEFAULT_TEAM });
  }

  @Get(':id')
  @ZodResponse({ type: RunDto })
  get(@Param('id', uuidPipe) id: string) {
    return this.runs.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel pending samples; pairs made so far stay exportable' })
  @ZodResponse({ type: RunDto })
  cancel(@Param('id', uuidPipe) id: string) {
    return this.runs.cancel(id, 'anonymous');
  }
}
