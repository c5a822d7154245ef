import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import type { Config } from '@amend/contracts';
import { WorkerModule } from './worker.module';

/** The worker: a Nest application context with no HTTP server. */
export async function createWorkerApp(config: Config): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  // SIGTERM drains the worker (SampleWorker.beforeApplicationShutdown), then exits with code 0.
  app.enableShutdownHooks([], { useProcessExit: true });
  await app.init();
  return app;
}
