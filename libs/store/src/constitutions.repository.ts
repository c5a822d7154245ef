import type { Kysely } from 'kysely';
import type { Database } from './schema';
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

export class ConstitutionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Registers a version. The same name and version with the same content is a no-op; with other
   * content it is refused: a published version never changes.
   */
  async register(input: {
    name: string;
    version: string;
    sha256: string;
    content: unknown;
    title?: string;
    changelog?: string;
    source: string;
    published_by: string;
  }): Promise<'created' | 'unchanged'> {
    const inserted = await this.db
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
      .returning('name')
      .executeTakeFirst();
    if (inserted) return 'created';
    const existing = await this.db
      .selectFrom('constitutions')
      .select('sha256')
      .where('name', '=', input.name)
      .where('version', '=', input.version)
      .executeTakeFirstOrThrow();
    if (existing.sha256 === input.sha256) return 'unchanged';
    throw new StoreError(
      'constitution_immutable',
      `${input.name}@${input.version} is already published with other content (sha256 ${existing.sha256}); ` +
        `a published version never changes: publish ${nextPatch(input.version)} instead`,
      { name: input.name, version: input.version, published_sha256: existing.sha256, new_sha256: input.sha256 },
    );
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
