import { Controller, Get, Logger } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../auth/access.decorators';
import { ReadinessService } from './readiness.service';

/** Readiness probes give up after this long, so /ready answers 503 instead of hanging. */
const PROBE_TIMEOUT_MS = 2_000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

@ApiTags('health')
@Controller()
export class HealthController {
  private readonly logger = new Logger('Readiness');

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly readiness: ReadinessService,
  ) {}

  @Get('health')
  @Public()
  liveness() {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @HealthCheck()
  ready() {
    return this.health.check([
      // First: it answers at once, where the ping below would itself wait for a connection.
      () => this.probe('postgres_pool', () => this.readiness.pools()),
      () => this.probe('postgres', () => this.readiness.postgres()),
      () => this.probe('redis', () => this.readiness.redis()),
    ]);
  }

  private async probe(key: string, check: () => Promise<void>) {
    const i = this.indicator.check(key);
    try {
      await within(check(), PROBE_TIMEOUT_MS);
      return i.up();
    } catch (e) {
      // The answer names the check that failed, never its error: messages carry hosts, users, paths.
      this.logger.warn(`readiness: ${key} is down (${(e as Error).message})`);
      return i.down();
    }
  }
}
