import { Kysely, MigrationProvider, Migrator } from 'kysely';
import { MIGRATIONS } from './migrations/index';

class InCodeProvider implements MigrationProvider {
  async getMigrations() {
    return MIGRATIONS;
  }
}

/** `db` must come from `createDb` (or use `SchemaDialect`), whose introspection sees only `schema`. */
export async function migrateToLatest(db: Kysely<any>, schema: string): Promise<void> {
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
