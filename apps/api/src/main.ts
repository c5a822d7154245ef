import 'reflect-metadata';
import { loadConfig } from '@amend/contracts';
import { createApiApp } from './app';

async function main() {
  const config = loadConfig(process.env);
  const app = await createApiApp(config);
  await app.listen(config.PORT, config.HOST);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
