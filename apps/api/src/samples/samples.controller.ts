import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { ListSamplesQuerySchema, SampleListSchema, SampleSchema } from '@amend/contracts';
import { Store } from '@amend/store';
import { RunsService, DEFAULT_TEAM } from '../runs/runs.service';
import { uuidPipe } from '../runs/runs.controller';
import { ApiError } from '../errors/api-error';

class ListSamplesQueryDto extends createZodDto(ListSamplesQuerySchema) {}
class SampleListDto extends createZodDto(SampleListSchema) {}
class SampleDto extends createZodDto(SampleSchema) {}

@ApiTags('samples')
@Controller('v1')
export class SamplesController {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
  ) {}

  @Get('runs/:id/samples')
  @ZodResponse({ type: SampleListDto })
  async list(@Param('id', uuidPipe) runId: string, @Query() query: ListSamplesQueryDto) {
    await this.runs.get(runId);
    return this.store.samples.list(runId, query);
  }

  @Get('samples/:id')
  @ZodResponse({ type: SampleDto })
  async get(@Param('id', uuidPipe) id: string) {
    const sample = await this.store.samples.detail(id, DEFAULT_TEAM);
    if (!sample) throw new ApiError(404, 'sample_not_found', `no sample ${id}`);
    return sample;
  }
}
