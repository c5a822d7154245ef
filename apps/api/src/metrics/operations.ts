import type { NestExpressApplication } from '@nestjs/platform-express';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '@amend/contracts';
import { AmendMetrics, SAMPLES_QUEUE } from '@amend/runtime';
import { Store } from '@amend/store';
import { requireAdmin } from './admin-auth';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * What operators look at, beside the REST API: Prometheus metrics at /metrics (public, like
 * /health and /ready: scrape it from inside the network) and the Bull Board queue dashboard
 * at /admin/queues (admins only). Mounted as plain Express routes, outside the v1 API.
 */
export function mountOperations(app: NestExpressApplication, config: Config): void {
  const metrics = app.get(AmendMetrics);
  const store = app.get(Store);
  const queue = app.get<Queue>(getQueueToken(SAMPLES_QUEUE));
  metrics.watchQueue(config.QUEUE_PREFIX, queue);
  metrics.watchSamples(`${config.DATABASE_SCHEMA}@${config.DATABASE_URL}`, () => store.samples.countsOfActiveRuns());

  app.use('/metrics', (req: any, res: any, next: any) => {
    if (req.method !== 'GET' || (req.path !== '/' && req.path !== '')) return next();
    metrics.text().then(
      (text) => res.type(metrics.contentType).send(text),
      (err: Error) => res.status(500).json({ error: { code: 'internal_error', message: err.message } }),
    );
  });

  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter: board });
  app.use(QUEUE_BOARD_PATH, requireAdmin(config.AMEND_ADMIN_KEY, store), board.getRouter());
}
