import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { Logger } from 'nestjs-pino';
import type { Config } from '@amend/contracts';
import { Tracing } from '@amend/runtime';
import { ApiModule } from './app.module';
import { jsonBodyParser } from './errors/body-parser';
import { Authenticator } from './auth/authenticator';
import { preBodyAuth } from './auth/pre-body-auth';
import { securityHeaders } from './security-headers';
import { mountOperations } from './metrics/operations';
import { mountConsole } from './console/serve-console';
import { RouteTable } from './auth/route-table';
import { addErrorResponses } from './errors/openapi-errors';

/** Builds the API application (not yet listening): used by main.ts, `npm start` and the tests. */
export async function createApiApp(config: Config): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // Express names itself in X-Powered-By unless told not to; nobody needs to know.
  app.disable('x-powered-by');
  if (config.AMEND_TRUST_PROXY) app.set('trust proxy', config.AMEND_TRUST_PROXY);
  // One span per request when tracing is on (docs/operators.md#traces); nothing is installed when it is off.
  const tracing = app.get(Tracing);
  const requestSpans = tracing.enabled ? tracing.http() : undefined;
  if (requestSpans) app.use(requestSpans.start);
  app.use(securityHeaders());
  // Keys first, bodies after: nothing unauthenticated is read into memory.
  app.use(preBodyAuth(app.get(Authenticator)));
  app.use(...jsonBodyParser(config));
  if (requestSpans) app.use(requestSpans.resume);
  const operations = await mountOperations(app, config);
  mountConsole(app);
  app.enableShutdownHooks();
  // The metrics port (if any) closes with the app.
  const close = app.close.bind(app);
  app.close = async () => {
    await operations.close();
    await close();
  };
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Amend')
      .setDescription('Constitutional-AI critique-and-revise service: prompts in, preference pairs out.')
      .setVersion('1')
      // Every /v1 route needs "Authorization: Bearer amd_..." (auth/); /health, /ready and /docs do not.
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'amd_ API key', description: 'an Amend API key, amd_...' })
      .build(),
  );
  addErrorResponses(doc, app.get(RouteTable).routes());
  SwaggerModule.setup('docs', app, cleanupOpenApiDoc(doc), { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}
