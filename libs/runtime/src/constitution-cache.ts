import { Injectable } from '@nestjs/common';
import { ConstitutionSchema, type Constitution } from '@amend/constitution';
import { Store } from '@amend/store';

/** Published versions never change, so a version read once can be kept for the life of the process. */
@Injectable()
export class ConstitutionCache {
  private readonly cache = new Map<string, Promise<Constitution>>();

  constructor(private readonly store: Store) {}

  get(name: string, version: string): Promise<Constitution> {
    const key = `${name}@${version}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.store.constitutions.resolve(name, version).then((row) => {
        if (!row) throw new Error(`constitution ${key} is not registered`);
        return ConstitutionSchema.parse(row.content);
      });
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }
}
