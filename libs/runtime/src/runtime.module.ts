import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { LoggerModule } from 'nestjs-pino';
import type { Config } from '@amend/contracts';
import { Store } from '@amend/store';
import { ModelRegistry, parseModelsConfig } from '@amend/llm';
import { CONFIG, SAMPLES_QUEUE } from './tokens';
import { ConstitutionCache } from './constitution-cache';
import { redisConnection } from './redis-connection';

@Injectable()
class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(Store) private readonly store: Store) {}
  async onApplicationShutdown() {
    await this.store.close();
  }
}

/**
 * What the API and the worker share: validated config, the Postgres store, the model aliases,
 * the sample queue and structured logs. Each app passes its own config, so tests can run
 * several stacks side by side with their own schema and queue prefix.
 */
@Global()
@Module({})
export class RuntimeModule {
  static forRoot(config: Config, name: string): DynamicModule {
    return {
      module: RuntimeModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            name,
            level: config.LOG_LEVEL,
            // Secrets never reach a log.
            redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
            autoLogging: { ignore: (req) => ['/health', '/ready', '/metrics'].includes(req.url ?? '') },
          },
        }),
        BullModule.forRoot({
          prefix: config.QUEUE_PREFIX,
          connection: redisConnection(config.REDIS_URL),
        }),
        BullModule.registerQueue({ name: SAMPLES_QUEUE }),
      ],
      providers: [
        { provide: CONFIG, useValue: config },
        {
          provide: Store,
          useFactory: () => Store.open({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA }),
        },
        { provide: ModelRegistry, useFactory: () => new ModelRegistry(parseModelsConfig(config.AMEND_MODELS)) },
        ConstitutionCache,
        StoreCloser,
      ],
      exports: [CONFIG, Store, ModelRegistry, ConstitutionCache, BullModule],
    };
  }
}
