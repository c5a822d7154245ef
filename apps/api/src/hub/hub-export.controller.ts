import { Body, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { HubExportRequestSchema, HubExportResultSchema } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { runIdPipe } from '../common/id-pipe';
import { V1Controller } from '../common/v1-controller';
import { Answers } from '../errors/answers.decorator';
import { HubExportService } from './hub-export.service';

class HubExportRequestDto extends createZodDto(HubExportRequestSchema) {}
class HubExportResultDto extends createZodDto(HubExportResultSchema) {}

@V1Controller('exports', 'runs/:id/exports')
export class HubExportController {
  constructor(private readonly hub: HubExportService) {}

  @Post('hub')
  @HttpCode(200)
  @Answers(
    'run_not_found',
    'empty_export',
    'hub_not_configured',
    'hub_rate_limited',
    'hub_unauthorized',
    'hub_forbidden',
    'hub_not_found',
    'hub_conflict',
    'hub_too_large',
    'hub_error',
  )
  @Allow('publishRuns')
  @ApiOperation({
    summary: "Push the run's Hugging Face dataset folder (splits, manifest.json, dataset card) to a dataset repository, with the team's token",
    description:
      'Creates the repository (private if asked) and the branch when missing, and pushes the folder in one commit; when the repository already holds ' +
      "the same files nothing is pushed (`changed: false`). The card names the constitution (text, version, sha256), the manifest's settings, models, " +
      "counts, the quality report and the run's seal. The token is the team's from AMEND_HF_TOKENS; it is never stored, logged or answered.",
  })
  @ZodResponse({ status: 200, type: HubExportResultDto })
  push(@Param('id', runIdPipe) id: string, @Body() body: HubExportRequestDto, @Caller() caller: Principal) {
    return this.hub.push(id, body, caller);
  }
}
