import { Body, Get, Param, Put, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Response } from 'express';
import { AgreementSchema, QueuedPairSchema, ReviewPolicyAnswerSchema, ReviewPolicySchema, ReviewProgressSchema } from '@amend/contracts';
import { runIdPipe } from '../common/id-pipe';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';
import { ReviewQueueService } from './review-queue.service';

class QueuedPairDto extends createZodDto(QueuedPairSchema) {}
class ReviewPolicyDto extends createZodDto(ReviewPolicySchema) {}
class ReviewPolicyAnswerDto extends createZodDto(ReviewPolicyAnswerSchema) {}
class ReviewProgressDto extends createZodDto(ReviewProgressSchema) {}
class AgreementDto extends createZodDto(AgreementSchema) {}

/** Review by several reviewers (docs/ml-teams.md#review-by-several-reviewers): the queue, the policy and agreement. */
@V1Controller('reviews', 'runs/:id')
export class ReviewQueueController {
  constructor(private readonly queue: ReviewQueueService) {}

  @Get('review-queue/next')
  @Answers('run_not_found')
  @Allow('reviewPairs')
  @ApiOperation({
    summary: "The next pair for the caller's key to review, with a lease on one of its open slots; 204 when none is left for this key",
    description:
      "A pair this key has not reviewed and that has fewer reviews (and leases of other keys) than the run's `review.per_pair`. " +
      'Asking again before reviewing gives the same pair and renews the lease (AMEND_REVIEW_LEASE_MS). Review it with POST /v1/pairs/{id}/review.',
  })
  @ApiOkResponse({ type: QueuedPairDto })
  @ApiNoContentResponse({ description: 'nothing left for this key: every pair has its reviews, is held by others, or was reviewed by this key' })
  async next(@Param('id', runIdPipe) id: string, @Caller() caller: Principal, @Res({ passthrough: true }) res: Response) {
    const next = await this.queue.next(id, { key_id: caller.key_id, team: caller.team });
    if (!next) {
      res.status(204);
      return;
    }
    return QueuedPairSchema.parse(next);
  }

  @Get('review-queue')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiOperation({ summary: "How far a run's reviews are: pairs complete, partial and unreviewed, and each reviewer's reviews and leases" })
  @ZodResponse({ type: ReviewProgressDto })
  progress(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.queue.progress(id, teamScope(caller));
  }

  @Put('review-policy')
  @Answers('run_not_found')
  @Allow('setReviewPolicy')
  @ApiOperation({
    summary: 'Set how many different keys review each pair of the run (audited as run.review_policy_set)',
    description: 'Also given at creation as `"review": {"per_pair": N}` on POST /v1/runs. Lowering it never removes reviews already made.',
  })
  @ZodResponse({ type: ReviewPolicyAnswerDto })
  setPolicy(@Param('id', runIdPipe) id: string, @Body() body: ReviewPolicyDto, @Caller() caller: Principal) {
    return this.queue.setPolicy(id, body.per_pair, { actor: caller.actor, team: caller.team });
  }

  @Get('agreement')
  @Answers('run_not_found')
  @Allow('readRuns')
  @ApiOperation({
    summary:
      "Agreement between the run's reviewers: Krippendorff's alpha (nominal), pairwise Cohen's kappa, raw agreement, agreement with the AI judge, per pair, and the disagreements",
  })
  @ZodResponse({ type: AgreementDto })
  agreement(@Param('id', runIdPipe) id: string, @Caller() caller: Principal) {
    return this.queue.agreement(id, teamScope(caller));
  }
}
