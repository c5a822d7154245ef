import { Get, Param, Query } from '@nestjs/common';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { ListSamplesQuerySchema, SampleListSchema, SampleSchema } from '@amend/contracts';
import { SamplesService } from './samples.service';
import { runIdPipe, sampleIdPipe } from '../common/id-pipe';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class ListSamplesQueryDto extends createZodDto(ListSamplesQuerySchema) {}
class SampleListDto extends createZodDto(SampleListSchema) {}
class SampleDto extends createZodDto(SampleSchema) {}

@V1Controller('samples')
export class SamplesController {
  constructor(private readonly samples: SamplesService) {}

  @Get('runs/:id/samples')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ZodResponse({ type: SampleListDto })
  list(@Param('id', runIdPipe) runId: string, @Query() query: ListSamplesQueryDto, @Caller() caller: Principal) {
    return this.samples.list(runId, query, caller);
  }

  @Get('samples/:id')
  @Answers('sample_not_found')
  @Allow('readRuns')
  @ZodResponse({ type: SampleDto })
  get(@Param('id', sampleIdPipe) id: string, @Caller() caller: Principal) {
    return this.samples.get(id, caller);
  }
}
