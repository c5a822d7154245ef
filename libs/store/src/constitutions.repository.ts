import { sql, type Kysely, type Transaction } from 'kysely';
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
  /**
   * The publisher's team: a name nobody owns yet becomes this team's; a name another team owns
   * is refused (StoreError `forbidden`). `files`: the operator's own files, which claim a name
   * nobody owns and are never refused.
   */
  owner: { team: string; files?: boolean };
  /** Published from a team's draft: named in the `constitution.published` event with the draft's own hash. */
  draft?: { draft: string; sha256: string };
}

/** Columns of a version with its deprecation, which lives in its own append-only table (migration 0011). */
const VERSION_COLUMNS = sql`c.name, c.version, c.sha256, c.content, c.title, c.changelog, c.source, c.published_by, c.published_at,
  d.deprecated_at, d.deprecated_by, d.reason as deprecation_reason`;
const VERSIONS = sql`constitutions c left join constitution_deprecations d on d.name = c.name and d.version = c.version`;

/** The team a constitution name belongs to; undefined when nobody has published it. */
export async function ownerOf(db: Kysely<Database> | Transaction<Database>, name: string): Promise<string | undefined> {
  const r = await sql<{ team: string }>`select team from constitution_owners where name = ${name}`.execute(db);
  return r.rows[0]?.team;
}

export function notOwned(name: string, owner: string, team: string, what: string): StoreError {
  return new StoreError(
    'forbidden',
    `"${name}" belongs to team "${owner}"; only its authors ${what} (this key is of team "${team}"); publish under another name`,
    {
      name,
      owner_team: owner,
      team,
    },
  );
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
        // A new version: its name is claimed by the publisher's team, or must already be that team's.
        await sql`insert into constitution_owners (name, team, claimed_by) values (${input.name}, ${input.owner.team}, ${input.published_by})
          on conflict (name) do nothing`.execute(tx);
        const owner = await ownerOf(tx, input.name);
        if (owner !== input.owner.team && !input.owner.files) throw notOwned(input.name, owner ?? '?', input.owner.team, 'publish versions of it');
        await insertAuditEvents(tx, [
          {
            run_id: null,
            sample_id: null,
            type: 'constitution.published',
            actor: input.published_by,
            payload: {
              name: input.name,
              version: input.version,
              sha256: input.sha256,
              source: input.source,
              changelog: input.changelog ?? null,
              ...(input.draft && { draft: input.draft }),
            },
          },
        ]);
      }
      return row ? ({ ...row, deprecated_at: null, deprecated_by: null, deprecation_reason: null } as StoredConstitution) : undefined;
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
    by: { actor: string; team: string; reason?: string },
  ): Promise<{ changed: boolean; version: StoredConstitution } | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const current = await this.resolve(name, version, tx);
      if (!current) return undefined;
      const owner = await ownerOf(tx, name);
      if (owner !== undefined && owner !== by.team) throw notOwned(name, owner, by.team, 'deprecate versions of it');
      if (current.deprecated_at) return { changed: false, version: current };
      // A row of its own; two deprecations at once: one inserts, the other finds it and changes nothing.
      const inserted = await sql<{ seq: string }>`
        insert into constitution_deprecations (name, version, deprecated_by, reason) values (${name}, ${version}, ${by.actor}, ${by.reason ?? null})
        on conflict (name, version) do nothing returning seq`.execute(tx);
      const updated = (await this.resolve(name, version, tx)) as StoredConstitution;
      if (inserted.rows.length === 0) return { changed: false, version: updated };
      await insertAuditEvents(tx, [
        {
          run_id: null,
          sample_id: null,
          type: 'constitution.deprecated',
          actor: by.actor,
          payload: { name, version, sha256: current.sha256, reason: by.reason ?? null },
        },
      ]);
      return { changed: true, version: updated };
    });
  }

  /** Every version of one constitution, oldest first. */
  async versions(name: string): Promise<StoredConstitution[]> {
    const rows = (await sql<StoredConstitution>`select ${VERSION_COLUMNS} from ${VERSIONS} where c.name = ${name}`.execute(this.db)).rows;
    return rows.sort((a, b) => semverCompare(a.version, b.version));
  }

  async all(): Promise<StoredConstitution[]> {
    const rows = (await sql<StoredConstitution>`select ${VERSION_COLUMNS} from ${VERSIONS}`.execute(this.db)).rows;
    return rows.sort((a, b) => a.name.localeCompare(b.name) || semverCompare(a.version, b.version));
  }

  /** `version` omitted: the newest version that is not deprecated. */
  async resolve(name: string, version?: string, db: Kysely<Database> | Transaction<Database> = this.db): Promise<StoredConstitution | undefined> {
    const rows = (
      await sql<StoredConstitution>`select ${VERSION_COLUMNS} from ${VERSIONS} where c.name = ${name}
        ${version ? sql`and c.version = ${version}` : sql`and d.name is null`}`.execute(db)
    ).rows;
    rows.sort((a, b) => semverCompare(b.version, a.version));
    return rows[0];
  }

  async names(): Promise<string[]> {
    const rows = await this.db.selectFrom('constitutions').select('name').distinct().orderBy('name').execute();
    return rows.map((r) => r.name);
  }
}
