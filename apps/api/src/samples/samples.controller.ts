import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { ListSamplesQuerySchema, SampleListSchema, SampleSchema } from '@amend/contracts';
import { Store } from '@amend/store';
import { RunsService } from '../runs/runs.service';
import { uuidPipe } from '../runs/runs.controller';
import { ApiError } from '../errors/api-error';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';

class ListSamplesQueryDto extends createZodDto(ListSamplesQuerySchema) {}
class SampleListDto extends createZodDto(SampleListSchema) {}
class SampleDto extends createZodDto(SampleSchema) {}

@ApiTags('samples')
@ApiBearerAuth()
@Controller('v1')
export class SamplesController {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  @Get('runs/:id/samples')
  @Allow('submitter', 'auditor')
  @ZodResponse({ type: SampleListDto })
  async list(@Param('id', uuidPipe) runId: string, @Query() query: ListSamplesQueryDto, @Caller() caller: Principal) {
    await this.runs.get(runId, teamScope(caller));
    return this.store.samples.list(runId, query);
  }

  @Get('samples/:id')
  @Allow('submitter', 'auditor')
  @ZodResponse({ type: SampleDto })
  async get(@Param('id', uuidPipe) id: string, @Caller() caller: Principal) {
    const sample = await this.store.samples.detail(id, teamScope(caller));
    if (!sample) throw new ApiError(404, 'sample_not_found', `no sample ${id}`);
    return sample;
  }
}
