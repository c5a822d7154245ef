import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Store } from '@amend/store';
import { SAMPLES_QUEUE } from '@amend/runtime';
import { Public } from '../auth/access.decorators';

/** Readiness probes give up after this long, so /ready answers 503 instead of hanging. */
const PROBE_TIMEOUT_MS = 2_000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly store: Store,
    @InjectQueue(SAMPLES_QUEUE) private readonly queue: Queue,
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
      () => this.probe('postgres', () => this.store.ping()),
      () => this.probe('redis', async () => void (await ((await this.queue.client) as unknown as Redis).ping())),
    ]);
  }

  private async probe(key: string, check: () => Promise<void>) {
    const i = this.indicator.check(key);
    try {
      await within(check(), PROBE_TIMEOUT_MS);
      return i.up();
    } catch (e) {
      return i.down({ message: (e as Error).message });
    }
  }
}
