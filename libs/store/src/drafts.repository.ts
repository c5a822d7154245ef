import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema';
import { insertAuditEvents } from './audit-events';
import { notOwned, ownerOf } from './constitutions.repository';

export interface StoredDraft {
  team: string;
  name: string;
  draft: string;
  sha256: string;
  content: unknown;
  created_by: string;
  created_at: Date;
  saved_by: string;
  saved_at: Date;
}

export interface DraftSave {
  team: string;
  name: string;
  draft: string;
  sha256: string;
  /** The parsed constitution, as hashed. */
  content: unknown;
  actor: string;
}

type Db = Kysely<Database> | Transaction<Database>;

/**
 * A team's drafts of constitutions (migration 0017). A draft is mutable; each content it is saved
 * with is pinned by its sha256 and kept, so a run that used an earlier content still finds it.
 * Saves are audited (`constitution.draft_saved`, global chain); a publish from a draft is a
 * `constitution.published` event that names the draft.
 */
export class DraftsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Saves a draft (created or replaced) with its event, in one transaction. A name another team
   * owns is refused (StoreError `forbidden`), as a publish of it would be.
   */
  async save(input: DraftSave): Promise<{ created: boolean; draft: StoredDraft }> {
    return this.db.transaction().execute(async (tx) => {
      const owner = await ownerOf(tx, input.name);
      if (owner !== undefined && owner !== input.team) throw notOwned(input.name, owner, input.team, 'draft and publish versions of it');
      await this.pin({ sha256: input.sha256, name: input.name, content: input.content, pinned_by: input.actor }, tx);
      const before = await tx
        .selectFrom('constitution_drafts')
        .select('sha256')
        .where('team', '=', input.team)
        .where('name', '=', input.name)
        .where('draft', '=', input.draft)
        .forUpdate()
        .executeTakeFirst();
      await sql`
        insert into constitution_drafts (team, name, draft, sha256, created_by, saved_by)
        values (${input.team}, ${input.name}, ${input.draft}, ${input.sha256}, ${input.actor}, ${input.actor})
        on conflict (team, name, draft) do update set sha256 = excluded.sha256, saved_by = excluded.saved_by, saved_at = now()`.execute(tx);
      await insertAuditEvents(tx, [
        {
          run_id: null,
          sample_id: null,
          type: 'constitution.draft_saved',
          actor: input.actor,
          payload: { team: input.team, name: input.name, draft: input.draft, sha256: input.sha256, previous_sha256: before?.sha256 ?? null },
        },
      ]);
      return { created: before === undefined, draft: (await this.get(input.team, input.name, input.draft, tx)) as StoredDraft };
    });
  }

  /** Stores content under its hash once; the same hash again changes nothing. */
  async pin(p: { sha256: string; name: string; content: unknown; pinned_by: string }, db: Db = this.db): Promise<void> {
    await db
      .insertInto('constitution_pins')
      .values({ sha256: p.sha256, name: p.name, content: JSON.stringify(p.content), pinned_by: p.pinned_by })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .execute();
  }

  /** The content pinned under `sha256` (a draft's, at some save); undefined when none is. */
  async pinned(sha256: string): Promise<{ sha256: string; name: string; content: unknown } | undefined> {
    return this.db.selectFrom('constitution_pins').select(['sha256', 'name', 'content']).where('sha256', '=', sha256).executeTakeFirst();
  }

  async get(team: string, name: string, draft: string, db: Db = this.db): Promise<StoredDraft | undefined> {
    return (await this.query(db, team, name, draft))[0];
  }

  /** The team's drafts, of one constitution name or of all, by name then draft. */
  async list(team: string, name?: string): Promise<StoredDraft[]> {
    return this.query(this.db, team, name);
  }

  private async query(db: Db, team: string, name?: string, draft?: string): Promise<StoredDraft[]> {
    let q = db
      .selectFrom('constitution_drafts as d')
      .innerJoin('constitution_pins as p', 'p.sha256', 'd.sha256')
      .select(['d.team', 'd.name', 'd.draft', 'd.sha256', 'p.content', 'd.created_by', 'd.created_at', 'd.saved_by', 'd.saved_at'])
      .where('d.team', '=', team);
    if (name !== undefined) q = q.where('d.name', '=', name);
    if (draft !== undefined) q = q.where('d.draft', '=', draft);
    return (await q.orderBy('d.name').orderBy('d.draft').execute()) as StoredDraft[];
  }
}
