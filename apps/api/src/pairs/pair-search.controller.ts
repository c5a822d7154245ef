import { Get, Query } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { PairSearchQuerySchema, PairSearchResultSchema, SEARCH_MAX_LIMIT, SEARCH_MAX_QUERY_CHARS } from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';
import { PairSearchService } from './pair-search.service';

class PairSearchQueryDto extends createZodDto(PairSearchQuerySchema) {}
class PairSearchResultDto extends createZodDto(PairSearchResultSchema) {}

@V1Controller('pairs')
export class PairSearchController {
  constructor(private readonly pairs: PairSearchService) {}

  @Get('pairs')
  @Answers('run_not_found', 'invalid_cursor', 'invalid_search')
  @Allow('readRuns')
  @ApiOperation({
    summary: "Search the team's pairs: full text over prompt, chosen, rejected and critiques, with filters, paged by cursor",
    description:
      `q (at most ${SEARCH_MAX_QUERY_CHARS} characters, web search syntax, English stemming) ranks matches best first; without q, pairs come newest first. ` +
      `Filters: run, flag (comma list, all of them), principle, review_status, metadata.KEY=VALUE (prompt metadata). limit at most ${SEARCH_MAX_LIMIT}. ` +
      'Erased pairs are never found.',
  })
  @ZodResponse({ type: PairSearchResultDto })
  search(@Query() query: PairSearchQueryDto, @Caller() caller: Principal) {
    return this.pairs.search(query, caller);
  }
}
