import { Body, Get, Headers, HttpCode, Param, Post, Put, Query, Req, Res, type PipeTransform } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiProduces } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import type { Response } from 'express';
import { ConstitutionError, ConstitutionSchema, constitutionToYaml, exportH4 } from '@amend/constitution';
import {
  ConstitutionDiffSchema,
  ConstitutionDocumentSchema,
  ConstitutionListSchema,
  ConstitutionSummarySchema,
  ConstitutionVersionSchema,
  DeprecateBodySchema,
  DiffQuerySchema,
  DRAFT_NAME,
  DraftListSchema,
  DraftSchema,
  PublishDraftBodySchema,
  GetConstitutionQuerySchema,
  H4ImportQuerySchema,
  PreviewRequestSchema,
  PreviewResultSchema,
  PublishResultSchema,
} from '@amend/contracts';
import { ApiError, constitutionNotFound } from '../errors/api-error';
import type { WithRawBody } from '../errors/body-parser';
import { ConstitutionsService } from './constitutions.service';
import { PreviewService } from './preview.service';
import { DraftsService } from './drafts.service';
import { draftNotFound } from './draft-ref';
import { Allow } from '../auth/access.decorators';
import { Caller, type Principal } from '../auth/principal';
import { Answers } from '../errors/answers.decorator';
import { V1Controller } from '../common/v1-controller';

class ConstitutionBodyDto extends createZodDto(ConstitutionSchema) {}
class PublishResultDto extends createZodDto(PublishResultSchema) {}
class ConstitutionListDto extends createZodDto(ConstitutionListSchema) {}
class ConstitutionSummaryDto extends createZodDto(ConstitutionSummarySchema) {}
class ConstitutionVersionDto extends createZodDto(ConstitutionVersionSchema) {}
class ConstitutionDiffDto extends createZodDto(ConstitutionDiffSchema) {}
class DiffQueryDto extends createZodDto(DiffQuerySchema) {}
class GetConstitutionQueryDto extends createZodDto(GetConstitutionQuerySchema) {}
class H4ImportQueryDto extends createZodDto(H4ImportQuerySchema) {}
class PreviewRequestDto extends createZodDto(PreviewRequestSchema) {}
class PreviewResultDto extends createZodDto(PreviewResultSchema) {}
class DraftDto extends createZodDto(DraftSchema) {}
class DraftListDto extends createZodDto(DraftListSchema) {}
class PublishDraftBodyDto extends createZodDto(PublishDraftBodySchema) {}

const SEMVER = /^\d{1,9}\.\d{1,9}\.\d{1,9}$/;
/** The pattern of a constitution's name (libs/constitution schema). */
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * A name that cannot exist is not looked up: like an id that is not a UUID it is a 404, and a
 * NUL in it would otherwise reach Postgres, which cannot compare it with text (a 500).
 */
const namePipe: PipeTransform<string, string> = {
  transform(name: string) {
    if (!NAME.test(name)) throw constitutionNotFound(name, `no constitution "${name.slice(0, 100)}"; names are lowercase slugs such as "harmless"`, null);
    return name;
  },
};

/** A draft name that cannot exist names nothing: 404, like a version that cannot exist. */
const draftPipe: PipeTransform<string, string> = {
  transform(draft: string) {
    if (!DRAFT_NAME.test(draft)) throw draftNotFound('?', draft.slice(0, 100), []);
    return draft;
  },
};

function checkVersion(name: string, version: string, allowLatest = true): void {
  if (!SEMVER.test(version) && !(allowLatest && version === 'latest')) {
    throw constitutionNotFound(
      `${name}@${version}`,
      `"${version.slice(0, 100)}" is not a version of ${name}; versions look like 1.0.0${allowLatest ? ' (or use "latest")' : ''}`,
      null,
    );
  }
}

@V1Controller('constitutions', 'constitutions')
export class ConstitutionsController {
  constructor(
    private readonly constitutions: ConstitutionsService,
    private readonly previews: PreviewService,
    private readonly drafts: DraftsService,
  ) {}

