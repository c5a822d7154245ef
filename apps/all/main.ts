import 'reflect-metadata';
import { loadConfig } from '@amend/contracts';
import { createApiApp } from '../api/src/app';
import { createWorkerApp } from '../worker/src/app';

/** `npm start`: API and worker in one process, for one machine. Scale out with start:api / start:worker. */
async function main() {
  const config = loadConfig(process.env);
  const api = await createApiApp(config);
  await api.listen(config.PORT, config.HOST);
  await createWorkerApp(config);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
