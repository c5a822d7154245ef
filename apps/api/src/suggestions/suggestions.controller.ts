import { Body, Get, HttpCode, Param, Post, Query, Req, Res, type PipeTransform } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  AddSuggestionToDraftSchema,
  CreateSuggestionsSchema,
  DraftSchema,
  SuggestionEstimateSchema,
  SuggestionSetListSchema,
  SuggestionSetSchema,
  type CreateSuggestions,
} from '@amend/contracts';
import type { LabelledPair } from '@amend/pipeline';
import { Allow } from '../auth/access.decorators';
import { Caller, teamScope, type Principal } from '../auth/principal';
import { suggestionIdPipe } from '../common/id-pipe';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';
import { constitutionNotFound } from '../errors/api-error';
import { SuggestionsService } from './suggestions.service';

class CreateSuggestionsDto extends createZodDto(CreateSuggestionsSchema) {}
class SuggestionSetDto extends createZodDto(SuggestionSetSchema) {}
class SuggestionSetListDto extends createZodDto(SuggestionSetListSchema) {}
class SuggestionEstimateDto extends createZodDto(SuggestionEstimateSchema) {}
class AddSuggestionToDraftDto extends createZodDto(AddSuggestionToDraftSchema) {}
class DraftDto extends createZodDto(DraftSchema) {}

const ListSuggestionsQuerySchema = z.strictObject({
  constitution: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
class ListSuggestionsQueryDto extends createZodDto(ListSuggestionsQuerySchema) {}

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const namePipe: PipeTransform<string, string> = {
  transform(name: string) {
    if (!NAME.test(name)) throw constitutionNotFound(name, `no constitution "${name.slice(0, 100)}"; names are lowercase slugs such as "harmless"`, null);
    return name;
  },
};

const CREATE_ANSWERS = [
  'constitution_not_found',
  'run_not_found',
  'unknown_model',
  'no_labelled_pairs',
  'budget_without_prices',
  'suggestion_over_budget',
  'unsupported_media_type',
  'body_too_large',
] as const;

const CONSUMES =
  'A JSON body with `run` (learn from its reviewed pairs; `pairs_from: "overturned"` for the swapped ones only) or `pairs` ([{id?, prompt, chosen, rejected}]), ' +
  'or a preference file as JSON Lines (`Content-Type: application/x-ndjson`): one pair a line, optionally after a first line with the options.';

@V1Controller('suggestions')
export class SuggestionsController {
  constructor(private readonly suggestions: SuggestionsService) {}

  /** The body as the schema reads it, or an upload's options and pairs. */
  private async read(body: unknown, req: Request): Promise<{ body: CreateSuggestions; lines?: LabelledPair[] }> {
    if (!req.is('application/x-ndjson')) return { body: CreateSuggestionsSchema.parse(body ?? {}) };
    const upload = await this.suggestions.readUpload(req);
    // The options are checked by the same schema as a JSON body, with a stand-in pair.
    const parsed = CreateSuggestionsSchema.parse({ ...upload.options, pairs: [{ prompt: '-', chosen: '-', rejected: '-' }] });
    return { body: parsed, lines: upload.pairs };
  }

  @Post('constitutions/:name/suggestions')
  @Answers(...CREATE_ANSWERS)
  @Allow('suggest')
  @ApiOperation({
    summary: 'Learn principles from labelled pairs (after Inverse Constitutional AI): a job, answered 202; GET /v1/suggestions/{id} follows it',
    description: CONSUMES,
  })
  @ApiConsumes('application/json', 'application/x-ndjson')
  @ApiBody({ type: CreateSuggestionsDto })
  @ZodResponse({ status: 202, type: SuggestionSetDto })
  async create(
    @Param('name', namePipe) name: string,
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @Caller() caller: Principal,
  ) {
    const read = await this.read(body, req);
    const set = await this.suggestions.create(name, read.body, caller, read.lines);
    res.status(202).setHeader('Location', `/v1/suggestions/${set.id}`);
    return set;
  }

  @Post('constitutions/:name/suggestions/estimate')
  @HttpCode(200)
  @Answers(...CREATE_ANSWERS)
  @Allow('suggest')
  @ApiOperation({ summary: 'What a suggestion job would cost (calls, an upper bound of tokens and dollars), without starting it', description: CONSUMES })
  @ApiConsumes('application/json', 'application/x-ndjson')
  @ApiBody({ type: CreateSuggestionsDto })
  @ZodResponse({ type: SuggestionEstimateDto })
  async estimate(@Param('name', namePipe) name: string, @Body() body: unknown, @Req() req: Request, @Caller() caller: Principal) {
    const read = await this.read(body, req);
    return this.suggestions.estimate(name, read.body, caller, read.lines);
  }

  @Get('suggestions')
  @Allow('readSuggestions')
  @ApiOperation({ summary: "Suggestion sets, newest first: the team's (an auditor's: every team's)" })
  @ZodResponse({ type: SuggestionSetListDto })
  list(@Query() query: ListSuggestionsQueryDto, @Caller() caller: Principal) {
    return this.suggestions.list(query, teamScope(caller));
  }

  @Get('suggestions/:id')
  @Answers('suggestion_not_found')
  @Allow('readSuggestions')
  @ApiOperation({
    summary:
      'A suggestion set: its progress, and once ranked each suggestion with its principle, agreement, relevance, the pairs it explains and the closest existing principle',
  })
  @ZodResponse({ type: SuggestionSetDto })
  get(@Param('id', suggestionIdPipe) id: string, @Caller() caller: Principal) {
    return this.suggestions.get(id, teamScope(caller));
  }

  @Post('suggestions/:id/add-to-draft')
  @Answers('suggestion_not_found', 'suggestion_not_ready', 'constitution_invalid')
  @Allow('suggest')
  @ApiOperation({
    summary:
      "Add a ranked suggestion's principle to a draft of the set's constitution in one step (the team's draft, made from the version compared with when missing): 201 created, 200 saved",
  })
  @ZodResponse({ status: 201, type: DraftDto })
  async addToDraft(
    @Param('id', suggestionIdPipe) id: string,
    @Body() body: AddSuggestionToDraftDto,
    @Res({ passthrough: true }) res: Response,
    @Caller() caller: Principal,
  ) {
    const draft = await this.suggestions.addToDraft(id, body, caller);
    res.status(draft.created ? 201 : 200).setHeader('Location', `/v1/constitutions/${draft.name}/drafts/${draft.draft}`);
    return draft;
  }

  @Get('suggestions/:id/audit/verify')
  @Answers('suggestion_not_found')
  @Allow('audit')
  @ApiOperation({ summary: "Recompute a suggestion set's audit chain and hold its rows (pairs, settings, calls, result) to it" })
  verify(@Param('id', suggestionIdPipe) id: string, @Caller() caller: Principal) {
    return this.suggestions.verify(id, teamScope(caller));
  }
}
