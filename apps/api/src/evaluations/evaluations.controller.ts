import { Body, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Response } from 'express';
import {
  CreateEvaluationSchema,
  EvalSetListSchema,
  EvaluationEstimateSchema,
  EvaluationListSchema,
  EvaluationSchema,
  ListEvaluationsQuerySchema,
} from '@amend/contracts';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { evaluationIdPipe } from '../common/id-pipe';
import { EvaluationsService } from './evaluations.service';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

/** Auditors and admins read every team's evaluations; authors their own team's. */
const readScope = (p: Principal) => (p.role === 'auditor' || p.role === 'admin' ? undefined : p.team);

class CreateEvaluationDto extends createZodDto(CreateEvaluationSchema) {}
class ListEvaluationsQueryDto extends createZodDto(ListEvaluationsQuerySchema) {}
class EvaluationDto extends createZodDto(EvaluationSchema) {}
class EvaluationListDto extends createZodDto(EvaluationListSchema) {}
class EvaluationEstimateDto extends createZodDto(EvaluationEstimateSchema) {}
class EvalSetListDto extends createZodDto(EvalSetListSchema) {}

@V1Controller('evaluations', 'evaluations')
export class EvaluationsController {
  constructor(private readonly evaluations: EvaluationsService) {}

  @Post()
  @Answers('constitution_not_found', 'eval_set_not_found', 'unknown_model', 'too_many_prompts', 'too_many_active_runs', 'budget_without_prices')
  @Allow('evaluate')
  @ApiOperation({ summary: 'Compare two constitution versions on the same prompts: two runs and a judge, answered 202 while workers go' })
  @ZodResponse({ status: 202, type: EvaluationDto })
  async create(@Body() body: CreateEvaluationDto, @Caller() caller: Principal, @Res({ passthrough: true }) res: Response) {
    const evaluation = await this.evaluations.create(body, caller);
    res.setHeader('Location', `/v1/evaluations/${evaluation.id}`);
    return evaluation;
  }

  @Post('estimate')
  @Answers('constitution_not_found', 'eval_set_not_found', 'unknown_model', 'too_many_prompts', 'budget_without_prices')
  @Allow('evaluate')
  @HttpCode(200)
  @ApiOperation({ summary: 'What the evaluation would cost (calls, tokens at most), without starting it' })
  @ZodResponse({ type: EvaluationEstimateDto })
  estimate(@Body() body: CreateEvaluationDto, @Caller() caller: Principal) {
    return this.evaluations.estimate(body, caller);
  }

  @Get()
  @Answers('invalid_cursor')
  @Allow('readEvaluations')
  @ApiOperation({ summary: "Evaluations of the caller's team, newest first (an auditor's or admin's: every team's), without their reports" })
  @ZodResponse({ type: EvaluationListDto })
  list(@Query() query: ListEvaluationsQueryDto, @Caller() caller: Principal) {
    return this.evaluations.list(query, readScope(caller));
  }

  @Get('sets')
  @Allow('readEvaluations')
  @ApiOperation({ summary: 'Bundled evaluation sets (eval_set), with their licences' })
  @ZodResponse({ type: EvalSetListDto })
  sets() {
    return { sets: this.evaluations.evalSets() };
  }

  @Get(':id')
  @Answers('evaluation_not_found')
  @Allow('readEvaluations')
  @ApiOperation({ summary: 'Progress, and the report once both runs are finished' })
  @ZodResponse({ type: EvaluationDto })
  get(@Param('id', evaluationIdPipe) id: string, @Caller() caller: Principal) {
    return this.evaluations.get(id, readScope(caller));
  }
}
