import type OpenAI from 'openai';
import { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { classifyError } from '../classify-error';
import { DEFAULT_RETRY, type RetryOptions, withRetries } from '../retry';
import { backendClient, type BackendOptions } from '../backend';
import type { StructuredOutputMode } from '../request-body';

/** `timeoutMs` defaults to 120 s here (uploads of up to 200 MB). */
export type BatchClientOptions = BackendOptions & {
  /** Where the backend takes a JSON Schema (AMEND_MODELS `structured_output`), as for the alias's online calls. */
  structuredOutput?: StructuredOutputMode;
};

export type ProviderBatch = Batch;

/**
 * The OpenAI Files and Batches API for one alias, through the `openai` client's own methods
 * (files.create, batches.create / retrieve / cancel / list, files.content). Every call goes
 * through the same retry loop as chat calls: transient failures (429, 5xx, resets) are retried,
 * anything else is thrown as a ModelError.
 */
export class OpenAIBatchClient {
  private readonly client: OpenAI;
  private readonly retry: RetryOptions;

  constructor(private readonly options: BatchClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.client = backendClient(options, options.timeoutMs ?? 120_000);
  }

  get alias(): string {
    return this.options.alias;
  }

  get model(): string {
    return this.options.model;
  }

  get structuredOutput(): StructuredOutputMode | undefined {
    return this.options.structuredOutput;
  }

  /** Uploads a JSONL input file (purpose `batch`); returns its file id. */
  async upload(jsonl: string, filename: string): Promise<string> {
    const file = await this.call(async () => this.client.files.create({ file: await toFile(Buffer.from(jsonl), filename), purpose: 'batch' }));
    return file.id;
  }

  /** Starts a batch over an uploaded file; `metadata` tags it so a restarted coordinator can find it again. */
  create(inputFileId: string, metadata: Record<string, string>): Promise<ProviderBatch> {
    return this.call(() => this.client.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }));
  }

  retrieve(batchId: string): Promise<ProviderBatch> {
    return this.call(() => this.client.batches.retrieve(batchId));
  }

  cancel(batchId: string): Promise<ProviderBatch> {
    return this.call(() => this.client.batches.cancel(batchId));
  }

  /** The text of an output or error file. */
  content(fileId: string): Promise<string> {
    return this.call(async () => (await this.client.files.content(fileId)).text());
  }

  /**
   * The batch tagged `metadata[key] = value`, looking back through the newest batches until one
   * created before `since` (Unix seconds): how a coordinator that died between creating a batch
   * and saving its id learns whether the batch exists.
   */
  async find(key: string, value: string, since: number): Promise<ProviderBatch | undefined> {
    let after: string | undefined;
    for (;;) {
      const page = await this.call(() => this.client.batches.list({ limit: 100, ...(after && { after }) }));
      for (const b of page.data) {
        if (b.metadata?.[key] === value) return b;
        if (b.created_at < since) return undefined;
      }
      if (!page.has_more || page.data.length === 0) return undefined;
      after = page.data[page.data.length - 1].id;
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    const { value } = await withRetries(async () => {
      try {
        return await fn();
      } catch (e) {
        throw classifyError(e, this.options.alias);
      }
    }, this.retry);
    return value;
  }
}
