import { randomUUID } from 'node:crypto';
import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import IORedis from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import type { Config } from '@amend/contracts';
import { Store, defaultPoolSize, type SessionLimits } from '@amend/store';
import { ModelRegistry, parseModelsConfig } from '@amend/llm';
import { CONFIG, SAMPLES_QUEUE, SUGGESTIONS_QUEUE } from './tokens';
import { ConstitutionCache } from './constitution-cache';
import { redisConnection } from './redis-connection';
import { AmendMetrics } from './metrics';
import { Tracing } from './tracing';
import { createTracing } from './create-tracing';
import { genAiTarget } from './gen-ai';

/** The Redis connection of the shared rate limiters (their own, so a blocked queue connection never delays a call). */
const LIMITER_REDIS = Symbol('amend.limiter-redis');

@Injectable()
class ModelsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(ModelRegistry) private readonly models: ModelRegistry,
    @Inject(LIMITER_REDIS) private readonly redis: IORedis,
  ) {}
  async onApplicationShutdown() {
    this.models.close();
    if (this.redis.status === 'wait') this.redis.disconnect();
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Exports the spans still buffered when the app stops. */
@Injectable()
class TracingCloser implements OnApplicationShutdown {
  constructor(@Inject(Tracing) private readonly tracing: Tracing) {}
  async onApplicationShutdown() {
    await this.tracing.shutdown();
  }
}

const POOL_KEY = Symbol('amend.pool-key');

/** The pool's name in the metrics and /ready: the app and its schema. */
export function poolKey(app: string, config: Pick<Config, 'DATABASE_SCHEMA'>): string {
  return `${app}:${config.DATABASE_SCHEMA}`;
}

/** The time limits of the service's Postgres sessions, from the config (docs/concurrency.md). */
export function sessionLimits(config: Config): SessionLimits {
  return {
    lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    poolWaitTimeoutMs: config.DATABASE_POOL_WAIT_TIMEOUT_MS,
    exportTimeoutMs: config.DATABASE_EXPORT_TIMEOUT_MS,
  };
}

@Injectable()
class StoreCloser implements OnApplicationShutdown {
  constructor(
    @Inject(Store) private readonly store: Store,
    @Inject(AmendMetrics) private readonly metrics: AmendMetrics,
    @Inject(POOL_KEY) private readonly key: string,
  ) {}
  async onApplicationShutdown() {
    this.metrics.unwatchPool(this.key);
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
            // A caller's X-Request-Id (if sane) or a new one, echoed back so a report can quote it.
            genReqId: (req, res) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
              res.setHeader('x-request-id', id);
              return id;
            },
            // Every request about a run carries its id, so one run's story can be read from the logs.
            customProps: (req) => {
              const run = /^\/v1\/runs\/([0-9a-f-]{36})/i.exec(req.url ?? '')?.[1];
              return run ? { run_id: run } : {};
            },
            autoLogging: { ignore: (req) => ['/health', '/ready', '/metrics'].includes(req.url ?? '') },
          },
        }),
        BullModule.forRoot({
          prefix: config.QUEUE_PREFIX,
          connection: redisConnection(config.REDIS_URL),
        }),
        BullModule.registerQueue({ name: SAMPLES_QUEUE }),
        BullModule.registerQueue({ name: SUGGESTIONS_QUEUE }),
      ],
      providers: [
        { provide: CONFIG, useValue: config },
        // The process's one registry (prom-client's default), handed to whoever records or serves metrics.
        { provide: AmendMetrics, useFactory: () => AmendMetrics.get() },
        {
          provide: Store,
          inject: [AmendMetrics],
          useFactory: async (metrics: AmendMetrics) => {
            const poolSize = config.DATABASE_POOL_SIZE ?? defaultPoolSize(config.WORKER_CONCURRENCY);
            const store = await Store.open({
              url: config.DATABASE_URL,
              schema: config.DATABASE_SCHEMA,
              poolSize,
              synchronousCommit: config.DATABASE_SYNCHRONOUS_COMMIT,
              warm: Math.min(poolSize, 8),
              limits: sessionLimits(config),
              onTimeout: metrics.onDbTimeout,
            });
            metrics.watchPool(poolKey(name, config), () => store.poolHealth());
            return store;
          },
        },
        // Connects on first use: an API, which makes no model calls, never opens it.
        { provide: LIMITER_REDIS, useFactory: () => new IORedis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true }) },
        {
          provide: ModelRegistry,
          inject: [LIMITER_REDIS, AmendMetrics],
          useFactory: (redis: IORedis, metrics: AmendMetrics) => {
            const logger = new Logger('RateLimiter');
            return new ModelRegistry(parseModelsConfig(config.AMEND_MODELS), {
              redis,
              limitsPrefix: config.QUEUE_PREFIX,
              onRetry: metrics.onRetry,
              onLimiterWait: metrics.onLimiterWait,
              onLimiterError: (alias, err) => logger.warn({ alias, err: err.message }, 'rate limiter: Redis unavailable, retrying'),
            });
          },
        },
        ModelsCloser,
        // TRACING_OFF unless an OTLP endpoint is configured; the SDK is loaded only then.
        { provide: Tracing, inject: [ModelRegistry], useFactory: (models: ModelRegistry) => createTracing(config, name, genAiTarget(models)) },
        TracingCloser,
        ConstitutionCache,
        { provide: POOL_KEY, useValue: poolKey(name, config) },
        StoreCloser,
      ],
      exports: [CONFIG, Store, ModelRegistry, ConstitutionCache, BullModule, AmendMetrics, Tracing],
    };
  }
}
