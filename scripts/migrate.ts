import { loadConfig } from '@amend/contracts';
import { openDatabase } from '@amend/store';

/** Applies every migration and exits: the Kubernetes migrate Job (deploy/k8s/migrate-job.yaml), run as the schema owner. */
async function main() {
  const config = loadConfig();
  const db = await openDatabase({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA });
  await db.destroy();
  console.log(`migrated schema ${config.DATABASE_SCHEMA}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
