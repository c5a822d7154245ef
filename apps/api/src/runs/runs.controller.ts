import { Body, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Request, Response } from 'express';
import { CreateRunSchema, ListRunsQuerySchema, RunListSchema, RunManifestSchema, RunSchema } from '@amend/contracts';
import { RunsService } from './runs.service';
import { runIdPipe } from '../common/id-pipe';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class CreateRunDto extends createZodDto(CreateRunSchema) {}
class ListRunsQueryDto extends createZodDto(ListRunsQuerySchema) {}
class RunDto extends createZodDto(RunSchema) {}
class RunListDto extends createZodDto(RunListSchema) {}
class RunManifestDto extends createZodDto(RunManifestSchema) {}

@V1Controller('runs', 'runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Post()
  @Answers(
    'constitution_not_found',
    'constitution_sha256_mismatch',
    'unknown_model',
    'over_limit',
    'too_many_prompts',
    'too_many_active_runs',
    'idempotency_key_reused',
    'invalid_idempotency_key',
    'unsupported_media_type',
    'budget_without_prices',
    'batch_unsupported',
    'batch_budget_unsupported',
    'batch_label_guard_unsupported',
    'conflict',
    'invalid_mode',
    'invalid_rounds',
    'no_principles',
    'unknown_principles',
    'invalid_feedback_options',
    'no_comparison_principles',
    'ensemble_too_large',
    'invalid_evaluation_run',
  )
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
  @Answers('invalid_cursor')
  @Allow('readRuns')
  @ApiOperation({ summary: "Runs of the caller's team, newest first (an auditor's: every team's)" })
  @ZodResponse({ type: RunListDto })
  list(@Query() query: ListRunsQueryDto, @Caller() caller: Principal) {
    return this.runs.list(query, caller);
  }

  @Get(':id')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ZodResponse({ type: RunDto })
  get(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.runs.detail(id, teamScope(caller));
  }

  @Get(':id/manifest')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiOperation({ summary: 'A POST /v1/runs body that replays this run: prompts, constitution pinned by version and sha256, models, sampling, seed, options' })
  @ZodResponse({ type: RunManifestDto })
  manifest(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.runs.manifest(id, teamScope(caller));
  }

  @Post(':id/cancel')
  @Answers('run_not_found')
  @Allow('submitRuns')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel pending samples; pairs made so far stay exportable' })
  @ZodResponse({ type: RunDto })
  cancel(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.runs.cancel(id, caller);
  }
}
