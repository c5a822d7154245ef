import 'reflect-metadata';
import { loadConfig } from '@amend/contracts';
import { createWorkerApp } from './app';

createWorkerApp(loadConfig()).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
