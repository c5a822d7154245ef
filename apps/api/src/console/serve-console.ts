import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { type Request, type Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { errorResponse } from '../errors/error-body.filter';

/**
 * Where `npm run build:console` puts the web console: beside the sources (ts-node) or, from the
 * compiled dist/apps/api/src/console, at the repository's apps/console/dist (the image copies it there).
 */
export function consoleDir(): string | undefined {
  const candidates = [resolve(__dirname, '../../../console/dist'), resolve(__dirname, '../../../../../apps/console/dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

const answer = (error: ReturnType<typeof errorResponse>) => (_req: Request, res: Response) => {
  res.status(error.status).json(error.body);
};

/**
 * Serves the console at /console. Its routes live in the URL fragment, so the server only serves
 * index.html and the hashed assets, which are public files holding no data: the console sends the
 * key with each API call and the API routes keep their own access checks.
 */
export function mountConsole(app: NestExpressApplication): void {
  const dir = consoleDir();
  if (!dir) {
    app.use('/console', answer(errorResponse('console_not_built', 'the web console is not built: run `npm run build:console`, then restart the API')));
    return;
  }
  // File names carry a content hash: cached for good.
  app.use('/console/assets', express.static(join(dir, 'assets'), { immutable: true, maxAge: '1y', index: false }));
  // index.html names the current assets: revalidated every time, so a deploy shows at once.
  app.use('/console', express.static(dir, { index: 'index.html', setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') }));
  app.use('/console', answer(errorResponse('not_found', 'no such console file; the console is at /console/')));
}
