import { Get } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { KeySelfSchema } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { V1Controller } from '../common/v1-controller';

class KeySelfDto extends createZodDto(KeySelfSchema) {}

@V1Controller('keys', 'keys')
export class MeController {
  @Get('me')
  @Allow('readOwnKey')
  @ApiOperation({ summary: 'The key this request came with: its role, team and limits (never the key itself)' })
  @ZodResponse({ type: KeySelfDto })
  me(@Caller() caller: Principal) {
    return { id: caller.key_id, role: caller.role, team: caller.team, actor: caller.actor, limits: caller.limits };
  }
}