  @Get()
  @Allow('readConstitutions')
  @ApiOperation({ summary: 'List constitutions with their versions; `latest` is what a bare name resolves to' })
  @ZodResponse({ type: ConstitutionListDto })
  list() {
    return this.constitutions.list();
  }

  @Post()
  @Answers('constitution_syntax', 'constitution_invalid', 'constitution_immutable', 'unsupported_media_type', 'conflict')
  @Allow('publish')
  @ApiOperation({
    summary: 'Publish a version (JSON or YAML body)',
    description:
      'A name belongs to the team of the author who first published it (bundled names to the operator\'s team, "admin"); only authors of that team publish or deprecate its versions (403 otherwise). ' +
      'A published version is immutable: the same name and version with other content is 409 (publish the next version instead); ' +
      'with the same content it is 200 and nothing changes. 201 when the version is new. Schema errors are 422 with the located issues in details.',
  })
  @ApiConsumes('application/json', 'application/yaml', 'text/yaml')
  @ApiBody({ type: ConstitutionBodyDto })
  @ZodResponse({ status: 201, type: PublishResultDto })
  async publish(@Body() body: unknown, @Req() req: WithRawBody, @Res({ passthrough: true }) res: Response, @Caller() caller: Principal) {
    const constitution = this.constitutions.parseBody(body, req.rawBody);
    const { created, version } = await this.constitutions.publish(constitution, { actor: caller.actor, team: caller.team, source: 'api' });
    res.status(created ? 201 : 200);
    res.setHeader('Location', `/v1/constitutions/${version.name}/${version.version}`);
    return { ...version, created };
  }

  @Post('import')
  @Answers('constitution_syntax', 'constitution_invalid', 'constitution_immutable', 'unsupported_media_type', 'conflict')
  @Allow('publish')
  @ApiOperation({
    summary: 'Import a Hugging Face H4 constitution (JSON body) and publish it as name@version',
    description: 'Same immutability rules as a publish: 201 new, 200 same content, 409 other content.',
  })
  @ZodResponse({ status: 201, type: PublishResultDto })
  async importH4(@Query() query: H4ImportQueryDto, @Body() body: unknown, @Res({ passthrough: true }) res: Response, @Caller() caller: Principal) {
    if (body === undefined || typeof body !== 'object') {
      throw new ApiError('unsupported_media_type', 'send the H4 constitution as a JSON body (Content-Type: application/json)');
    }
    const { format: _format, ...opts } = query;
    let constitution;
    try {
      constitution = this.constitutions.importH4(body, opts);
    } catch (e) {
      // A body of the wrong shape is a schema error of the request (422), like a publish.
      if (e instanceof ConstitutionError && e.code === 'constitution_syntax')
        throw new ConstitutionError('constitution_invalid', 'request body (H4)', e.issues);
      throw e;
    }
    const { created, version } = await this.constitutions.publish(constitution, { actor: caller.actor, team: caller.team, source: 'h4-import' });
    res.status(created ? 201 : 200);
    res.setHeader('Location', `/v1/constitutions/${version.name}/${version.version}`);
    return { ...version, created };
  }

  @Get(':name')
  @Answers('constitution_not_found')
  @Allow('readConstitutions')
  @ApiOperation({ summary: 'The versions of one constitution' })
  @ZodResponse({ type: ConstitutionSummaryDto })
  versions(@Param('name', namePipe) name: string) {
    return this.constitutions.versions(name);
  }

  // Declared before ':name/:version' so that "diff" is not taken for a version.
  @Get(':name/diff')
  @Answers('constitution_not_found')
  @Allow('readConstitutions')
  @ApiOperation({ summary: 'What changed between two versions: principles added, removed and changed (word-level), examples, system, metadata' })
  @ZodResponse({ type: ConstitutionDiffDto })
  diff(@Param('name', namePipe) name: string, @Query() query: DiffQueryDto) {
    return this.constitutions.diff(name, query.from, query.to);
  }

