import type { Config } from '@amend/contracts';
import { TRACING_OFF, tracesUrl, type GenAiTarget, type Tracing } from './tracing';

// Apart from tracing.ts, which otel-tracing.ts extends: the factory loads that file, and tracing.ts must not.
/**
 * The process's tracing: TRACING_OFF unless an endpoint is configured. `serviceName` is the
 * default `service.name` (OTEL_SERVICE_NAME wins); `targets` says which model answers an alias.
 */
export function createTracing(config: Config, serviceName: string, targets: (alias: string) => GenAiTarget): Tracing {
  const url = tracesUrl(config);
  if (!url) return TRACING_OFF;
  // Loaded only now: a service with tracing off never loads the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { OtelTracing } = require('./otel-tracing') as typeof import('./otel-tracing');
  return new OtelTracing(config, url, serviceName, targets);
}
