import { Get, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Response } from 'express';
import { AuditEventPageSchema, AuditEventsQuerySchema, RunAuditQuerySchema, RunVerifySchema, SampleAuditSchema, VerifyReportSchema } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { runIdPipe, sampleIdPipe } from '../common/id-pipe';
import { AuditService } from './audit.service';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class AuditEventPageDto extends createZodDto(AuditEventPageSchema) {}
class AuditEventsQueryDto extends createZodDto(AuditEventsQuerySchema) {}
class RunAuditQueryDto extends createZodDto(RunAuditQuerySchema) {}
class RunVerifyDto extends createZodDto(RunVerifySchema) {}
class VerifyReportDto extends createZodDto(VerifyReportSchema) {}
class SampleAuditDto extends createZodDto(SampleAuditSchema) {}

/** docs/architecture.md#roles-and-access: auditors read every team's trail and verify it; nobody else does. */
@V1Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get('runs/:id/audit')
  @Answers('run_not_found', 'invalid_cursor')
  @Allow('audit')
  @ApiOperation({ summary: "A run's audit events in the order written (run and sample chains), paged by cursor" })
  @ZodResponse({ type: AuditEventPageDto })
  runEvents(@Param('id', runIdPipe) id: string, @Query() query: RunAuditQueryDto) {
    return this.audit.runEvents(id, query);
  }

  @Get('runs/:id/audit/verify')
  @Answers('run_not_found')
  @Allow('audit')
  @ApiOperation({ summary: 'Recompute every chain of the run and its seal; names the first event that does not match and why' })
  @ZodResponse({ type: RunVerifyDto })
  verify(@Param('id', runIdPipe) id: string) {
    return this.audit.verifyRun(id);
  }

  @Get('runs/:id/audit/export')
  @Answers('run_not_found')
  @Allow('audit')
  @ApiProduces('application/x-ndjson')
  @ApiOperation({ summary: "The run's trail as a JSON Lines bundle that `amend audit verify --file` checks offline" })
  async export(@Param('id', runIdPipe) id: string, @Res() res: Response) {
    await this.audit.export(id, res);
  }

  @Get('samples/:id/audit')
  @Answers('sample_not_found')
  @Allow('audit')
  @ApiOperation({ summary: 'The whole critique log of one sample in order (every model call, judgement and the pair), with its chain checked' })
  @ZodResponse({ type: SampleAuditDto })
  sample(@Param('id', sampleIdPipe) id: string) {
    return this.audit.sample(id);
  }

  @Get('audit/events')
  @Answers('invalid_cursor')
  @Allow('audit')
  @ApiOperation({ summary: 'Events of every team, filtered by run, sample, type and time, in the order written' })
  @ZodResponse({ type: AuditEventPageDto })
  events(@Query() query: AuditEventsQueryDto) {
    return this.audit.search(query);
  }

  @Get('audit/verify')
  @Allow('audit')
  @ApiOperation({ summary: 'Recompute the chain of events outside runs: constitutions published or deprecated, keys created or revoked' })
  @ZodResponse({ type: VerifyReportDto })
  verifyGlobal() {
    return this.audit.verifyGlobal();
  }
}
