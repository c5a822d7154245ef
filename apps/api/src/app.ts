import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { Logger } from 'nestjs-pino';
import type { Config } from '@amend/contracts';
import { ApiModule } from './app.module';
import { jsonBodyParser } from './errors/body-parser';
import { mountOperations } from './metrics/operations';
import { mountConsole } from './console/serve-console';

/** Builds the API application (not yet listening): used by main.ts, `npm start` and the tests. */
export async function createApiApp(config: Config): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.use(...jsonBodyParser());
  mountOperations(app, config);
  mountConsole(app);
  app.enableShutdownHooks();
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
  SwaggerModule.setup('docs', app, cleanupOpenApiDoc(doc), { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}
