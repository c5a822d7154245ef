import { Inject, Injectable } from '@nestjs/common';
import {
  ConstitutionSchema,
  constitutionSha256,
  diffConstitutions,
  importH4,
  locatorForText,
  parseConstitutionYaml,
  validateConstitution,
  type Constitution,
} from '@amend/constitution';
import { type Config, type ConstitutionDiff, type ConstitutionDocument, type ConstitutionList, type ConstitutionVersion } from '@amend/contracts';
import { Store, type StoredConstitution } from '@amend/store';
import { CONFIG } from '@amend/runtime';
import { ApiError, bodyTooLarge, constitutionNotFound } from '../errors/api-error';

/** How a request body names itself in located errors (`request body:3:5: principles[0]...`). */
const BODY_LABEL = 'request body';

/**
 * The constitution registry as policy authors use it: publish (immutable versions), deprecate,
 * list, read, diff and H4 import. Versions live in Postgres so every API and worker instance
 * sees the same ones.
 */
@Injectable()
export class ConstitutionsService {
  constructor(
    private readonly store: Store,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /**
   * The constitution in a publish request: YAML text, or JSON already parsed (with its raw text,
   * when kept, so that schema errors can still name a line). Errors are ConstitutionErrors, which
   * the error filter answers with 400 (syntax) or 422 (schema) and the located issues.
   */
  parseBody(body: unknown, rawJson: string | undefined): Constitution {
    if (typeof body === 'string') {
      if (Buffer.byteLength(body) > this.config.AMEND_MAX_CONSTITUTION_BYTES) throw tooLarge(this.config.AMEND_MAX_CONSTITUTION_BYTES);
      return parseConstitutionYaml(body, BODY_LABEL);
    }
    if (body === undefined) {
      throw new ApiError(
        'unsupported_media_type',
        'send the constitution as a JSON body (Content-Type: application/json) or a YAML body ' +
          '(Content-Type: application/yaml or text/yaml); this request had no body of either type',
      );
    }
    if (rawJson === undefined) throw tooLarge(this.config.AMEND_MAX_CONSTITUTION_BYTES);
    return validateConstitution(body, { file: BODY_LABEL, locate: locatorForText(rawJson) });
  }

  /** `by.team`: the author's team, which owns the name once it publishes it first (only its authors publish it after). */
  async publish(
    c: Constitution,
    by: { actor: string; team: string; source: 'api' | 'h4-import' | 'draft'; draft?: { draft: string; sha256: string } },
  ): Promise<{ created: boolean; version: ConstitutionVersion }> {
    const { created, version } = await this.store.constitutions.publish({
      name: c.name,
      version: c.version,
      sha256: constitutionSha256(c),
      content: c,
      title: c.title,
      changelog: c.changelog,
      source: by.source,
      published_by: by.actor,
      owner: { team: by.team },
      ...(by.draft && { draft: by.draft }),
    });
    return { created, version: toVersion(version) };
  }

  importH4(json: unknown, opts: { name: string; version: string; title?: string; description?: string; changelog?: string; tags?: string[] }): Constitution {
    return importH4(json, opts);
  }

  async list(): Promise<ConstitutionList> {
    const all = await this.store.constitutions.all();
    const byName = new Map<string, StoredConstitution[]>();
    for (const c of all) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
    return { constitutions: [...byName.entries()].map(([name, versions]) => summary(name, versions)) };
  }

  async versions(name: string) {
    const versions = await this.store.constitutions.versions(name);
    if (versions.length === 0) throw await this.notFound(name);
    return summary(name, versions);
  }

  /** One version; `latest` is what a bare name resolves to (the newest non-deprecated version). */
  async get(name: string, version: string): Promise<{ document: ConstitutionDocument; constitution: Constitution }> {
    const row = await this.store.constitutions.resolve(name, version === 'latest' ? undefined : version);
    if (!row) throw await this.notFound(name, version);
    const constitution = ConstitutionSchema.parse(row.content);
    return { document: { ...toVersion(row), content: row.content as Record<string, unknown> }, constitution };
  }

  async deprecate(
    name: string,
    version: string,
    by: { actor: string; team: string; reason?: string },
  ): Promise<{ changed: boolean; version: ConstitutionVersion }> {
    const result = await this.store.constitutions.deprecate(name, version, by);
    if (!result) throw await this.notFound(name, version);
    return { changed: result.changed, version: toVersion(result.version) };
  }

  async diff(name: string, from: string, to: string): Promise<ConstitutionDiff> {
    const [a, b] = await Promise.all([this.get(name, from), this.get(name, to)]);
    return diffConstitutions(a.constitution, b.constitution);
  }

  private async notFound(name: string, version?: string): Promise<ApiError> {
    const requested = version ? `${name}@${version}` : name;
    const all = await this.store.constitutions.all();
    if (!all.some((c) => c.name === name)) return constitutionNotFound(requested, `no constitution "${name}"`, all);
    return constitutionNotFound(requested, version === 'latest' ? `every version of "${name}" is deprecated` : `no version ${version} of "${name}"`, all);
  }
}

function tooLarge(limit: number): ApiError {
  return bodyTooLarge('the constitution', limit, 'AMEND_MAX_CONSTITUTION_BYTES');
}

export function toVersion(row: StoredConstitution): ConstitutionVersion {
  return {
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    title: row.title,
    changelog: row.changelog,
    source: row.source,
    published_by: row.published_by,
    published_at: row.published_at.toISOString(),
    deprecated: row.deprecated_at !== null,
    deprecated_at: row.deprecated_at?.toISOString() ?? null,
    deprecated_by: row.deprecated_by,
    deprecation_reason: row.deprecation_reason,
  };
}

function summary(name: string, versions: StoredConstitution[]) {
  return {
    name,
    latest: [...versions].reverse().find((v) => !v.deprecated_at)?.version ?? null,
    versions: versions.map(toVersion),
  };
}
