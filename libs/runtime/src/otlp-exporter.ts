import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';

/** Statuses the OTLP/HTTP specification says to retry, with backoff. */
const RETRYABLE = new Set([429, 502, 503, 504]);
const TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 5;

export interface OtlpHttpOptions {
  url: string;
  headers: Record<string, string>;
  protocol: 'http/protobuf' | 'http/json';
  /** The export's whole deadline, retries included (the exporter default, 10 s). */
  timeoutMs?: number;
}

/**
 * Spans to an OTLP/HTTP receiver, encoded by the OpenTelemetry JS serializers (the ones the
 * official OTLP exporters use), in JSON or protobuf. Its own transport rather than the exporter
 * package's, which loads `http` through a dynamic import() that jest's module sandbox refuses:
 * a static import here, and the specification's retry rule (429, 502, 503, 504, with backoff
 * and Retry-After) within the export's deadline.
 */
export class OtlpHttpSpanExporter implements SpanExporter {
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: OtlpHttpOptions) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    const json = this.options.protocol === 'http/json';
    const body = json ? JsonTraceSerializer.serializeRequest(spans) : ProtobufTraceSerializer.serializeRequest(spans);
    if (!body) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('spans could not be serialized') });
      return;
    }
    const sent = this.send(Buffer.from(body), json ? 'application/json' : 'application/x-protobuf').then(
      () => resultCallback({ code: ExportResultCode.SUCCESS }),
      (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
    );
    this.pending.add(sent);
    void sent.finally(() => this.pending.delete(sent));
  }

  private async send(body: Buffer, contentType: string): Promise<void> {
    const deadline = Date.now() + (this.options.timeoutMs ?? TIMEOUT_MS);
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`OTLP export to ${this.options.url} timed out`);
      const { status, retryAfterMs } = await this.post(body, contentType, left);
      if (status >= 200 && status < 300) return;
      if (!RETRYABLE.has(status) || attempt >= MAX_ATTEMPTS) throw new Error(`OTLP export to ${this.options.url} answered HTTP ${status}`);
      const wait = retryAfterMs ?? Math.min(5_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random());
      if (Date.now() + wait >= deadline) throw new Error(`OTLP export to ${this.options.url} answered HTTP ${status}; no time left to retry`);
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  private post(body: Buffer, contentType: string, timeoutMs: number): Promise<{ status: number; retryAfterMs?: number }> {
    const url = new URL(this.options.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', headers: { ...this.options.headers, 'content-type': contentType, 'content-length': body.length }, timeout: timeoutMs },
        (res: IncomingMessage) => {
          res.resume();
          res.on('end', () => {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({ status: res.statusCode ?? 0, ...(Number.isFinite(retryAfter) && retryAfter >= 0 && { retryAfterMs: retryAfter * 1000 }) });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`OTLP export to ${this.options.url} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.forceFlush();
  }
}
