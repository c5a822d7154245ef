/**
 * `npm run migrate`: applies the database migrations as the owner of the tables (DATABASE_URL
 * names the owner here), then exits. The service itself runs as a login role in `amend_app`,
 * which may read and append what the application needs but not change what it wrote, nor the
 * tables: with AMEND_APP_ROLE and AMEND_APP_PASSWORD set, that login role is created (or its
 * password set) here too, so that the service's DATABASE_URL can name it.
 */
import { sql } from 'kysely';
import { loadConfig } from '@amend/contracts';
import { openDatabase } from '@amend/store';

async function main() {
  const config = loadConfig(process.env);
  const db = await openDatabase({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolSize: 2 });
  try {
    const role = process.env.AMEND_APP_ROLE;
    const password = process.env.AMEND_APP_PASSWORD;
    if (role) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error('AMEND_APP_ROLE must be a plain lowercase role name');
      if (!password) throw new Error('AMEND_APP_PASSWORD is needed with AMEND_APP_ROLE');
      const exists = await sql`select 1 from pg_roles where rolname = ${role}`.execute(db);
      const verb = exists.rows.length ? sql`alter role` : sql`create role`;
      await sql`${verb} ${sql.id(role)} login password ${sql.lit(password)}`.execute(db);
      await sql`grant amend_app to ${sql.id(role)}`.execute(db);
      console.log(`login role ${role} ${exists.rows.length ? 'updated' : 'created'}, a member of amend_app`);
    }
    console.log(`migrated ${config.DATABASE_SCHEMA} on ${new URL(config.DATABASE_URL).host}`);
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