  // Drafts, declared before ':name/:version' so that "drafts" is not taken for a version.
  @Get(':name/drafts')
  @Allow('writeDrafts')
  @ApiOperation({ summary: "The key's team's drafts of one constitution, without their content" })
  @ZodResponse({ type: DraftListDto })
  listDrafts(@Param('name', namePipe) name: string, @Caller() caller: Principal) {
    return this.drafts.list(name, caller);
  }

  @Get(':name/drafts/:draft')
  @Answers('draft_not_found')
  @Allow('writeDrafts')
  @ApiOperation({
    summary: "One draft of the key's team with its content; YAML with `Accept: application/yaml` or `?format=yaml`",
    description: "Another team's draft is a 404, as one that does not exist.",
  })
  @ApiProduces('application/json', 'application/yaml')
  async getDraft(
    @Param('name', namePipe) name: string,
    @Param('draft', draftPipe) draft: string,
    @Query() query: GetConstitutionQueryDto,
    @Headers('accept') accept: string | undefined,
    @Caller() caller: Principal,
    @Res() res: Response,
  ) {
    const d = await this.drafts.get(name, draft, caller);
    res.setHeader('X-Constitution-Sha256', d.sha256);
    const wantsYaml = query.format === 'yaml' || (query.format === undefined && /\b(application|text)\/(x-)?yaml\b/.test(accept ?? ''));
    if (wantsYaml) res.type('application/yaml').send(constitutionToYaml(ConstitutionSchema.parse(d.content)));
    else if (query.format === 'h4') res.json(exportH4(ConstitutionSchema.parse(d.content)));
    else res.json(DraftSchema.parse(d));
  }

  @Put(':name/drafts/:draft')
  @Answers('constitution_syntax', 'constitution_invalid', 'unsupported_media_type', 'invalid_request')
  @Allow('writeDrafts')
  @ApiOperation({
    summary: 'Save a draft (JSON or YAML body): created (201) or replaced (200), validated like a publish',
    description:
      "A draft belongs to the key's team; each team has its own drafts. A name another team owns is 403, as a publish of it would be. " +
      "The body is a whole constitution whose name is the route's; its version is what publish-draft makes unless told another. " +
      'Try it as `name#draft` in previews and evaluations; every content it was saved with stays stored under its sha256.',
  })
  @ApiConsumes('application/json', 'application/yaml', 'text/yaml')
  @ApiBody({ type: ConstitutionBodyDto })
  @ZodResponse({ status: 201, type: DraftDto })
  async saveDraft(
    @Param('name', namePipe) name: string,
    @Param('draft') draft: string,
    @Body() body: unknown,
    @Req() req: WithRawBody,
    @Res({ passthrough: true }) res: Response,
    @Caller() caller: Principal,
  ) {
    if (!DRAFT_NAME.test(draft)) {
      throw new ApiError('invalid_request', `"${draft.slice(0, 100)}" cannot name a draft; draft names are lowercase slugs such as "kinder-tone"`, {
        issues: [{ path: 'draft', message: 'a lowercase slug such as "kinder-tone"' }],
      });
    }
    const constitution = this.constitutions.parseBody(body, req.rawBody);
    const saved = await this.drafts.save(name, draft, constitution, caller);
    res.status(saved.created ? 201 : 200);
    res.setHeader('Location', `/v1/constitutions/${name}/drafts/${draft}`);
    return saved;
  }

  @Post(':name/drafts/:draft/preview')
  @Answers('draft_not_found', 'unknown_model', 'unknown_principles', 'over_limit', 'too_many_active_runs', 'no_principles', 'preview_timeout')
  @Allow('preview')
  @HttpCode(200)
  @ApiOperation({
    summary: "Preview a draft of the key's team, as a version is previewed; the preview's run records `#draft` and the content's sha256",
  })
  @ZodResponse({ type: PreviewResultDto })
  previewDraft(@Param('name', namePipe) name: string, @Param('draft', draftPipe) draft: string, @Body() body: PreviewRequestDto, @Caller() caller: Principal) {
    return this.previews.preview(`${name}#${draft}`, body, caller);
  }

