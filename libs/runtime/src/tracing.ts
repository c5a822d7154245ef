import type { RequestHandler } from 'express';
import type { Config } from '@amend/contracts';
import type { ChatRequest, ChatResult } from '@amend/pipeline';

/*
 * Traces (OpenTelemetry, OTLP over HTTP; docs/operators.md#traces). Off unless an OTLP endpoint is
 * configured: then `TRACING_OFF` stands in, every method runs its callback and nothing else, and
 * the SDK is never loaded (`otel-tracing.ts` is required only when tracing is on).
 */

/** Span kinds, as OpenTelemetry names them. */
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined>;

export interface SpanOptions {
  kind?: SpanKindName;
  attributes?: SpanAttributes;
  /**
   * A W3C `traceparent` to continue (the run's, carried by its job or kept in Redis); without it
   * the span is the child of the active one. A malformed value starts a new trace.
   */
  parent?: string;
  /** Spans this one follows without being their child (a batch run's earlier wave). */
  links?: string[];
}

/** Who answers an alias, for a model call's span: the model it is asked for, the provider, the server. */
export interface GenAiTarget {
  model: string;
  provider: string;
  serverAddress?: string;
  serverPort?: number;
}

/** One model call as its span describes it. */
export interface ModelCallSpan {
  alias: string;
  stage: string;
  seq: number;
  request: ChatRequest;
}

/** The judge's label of a comparison, the `gen_ai.evaluation.result` event. */
export interface EvaluationResult {
  /** What was judged: the principle (or rubric dimension) asked about. */
  name: string;
  /** P(A) / (P(A) + P(B)). */
  score: number;
  /** `A`, `B`, or `unreadable` when the answer named neither. */
  label: string;
  /** `soft` (from log-probabilities), `hard` or `unreadable`. */
  labelSource: string;
  responseId?: string;
}

export abstract class Tracing {
  /** False when tracing is off: callers may skip building what only a span would use. */
  abstract readonly enabled: boolean;
  /** The active span as a W3C `traceparent`, to continue its trace in a job or a later wave; undefined when off or outside a span. */
  abstract traceparent(): string | undefined;
  /** Adds attributes to the active span (the request's, the job's): the run id, say. */
  abstract annotate(attributes: SpanAttributes): void;
  /** Runs `fn` inside a new span, ended when `fn` settles (an error marks it failed and is rethrown). */
  abstract span<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T>;
  /** A model call's span, `chat {model}`, with the GenAI attributes of its request and answer. */
  abstract modelCall(call: ModelCallSpan, fn: () => Promise<ChatResult>): Promise<ChatResult>;
  /** A model call made elsewhere (a batch line) and answered between `startMs` and `endMs`. */
  abstract recordModelCall(call: ModelCallSpan, result: ChatResult, startMs: number, endMs: number): void;
  /** Adds the judge's label to the active span as a `gen_ai.evaluation.result` event. */
  abstract evaluation(result: EvaluationResult): void;
  /**
   * The API's request spans: `start` goes first (it opens the span, continuing a caller's
   * `traceparent`), `resume` after the body parsers (it makes the request's span active again
   * for the handlers, whatever the parsers' callbacks ran in).
   */
  abstract http(): { start: RequestHandler; resume: RequestHandler };
  /** Exports what is buffered now (tests, benchmarks). */
  abstract flush(): Promise<void>;
  /** Exports what is buffered and stops. */
  abstract shutdown(): Promise<void>;
}

class TracingOff extends Tracing {
  readonly enabled = false;
  traceparent(): undefined {
    return undefined;
  }
  span<T>(_name: string, _options: SpanOptions, fn: () => Promise<T>): Promise<T> {
    return fn();
  }
  modelCall(_call: ModelCallSpan, fn: () => Promise<ChatResult>): Promise<ChatResult> {
    return fn();
  }
  annotate(): void {}
  recordModelCall(): void {}
  evaluation(): void {}
  http(): { start: RequestHandler; resume: RequestHandler } {
    const pass: RequestHandler = (_req, _res, next) => next();
    return { start: pass, resume: pass };
  }
  async flush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Tracing when it is off: callbacks run as they are, nothing is recorded. */
export const TRACING_OFF: Tracing = new TracingOff();

/** Where traces go, or undefined when tracing is off (no endpoint, or OTEL_SDK_DISABLED). */
export function tracesUrl(
  config: Pick<Config, 'OTEL_SDK_DISABLED' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>,
): string | undefined {
  if (config.OTEL_SDK_DISABLED) return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** Parses `key=value,key2=value2` (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES), values percent-decoded. */
export function parseKeyValues(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const key = part.slice(0, at).trim();
    const raw = part.slice(at + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // Not percent-encoded after all: kept as written.
    }
    if (key) out[key] = value;
  }
  return out;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `traceparent` (W3C Trace Context, version 00) into its parts; undefined when malformed or all-zero. */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; flags: number } | undefined {
  const m = value ? TRACEPARENT.exec(value.trim()) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], flags: parseInt(m[3], 16) };
}

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`;
}

/** The Redis key holding a run's `traceparent`, for work on it that has no job to carry it (batch waves, reconciled samples). */
export function runTraceKey(queuePrefix: string, runId: string): string {
  return `${queuePrefix}:trace:${runId}`;
}

/** How long a run's `traceparent` is kept in Redis: longer than a batch run lasts (a provider's batch window is 24 hours). */
export const RUN_TRACE_TTL_S = 7 * 24 * 3600;
