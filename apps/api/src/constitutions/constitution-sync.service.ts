import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { loadConstitutionDir } from '@amend/constitution';
import type { Config } from '@amend/contracts';
import { Store, StoreError } from '@amend/store';
import { CONFIG } from '@amend/runtime';
import { OPERATOR_TEAM } from '../keys/key-scope';

/**
 * Registers every file under constitutions/ at boot. Idempotent; a file whose content differs
 * from the registered version of the same number stops the boot ("publish x.y.z+1 instead").
 */
@Injectable()
export class ConstitutionSyncService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Constitutions');

  constructor(
    private readonly store: Store,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async onApplicationBootstrap() {
    await this.sync();
  }

  async sync(): Promise<{ created: number; unchanged: number }> {
    const dir = this.config.CONSTITUTIONS_DIR;
    if (!existsSync(dir)) {
      this.logger.warn(`no constitutions folder at ${dir}; only versions published over the API are available`);
      return { created: 0, unchanged: 0 };
    }
    let created = 0;
    let unchanged = 0;
    for (const file of loadConstitutionDir(dir)) {
      const c = file.constitution;
      let outcome: 'created' | 'unchanged';
      try {
        outcome = await this.store.constitutions.register({
          name: c.name,
          version: c.version,
          sha256: file.sha256,
          content: c,
          title: c.title,
          changelog: c.changelog,
          source: 'file',
          published_by: `file:${file.path}`,
          // Bundled names belong to the operator: only authors of the operator's team publish them over the API.
          owner: { team: OPERATOR_TEAM, files: true },
        });
      } catch (e) {
        // Refuse to start rather than serve two different texts under one version number.
        if (e instanceof StoreError && e.code === 'constitution_immutable') {
          throw new Error(`refusing to start: ${file.path}: ${e.message}`, { cause: e });
        }
        throw e;
      }
      if (outcome === 'created') created++;
      else unchanged++;
    }
    this.logger.log(`constitutions from ${dir}: ${created} registered, ${unchanged} unchanged`);
    return { created, unchanged };
  }
}
