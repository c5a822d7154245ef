import type { Request, RequestHandler, Response } from 'express';
import { context, trace, SpanKind, SpanStatusCode, TraceFlags, type Context, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-node';
import type { Config } from '@amend/contracts';
import type { ChatResult } from '@amend/pipeline';
import { OtlpHttpSpanExporter } from './otlp-exporter';
import { GEN_AI, chatSpanName, inputMessages, outputMessages, requestAttributes, responseAttributes } from './gen-ai';
import {
  Tracing,
  formatTraceparent,
  parseKeyValues,
  parseTraceparent,
  type EvaluationResult,
  type GenAiTarget,
  type ModelCallSpan,
  type SpanAttributes,
  type SpanKindName,
  type SpanOptions,
} from './tracing';

/*
 * Tracing with the OpenTelemetry SDK, loaded only when an endpoint is configured (tracing.ts).
 * Each app has its own tracer provider (tests start several stacks in one process), none of them
 * registered as the global one; the context manager, which carries the active span across
 * awaits, is global and set once.
 */

const KINDS: Record<SpanKindName, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

/** Requests that would only add noise: probes and scrapes, as the request log skips them. */
const UNTRACED = new Set(['/health', '/ready', '/metrics']);

let contextManagerSet = false;
function ensureContextManager(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

function sampler(config: Config): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG);
  switch (config.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  const parsed = parseTraceparent(traceparent);
  return parsed && { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.flags & TraceFlags.SAMPLED, isRemote: true };
}

function clean(attributes: SpanAttributes | undefined): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  if (attributes) for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}

export class OtelTracing extends Tracing {
  readonly enabled = true;
  private readonly provider: NodeTracerProvider;
  private readonly tracer: Tracer;
  private readonly targets = new Map<string, GenAiTarget>();
  private readonly captureContent: boolean;
  /** The request's span context, kept for `resume` after the body parsers. */
  private readonly requests = new WeakMap<Request, Context>();

  constructor(
    config: Config,
    url: string,
    serviceName: string,
    private readonly targetOf: (alias: string) => GenAiTarget,
  ) {
    super();
    ensureContextManager();
    this.captureContent = config.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({
        ...parseKeyValues(config.OTEL_RESOURCE_ATTRIBUTES),
        'service.name': config.OTEL_SERVICE_NAME ?? serviceName,
      }),
      sampler: sampler(config),
      spanProcessors: [
        new BatchSpanProcessor(
          new OtlpHttpSpanExporter({
            url,
            protocol: config.OTEL_EXPORTER_OTLP_PROTOCOL,
            headers: { ...parseKeyValues(config.OTEL_EXPORTER_OTLP_HEADERS), ...parseKeyValues(config.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
          }),
        ),
      ],
    });
    this.tracer = this.provider.getTracer('amend');
  }

  traceparent(): string | undefined {
    const sc = trace.getActiveSpan()?.spanContext();
    return sc && trace.isSpanContextValid(sc) ? formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags) : undefined;
  }

  annotate(attributes: SpanAttributes): void {
    trace.getActiveSpan()?.setAttributes(clean(attributes));
  }

  private start(name: string, options: SpanOptions, startTime?: number): { span: Span; ctx: Context } {
    let parentCtx = context.active();
    if (options.parent !== undefined) {
      const remote = spanContextOf(options.parent);
      // A parent given but unreadable starts a new trace rather than joining whatever is active.
      parentCtx = remote ? trace.setSpanContext(context.active(), remote) : trace.deleteSpan(context.active());
    }
    const links: Link[] = [];
    for (const tp of options.links ?? []) {
      const sc = spanContextOf(tp);
      if (sc) links.push({ context: sc });
    }
    const span = this.tracer.startSpan(
      name,
      { kind: KINDS[options.kind ?? 'internal'], attributes: clean(options.attributes), links, ...(startTime !== undefined && { startTime }) },
      parentCtx,
    );
    return { span, ctx: trace.setSpan(parentCtx, span) };
  }

  async span<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
    const { span, ctx } = this.start(name, options);
    try {
      return await context.with(ctx, fn);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  private target(alias: string): GenAiTarget {
    let t = this.targets.get(alias);
    if (!t) this.targets.set(alias, (t = this.targetOf(alias)));
    return t;
  }

  async modelCall(call: ModelCallSpan, fn: () => Promise<ChatResult>): Promise<ChatResult> {
    const target = this.target(call.alias);
    const { span, ctx } = this.start(chatSpanName(target), { kind: 'client', attributes: requestAttributes(target, call) });
    if (this.captureContent) span.setAttribute(GEN_AI.inputMessages, inputMessages(call));
    try {
      const result = await context.with(ctx, fn);
      span.setAttributes(clean(responseAttributes(result)));
      if (this.captureContent) span.setAttribute(GEN_AI.outputMessages, outputMessages(result));
      return result;
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  recordModelCall(call: ModelCallSpan, result: ChatResult, startMs: number, endMs: number): void {
    const target = this.target(call.alias);
    const { span } = this.start(chatSpanName(target), { kind: 'client', attributes: requestAttributes(target, call) }, startMs);
    span.setAttributes(clean(responseAttributes(result)));
    if (this.captureContent) {
      span.setAttribute(GEN_AI.inputMessages, inputMessages(call));
      span.setAttribute(GEN_AI.outputMessages, outputMessages(result));
    }
    span.end(Math.max(startMs, endMs));
  }

  evaluation(result: EvaluationResult): void {
    trace.getActiveSpan()?.addEvent(
      GEN_AI.evaluationResult,
      clean({
        [GEN_AI.evaluationName]: result.name,
        [GEN_AI.evaluationScoreValue]: result.score,
        [GEN_AI.evaluationScoreLabel]: result.label,
        [GEN_AI.responseId]: result.responseId,
        'amend.label_source': result.labelSource,
      }),
    );
  }

  http(): { start: RequestHandler; resume: RequestHandler } {
    const start: RequestHandler = (req, res, next) => {
      if (UNTRACED.has(req.path)) return next();
      const { span, ctx } = this.start(req.method, {
        kind: 'server',
        parent: typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
        attributes: { 'http.request.method': req.method, 'url.path': req.path, 'url.scheme': req.protocol },
      });
      this.requests.set(req, ctx);
      res.once('finish', () => endRequest(span, req, res));
      res.once('close', () => endRequest(span, req, res));
      context.with(ctx, next);
    };
    const resume: RequestHandler = (req, _res, next) => {
      const ctx = this.requests.get(req);
      if (ctx) context.with(ctx, next);
      else next();
    };
    return { start, resume };
  }

  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  const type = err instanceof Error ? ((err as { code?: unknown }).code ?? err.name) : 'error';
  span.setAttribute('error.type', String(type));
}

const ended = new WeakSet<Span>();
/** Names the span by its route once routing has matched (`POST /v1/runs`), never by the raw path. */
function endRequest(span: Span, req: Request, res: Response): void {
  if (ended.has(span)) return;
  ended.add(span);
  const route = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof route === 'string') {
    const full = `${req.baseUrl ?? ''}${route}`;
    span.updateName(`${req.method} ${full}`);
    span.setAttribute('http.route', full);
  }
  span.setAttribute('http.response.status_code', res.statusCode);
  if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
