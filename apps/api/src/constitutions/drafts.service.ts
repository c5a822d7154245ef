import { Injectable } from '@nestjs/common';
import { ConstitutionError, ConstitutionSchema, constitutionSha256, validateConstitution, type Constitution } from '@amend/constitution';
import type { Draft, DraftList, DraftSummary, PublishDraftBody, PublishResult } from '@amend/contracts';
import { Store, type StoredDraft } from '@amend/store';
import type { Principal } from '../auth/principal';
import { ConstitutionsService } from './constitutions.service';
import { resolveDraft } from './draft-ref';

/**
 * A team's drafts of constitutions (docs/policy-authors.md#drafts): saved and validated like a
 * publish, changed as often as the author likes, tried by preview and evaluation as `name#draft`,
 * and published as an immutable version when ready.
 */
@Injectable()
export class DraftsService {
  constructor(
    private readonly store: Store,
    private readonly constitutions: ConstitutionsService,
  ) {}

  /** `c` is the parsed body (same checks and messages as a publish); its name must be the route's. */
  async save(name: string, draft: string, c: Constitution, caller: Principal): Promise<Draft> {
    if (c.name !== name) {
      throw new ConstitutionError('constitution_invalid', 'request body', [
        {
          path: 'name',
          message: `is "${c.name}", but this draft is of "${name}"`,
          fix: `set name: ${name}, or save it at /v1/constitutions/${c.name}/drafts/${draft}`,
        },
      ]);
    }
    const { created, draft: stored } = await this.store.drafts.save({
      team: caller.team,
      name,
      draft,
      sha256: constitutionSha256(c),
      content: ConstitutionSchema.parse(c),
      actor: caller.actor,
    });
    return { ...toDraft(stored), created };
  }

  async get(name: string, draft: string, caller: Principal): Promise<Draft> {
    return toDraft((await resolveDraft(this.store, caller.team, name, draft)).stored);
  }

  async list(name: string, caller: Principal): Promise<DraftList> {
    return { drafts: (await this.store.drafts.list(caller.team, name)).map(summaryOf) };
  }

  /**
   * Publishes the draft's content as `name@version` (the version given, else the content's own),
   * with the usual rules: immutable, the name's team only. The `constitution.published` event names
   * the draft and its sha256. The draft stays, for the next version.
   */
  async publish(name: string, draft: string, body: PublishDraftBody, caller: Principal): Promise<{ created: boolean; version: PublishResult }> {
    const { constitution, stored } = await resolveDraft(this.store, caller.team, name, draft);
    const content = validateConstitution(
      { ...constitution, ...(body.version && { version: body.version }), ...(body.changelog && { changelog: body.changelog }) },
      { file: `${name}#${draft}` },
    );
    const { created, version } = await this.constitutions.publish(content, {
      actor: caller.actor,
      team: caller.team,
      source: 'draft',
      draft: { draft, sha256: stored.sha256 },
    });
    return { created, version: { ...version, created } };
  }
}

function summaryOf(d: StoredDraft): DraftSummary {
  const c = d.content as Partial<Constitution>;
  return {
    name: d.name,
    draft: d.draft,
    team: d.team,
    sha256: d.sha256,
    version: c.version ?? '',
    title: c.title ?? null,
    principles: c.principles?.length ?? 0,
    created_by: d.created_by,
    created_at: d.created_at.toISOString(),
    saved_by: d.saved_by,
    saved_at: d.saved_at.toISOString(),
  };
}

function toDraft(d: StoredDraft): Draft {
  return { ...summaryOf(d), content: d.content as Record<string, unknown> };
}
