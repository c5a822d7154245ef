import { Body, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { ListReviewsQuerySchema, PairReviewDetailSchema, ReviewListSchema, ReviewRequestSchema } from '@amend/contracts';
import { pairIdPipe, runIdPipe } from '../common/id-pipe';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { ReviewsService } from './reviews.service';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class ReviewRequestDto extends createZodDto(ReviewRequestSchema) {}
class ListReviewsQueryDto extends createZodDto(ListReviewsQuerySchema) {}
class ReviewListDto extends createZodDto(ReviewListSchema) {}
class PairReviewDetailDto extends createZodDto(PairReviewDetailSchema) {}

/**
 * Human review: a team's submitters review its pairs (the team's dataset); auditors read reviews
 * of every team and change nothing.
 */
@V1Controller('reviews')
export class ReviewsController {
  constructor(private readonly reviews: ReviewsService) {}

  @Get('runs/:id/reviews')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiOperation({ summary: "A run's pairs with their latest human review, in sample order; filter by status (unreviewed, accepted, rejected)" })
  @ZodResponse({ type: ReviewListDto })
  list(@Param('id', runIdPipe) runId: string, @Query() query: ListReviewsQueryDto, @Caller() caller: Principal) {
    return this.reviews.list(runId, query, teamScope(caller));
  }

  @Get('pairs/:id/review')
  @Answers('pair_not_found')
  @Allow('readRuns')
  @ApiOperation({ summary: 'One pair as the worker made it, its latest review and every review before' })
  @ZodResponse({ type: PairReviewDetailDto })
  detail(@Param('id', pairIdPipe) pairId: string, @Caller() caller: Principal) {
    return this.reviews.detail(pairId, teamScope(caller));
  }

  @Post('pairs/:id/review')
  @Answers('pair_not_found', 'invalid_review', 'conflict')
  @Allow('reviewPairs')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Review a pair: accept, reject, swap chosen and rejected, or edit a text, with a reason (audited as pair.reviewed)',
    description:
      'Swap and edit keep the pair (status accepted) with the new texts, which every export then carries; `GET /v1/runs/{id}/pairs?reviewed=accepted` exports only accepted pairs. ' +
      'Give `base_review_id` (the latest review you saw, or null) to be refused with 409 if someone reviewed the pair meanwhile.',
  })
  @ZodResponse({ status: 201, type: PairReviewDetailDto })
  review(@Param('id', pairIdPipe) pairId: string, @Body() body: ReviewRequestDto, @Caller() caller: Principal) {
    return this.reviews.review(pairId, body, { actor: caller.actor, key_id: caller.key_id, name: caller.name, team: teamScope(caller) });
  }
}
