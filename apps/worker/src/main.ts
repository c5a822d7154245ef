import 'reflect-metadata';
import cluster from 'node:cluster';
import { loadConfig } from '@amend/contracts';
import { createWorkerApp } from './app';

const config = loadConfig(process.env);

if (config.WORKER_PROCESSES > 1 && cluster.isPrimary) {
  // One event loop per core: WORKER_PROCESSES workers, each a full worker (its own BullMQ
  // consumer, Postgres pool and group commit) on the same queue. The primary only forwards
  // signals and exits when they have; a worker that dies is not replaced here (the
  // orchestrator restarts the whole process, and BullMQ hands its stalled jobs to the others).
  const children = Array.from({ length: config.WORKER_PROCESSES }, (_, i) =>
    cluster.fork({
      WORKER_PROCESS_INDEX: String(i),
      // One metrics port each, when metrics are served.
      ...(config.METRICS_PORT > 0 && { METRICS_PORT: String(config.METRICS_PORT + i) }),
    }),
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => children.forEach((c) => c.process.kill(signal)));
  }
  let left = children.length;
  let failed = false;
  cluster.on('exit', (_worker, code) => {
    if (code !== 0) failed = true;
    if (--left === 0) process.exit(failed ? 1 : 0);
  });
} else {
  createWorkerApp(config).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
