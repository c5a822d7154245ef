import { Get, Param } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { QualityReportSchema } from '@amend/contracts';
import { RunsService } from '../runs/runs.service';
import { runIdPipe } from '../common/id-pipe';
import { ReportsService } from './reports.service';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class QualityReportDto extends createZodDto(QualityReportSchema) {}

@V1Controller('runs', 'runs/:id')
export class ReportsController {
  constructor(
    private readonly runs: RunsService,
    private readonly reports: ReportsService,
  ) {}

  @Get('report')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiOperation({
    summary: 'Quality report: per principle and overall, no-op revisions, length ratio, refusals and refusal drift, judge order agreement and position bias',
  })
  @ZodResponse({ type: QualityReportDto })
  async report(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.reports.report(await this.runs.get(id, teamScope(caller)));
  }
}
