import { Body, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { EraseRequestSchema, ErasureResultSchema } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { runIdPipe, sampleIdPipe } from '../common/id-pipe';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';
import { ErasureService } from './erasure.service';

class EraseRequestDto extends createZodDto(EraseRequestSchema) {}
class ErasureResultDto extends createZodDto(ErasureResultSchema) {}

/** docs/audit.md "Erasure": admins only; content goes, hashes stay, the trail says who, when and why. */
@V1Controller('erasure')
export class ErasureController {
  constructor(private readonly erasure: ErasureService) {}

  @Post('samples/:id/erase')
  @Answers('sample_not_found', 'already_erased')
  @Allow('erase')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Erase a finished sample's content (prompt, metadata, stage texts, pair texts, unshared message blobs); its hashes and an `erasure` event stay in the trail",
  })
  @ZodResponse({ type: ErasureResultDto })
  sample(@Param('id', sampleIdPipe) id: string, @Body() body: EraseRequestDto, @Caller() caller: Principal) {
    return this.erasure.sample(id, body.reason, caller);
  }

  @Post('runs/:id/erase')
  @Answers('run_not_found', 'run_not_finished')
  @Allow('erase')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Erase every sample of a finished run (as the sample route does, each with its `erasure` event); samples already erased are left as they are',
  })
  @ZodResponse({ type: ErasureResultDto })
  run(@Param('id', runIdPipe) id: string, @Body() body: EraseRequestDto, @Caller() caller: Principal) {
    return this.erasure.run(id, body.reason, caller);
  }
}