  @Post(':name/drafts/:draft/publish')
  @Answers('draft_not_found', 'constitution_invalid', 'constitution_immutable', 'conflict')
  @Allow('publish')
  @ApiOperation({
    summary: "Publish a draft as an immutable version: `version` (else the draft content's own), same rules as POST /v1/constitutions",
    description: '201 when the version is new, 200 when the same content is already published under it, 409 when other content is. The draft stays.',
  })
  @ZodResponse({ status: 201, type: PublishResultDto })
  async publishDraft(
    @Param('name', namePipe) name: string,
    @Param('draft', draftPipe) draft: string,
    @Body() body: PublishDraftBodyDto,
    @Res({ passthrough: true }) res: Response,
    @Caller() caller: Principal,
  ) {
    const { created, version } = await this.drafts.publish(name, draft, body ?? {}, caller);
    res.status(created ? 201 : 200);
    res.setHeader('Location', `/v1/constitutions/${version.name}/${version.version}`);
    return version;
  }

  @Get(':name/:version')
  @Answers('constitution_not_found')
  @Allow('readConstitutions')
  @ApiOperation({
    summary: 'One version with its content; YAML with `Accept: application/yaml` or `?format=yaml`, H4 JSON with `?format=h4`',
  })
  @ApiProduces('application/json', 'application/yaml')
  async get(
    @Param('name', namePipe) name: string,
    @Param('version') version: string,
    @Query() query: GetConstitutionQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res() res: Response,
  ) {
    checkVersion(name, version);
    const { document, constitution } = await this.constitutions.get(name, version);
    const wantsYaml = query.format === 'yaml' || (query.format === undefined && /\b(application|text)\/(x-)?yaml\b/.test(accept ?? ''));
    res.setHeader('X-Constitution-Sha256', document.sha256);
    if (wantsYaml) {
      res.type('application/yaml').send(constitutionToYaml(constitution));
    } else if (query.format === 'h4') {
      res.json(exportH4(constitution));
    } else {
      res.json(ConstitutionDocumentSchema.parse(document));
    }
  }

  @Post(':name/:version/deprecate')
  @Answers('constitution_not_found')
  @Allow('publish')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Deprecate a version: it stays readable and runs may still name it exactly, but a bare name no longer resolves to it',
  })
  @ZodResponse({ type: ConstitutionVersionDto })
  async deprecate(@Param('name', namePipe) name: string, @Param('version') version: string, @Body() body: unknown, @Caller() caller: Principal) {
    checkVersion(name, version, false);
    const { reason } = DeprecateBodySchema.parse(body ?? {});
    const { version: v } = await this.constitutions.deprecate(name, version, { actor: caller.actor, team: caller.team, reason });
    return v;
  }

  @Post(':name/:version/preview')
  @Answers('constitution_not_found', 'unknown_model', 'unknown_principles', 'over_limit', 'too_many_active_runs', 'no_principles', 'preview_timeout')
  @Allow('preview')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run draft, critique and revision on up to 5 prompts (optionally one principle) at high queue priority and return the stages and pairs',
    description: 'A preview is a small run flagged `preview`, left out of run lists. Answers 504 (and cancels it) if it does not finish within timeout_ms.',
  })
  @ZodResponse({ type: PreviewResultDto })
  preview(@Param('name', namePipe) name: string, @Param('version') version: string, @Body() body: PreviewRequestDto, @Caller() caller: Principal) {
    checkVersion(name, version);
    return this.resolveAndPreview(name, version, body, caller);
  }

  private async resolveAndPreview(name: string, version: string, body: PreviewRequestDto, caller: Principal) {
    // `latest` is pinned to a number first, so the preview names exactly what it ran.
    const { document } = await this.constitutions.get(name, version);
    return this.previews.preview(`${document.name}@${document.version}`, body, caller);
  }
}
