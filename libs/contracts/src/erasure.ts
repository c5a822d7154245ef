import { z } from 'zod';

/** `POST /v1/samples/{id}/erase` and `POST /v1/runs/{id}/erase` (docs/audit.md "Erasure"): why, in words, for the trail. */
export const EraseRequestSchema = z.strictObject({
  reason: z
    .string({ error: 'reason is required: say why the content is erased (e.g. "data subject request #123"); it goes into the audit trail' })
    .trim()
    .min(1, 'reason is required: say why the content is erased (e.g. "data subject request #123"); it goes into the audit trail')
    .max(2000),
});
export type EraseRequest = z.infer<typeof EraseRequestSchema>;

/** Who erased a sample's content, when and why: its `erasure` event. */
export const ErasureSchema = z.object({
  event_id: z.string(),
  by: z.string(),
  at: z.string(),
  reason: z.string().nullable(),
});
export type Erasure = z.infer<typeof ErasureSchema>;

export const ErasureResultSchema = z.object({
  run_id: z.string().uuid(),
  /** Samples erased by this request, each with its `erasure` event. */
  erased: z.array(z.object({ sample_id: z.string().uuid(), event_id: z.string() })),
  /** Samples that were already erased and were left as they were. */
  already_erased: z.number().int(),
  /** Message blobs deleted: those no other sample names (a shared few-shot prefix is kept). */
  blobs_deleted: z.number().int(),
  at: z.string(),
  reason: z.string(),
});
export type ErasureResult = z.infer<typeof ErasureResultSchema>;
