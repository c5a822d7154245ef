import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';
import { insertAuditEvents } from './audit-events';
import { StoreError } from './errors';

export interface StoredConstitution {
  name: string;
  version: string;
  sha256: string;
  content: unknown;
  title: string | null;
  changelog: string | null;
  source: string;
  published_by: string;
  published_at: Date;
  deprecated_at: Date | null;
  deprecated_by: string | null;
  deprecation_reason: string | null;
}

function semverCompare(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

export function nextPatch(version: string): string {
  const [maj, min, pat] = version.split('.').map(Number);
  return `${maj}.${min}.${pat + 1}`;
}

export interface NewConstitutionVersion {
  name: string;
  version: string;
  sha256: string;
  content: unknown;
  title?: string;
  changelog?: string;
  /** `file`, `api` or `h4-import`. */
  source: string;
  /** `file:<path>`, or the caller's identity over REST. */
  published_by: string;
}

export class ConstitutionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Publishes a version with its `constitution.published` audit event, in one transaction. The
   * same name and version with the same content is a no-op (`created` false); with other content
   * it is refused, since a published version never changes. Concurrent publishes of one version
   * serialise on the primary key: exactly one inserts, the others then see its row.
   */
  async publish(input: NewConstitutionVersion): Promise<{ created: boolean; version: StoredConstitution }> {
    const inserted = await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('constitutions')
        .values({
          name: input.name,
          version: input.version,
          sha256: input.sha256,
          content: JSON.stringify(input.content),
          title: input.title ?? null,
          changelog: input.changelog ?? null,
          source: input.source,
          published_by: input.published_by,
        })
        .onConflict((oc) => oc.columns(['name', 'version']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) {
        await insertAuditEvents(tx, [
          {
            run_id: null,
            sample_id: null,
            type: 'constitution.published',
            actor: input.published_by,
            payload: { name: input.name, version: input.version, sha256: input.sha256, source: input.source, changelog: input.changelog ?? null },
          },
        ]);
      }
      return row as StoredConstitution | undefined;
    });
    if (inserted) return { created: true, version: inserted };
    const existing = await this.resolve(input.name, input.version);
    if (!existing) throw new StoreError('conflict', `${input.name}@${input.version} could not be published; retry`);
    if (existing.sha256 === input.sha256) return { created: false, version: existing };
    // The next patch number nobody has used yet in the same major.minor line.
    const line = input.version.split('.').slice(0, 2).join('.') + '.';
    const suggestion = nextPatch((await this.versions(input.name)).filter((v) => v.version.startsWith(line)).at(-1)?.version ?? input.version);
    throw new StoreError(
      'constitution_immutable',
      `${input.name}@${input.version} is already published with other content (sha256 ${existing.sha256}); ` +
        `a published version never changes: publish ${suggestion} instead`,
      {
        name: input.name,
        version: input.version,
        published_sha256: existing.sha256,
        new_sha256: input.sha256,
        published_by: existing.published_by,
        suggested_version: suggestion,
      },
    );
  }

  /** Like publish, answering only whether the version was new. */
  async register(input: NewConstitutionVersion): Promise<'created' | 'unchanged'> {
    return (await this.publish(input)).created ? 'created' : 'unchanged';
  }

  /**
   * Marks a version deprecated, with its `constitution.deprecated` audit event. It stays readable
   * and runs may still name it exactly; a bare name no longer resolves to it. Deprecating twice
   * changes nothing (`changed` false). Undefined when the version does not exist.
   */
  async deprecate(
    name: string,
    version: string,
    by: { actor: string; reason?: string },
  ): Promise<{ changed: boolean; version: StoredConstitution } | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = (await tx
        .selectFrom('constitutions')
        .selectAll()
        .where('name', '=', name)
        .where('version', '=', version)
        .forUpdate()
        .executeTakeFirst()) as StoredConstitution | undefined;
      if (!row) return undefined;
      if (row.deprecated_at) return { changed: false, version: row };
      const updated = (await tx
        .updateTable('constitutions')
        .set({ deprecated_at: sql`now()`, deprecated_by: by.actor, deprecation_reason: by.reason ?? null })
        .where('name', '=', name)
        .where('version', '=', version)
        .returningAll()
        .executeTakeFirstOrThrow()) as StoredConstitution;
      await insertAuditEvents(tx, [
        {
          run_id: null,
          sample_id: null,
          type: 'constitution.deprecated',
          actor: by.actor,
          payload: { name, version, sha256: row.sha256, reason: by.reason ?? null },
        },
      ]);
      return { changed: true, version: updated };
    });
  }

  /** Every version of one constitution, oldest first. */
  async versions(name: string): Promise<StoredConstitution[]> {
    const rows = (await this.db.selectFrom('constitutions').selectAll().where('name', '=', name).execute()) as StoredConstitution[];
    return rows.sort((a, b) => semverCompare(a.version, b.version));
  }

  async all(): Promise<StoredConstitution[]> {
    const rows = await this.db.selectFrom('constitutions').selectAll().execute();
    return rows.sort((a, b) => a.name.localeCompare(b.name) || semverCompare(a.version, b.version)) as StoredConstitution[];
  }

  /** `version` omitted: the newest version that is not deprecated. */
  async resolve(name: string, version?: string): Promise<StoredConstitution | undefined> {
    let q = this.db.selectFrom('constitutions').selectAll().where('name', '=', name);
    if (version) q = q.where('version', '=', version);
    else q = q.where('deprecated_at', 'is', null);
    const rows = (await q.execute()) as StoredConstitution[];
    rows.sort((a, b) => semverCompare(b.version, a.version));
    return rows[0];
  }

  async names(): Promise<string[]> {
    const rows = await this.db.selectFrom('constitutions').select('name').distinct().orderBy('name').execute();
    return rows.map((r) => r.name);
  }
}
