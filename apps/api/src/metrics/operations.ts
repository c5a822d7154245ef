import type { NestExpressApplication } from '@nestjs/platform-express';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { NextFunction, Request, Response } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '@amend/contracts';
import { AmendMetrics, SAMPLES_QUEUE, acquireMetricsServer } from '@amend/runtime';
import { Store } from '@amend/store';
import { Authenticator } from '../auth/authenticator';
import { errorResponse } from '../errors/error-body.filter';
import { requireKey } from './admin-auth';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * What operators look at, beside the REST API: Prometheus metrics and the Bull Board queue
 * dashboard at /admin/queues. Mounted as plain Express routes, outside the v1 API.
 *
 * Metrics name model aliases and token volumes, so they are not public: with METRICS_PORT set
 * they are served on that port only (keep it inside the network) and not on the API port;
 * otherwise /metrics on the API port needs an admin or auditor key (Prometheus:
 * `authorization: {credentials: amd_...}`).
 *
 * The dashboard takes operator admin keys and only shows the queue, unless the operator turns
 * its actions (pause, retry, clean, remove) on with AMEND_QUEUE_DASHBOARD_ACTIONS=true.
 */
export async function mountOperations(app: NestExpressApplication, config: Config): Promise<{ close: () => Promise<void> }> {
  const metrics = app.get(AmendMetrics);
  const store = app.get(Store);
  const authenticator = app.get(Authenticator);
  const queue = app.get<Queue>(getQueueToken(SAMPLES_QUEUE));
  metrics.watchQueue(config.QUEUE_PREFIX, queue);
  metrics.watchSamples(`${config.DATABASE_SCHEMA}@${config.DATABASE_URL}`, () => store.samples.countsOfActiveRuns());

  let close = async () => undefined as void;
  if (config.METRICS_PORT > 0) {
    const held = await acquireMetricsServer(metrics, config.METRICS_PORT, config.HOST);
    close = held.release;
  } else {
    app.use('/metrics', requireKey(authenticator, '/metrics', ['admin', 'auditor']), (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' || (req.path !== '/' && req.path !== '')) return next();
      metrics.text().then(
        (text) => res.type(metrics.contentType).send(text),
        (err: Error) => {
          const { status, body } = errorResponse('internal_error', err.message);
          res.status(status).json(body);
        },
      );
    });
  }

  const actions = config.AMEND_QUEUE_DASHBOARD_ACTIONS === true;
  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: !actions })], serverAdapter: board });
  app.use(
    QUEUE_BOARD_PATH,
    requireKey(authenticator, 'the queue dashboard', ['admin'], { operatorOnly: true, basicPrompt: true }),
    (req: Request, res: Response, next: NextFunction) => {
      // Bull Board refuses actions on a read-only queue itself; this also covers its other writes.
      if (actions || req.method === 'GET' || req.method === 'HEAD') return next();
      const { status, body } = errorResponse(
        'read_only',
        'the queue dashboard is read-only; the operator may enable its actions with AMEND_QUEUE_DASHBOARD_ACTIONS=true',
      );
      res.status(status).json(body);
    },
    board.getRouter(),
  );
  return { close };
}
