import { Injectable } from '@nestjs/common';
import { ConstitutionSchema, type Constitution } from '@amend/constitution';
import { draftOfVersion } from '@amend/contracts';
import { Store } from '@amend/store';

/**
 * Published versions never change, and neither does a draft's content pinned under its sha256
 * (a run of a draft names `#<draft>` and that sha256), so content read once is kept for the life
 * of the process.
 */
@Injectable()
export class ConstitutionCache {
  private readonly cache = new Map<string, Promise<Constitution>>();

  constructor(private readonly store: Store) {}

  /** `sha256`: needed for a draft's version (`#draft`), which names its content by it. */
  get(name: string, version: string, sha256?: string): Promise<Constitution> {
    const ref = { name, version, sha256: sha256 ?? '' };
    const draft = draftOfVersion(ref.version) !== undefined;
    const key = draft ? `pin:${ref.sha256}` : `${ref.name}@${ref.version}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const row = draft ? this.store.drafts.pinned(ref.sha256) : this.store.constitutions.resolve(ref.name, ref.version);
      hit = row.then((r) => {
        if (!r) throw new Error(draft ? `no content pinned for ${ref.name}${ref.version} (sha256 ${ref.sha256})` : `constitution ${key} is not registered`);
        return ConstitutionSchema.parse(r.content);
      });
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }
}
