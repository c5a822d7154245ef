import { Body, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { CreateKeySchema, CreatedKeySchema, KeySchema, KeysAnswerSchema, ListKeysQuerySchema } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { keyIdPipe } from '../common/id-pipe';
import { KeysService } from './keys.service';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class CreateKeyDto extends createZodDto(CreateKeySchema) {}
class CreatedKeyDto extends createZodDto(CreatedKeySchema) {}
class KeyDto extends createZodDto(KeySchema) {}
class KeysAnswerDto extends createZodDto(KeysAnswerSchema) {}
class ListKeysQueryDto extends createZodDto(ListKeysQuerySchema) {}

@V1Controller('keys', 'keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Post()
  @Allow('manageKeys')
  @ApiOperation({
    summary: 'Create a key with one role and one team; the key is in this answer only, store it now',
    description: 'Operator admins (team "admin") create keys of every team; an admin of another team creates keys of its own team only, and no auditors.',
  })
  @ZodResponse({ status: 201, type: CreatedKeyDto })
  create(@Body() body: CreateKeyDto, @Caller() caller: Principal) {
    return this.keys.create(body, caller);
  }

  @Get()
  @Allow('readKeys')
  @ApiOperation({
    summary: 'List keys (never the keys themselves): by team or role, revoked ones with revoked=true',
    description:
      'Admins get each key with its prefix and limits. Auditors get the key directory (id, name, role, team, created and revoked), to name the actor `key:<id>` of an event: ' +
      'their own team\'s keys, or every team\'s for auditors of the operator team ("admin").',
  })
  @ZodResponse({ type: KeysAnswerDto })
  async list(@Query() query: ListKeysQueryDto, @Caller() caller: Principal) {
    if (caller.role === 'auditor') return { keys: await this.keys.directory(query, caller) };
    return { keys: await this.keys.list(query, caller) };
  }

  @Delete(':id')
  @Answers('key_not_found')
  @Allow('manageKeys')
  @ApiOperation({ summary: 'Revoke a key: refused from the next request on; revoking twice is harmless' })
  @ZodResponse({ type: KeyDto })
  revoke(@Param('id', keyIdPipe) id: string, @Caller() caller: Principal) {
    return this.keys.revoke(id, caller);
  }
}
