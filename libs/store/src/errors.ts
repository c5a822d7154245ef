/** Typed store errors; the API maps them to HTTP in one filter. */
export class StoreError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'idempotency_key_reused' | 'constitution_immutable',
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
