import { Kysely, MigrationProvider, Migrator } from 'kysely';
import { MIGRATIONS } from './migrations/index';

class InCodeProvider implements MigrationProvider {
  async getMigrations() {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Kysely<any>, schema: string): Promise<void> {
  // Kysely's migrator looks for its tables by introspecting every schema of the database; a
  // schema dropped meanwhile by someone else (tests and benchmarks sharing one database) fails
  // that look with "schema ... does not exist". Only that is tried again: it says nothing of ours.
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db, schema);
    } catch (err) {
      const other = /schema "([^"]+)" does not exist/.exec(String(err));
      if (!other || other[1] === schema || attempt >= 5) throw err;
    }
  }
}

async function migrateOnce(db: Kysely<any>, schema: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new InCodeProvider(),
    migrationTableSchema: schema,
    // Migrations written on parallel branches may land out of name order on a database already migrated.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  }
}
