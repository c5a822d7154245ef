import { PostgresDialect, sql, type DatabaseIntrospector, type Kysely, type PostgresDialectConfig, type TableMetadata } from 'kysely';

/**
 * Postgres, with Kysely's introspection limited to one schema. Kysely's own introspector reads
 * every schema of the database and calls pg_get_serial_sequence on each column it sees; another
 * process's DDL in its own schema at that moment (a column added in an open transaction, a table
 * or schema dropped) fails that call with "column ... of relation ... does not exist" and so fails
 * our migration, though nothing of ours changed. The migrator only asks whether its two tables
 * exist in our schema, which this answers from our schema alone.
 */
export class SchemaDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly schema: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.schema);
  }
}

class SchemaIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<any>,
    private readonly schema: string,
  ) {}

  async getSchemas() {
    const rows = await sql<{ nspname: string }>`select nspname from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db);
    return rows.rows.map((r) => ({ name: r.nspname }));
  }

  async getTables(): Promise<TableMetadata[]> {
    // Columns are not listed: nothing of ours reads them, and the migrator needs only the names.
    const rows = await sql<{ relname: string; relkind: string }>`
      select c.relname, c.relkind from pg_catalog.pg_class c join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
      where ns.nspname = ${this.schema} and c.relkind in ('r', 'v', 'p') order by c.relname`.execute(this.db);
    return rows.rows.map((r) => ({ name: r.relname, schema: this.schema, isView: r.relkind === 'v', columns: [] }));
  }

  async getMetadata() {
    return { tables: await this.getTables() };
  }
}
