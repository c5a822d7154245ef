import { z } from 'zod';

/** One chat message, as OpenAI-compatible servers take it. */
export const ChatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const SamplingSchema = z.strictObject({
  temperature: z.number().min(0).max(2).default(0.7),
  top_p: z.number().gt(0).max(1).default(1),
  max_tokens: z.number().int().min(1).max(32768).default(512),
});
export type Sampling = z.infer<typeof SamplingSchema>;

export const UsageSchema = z.object({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
});
export type Usage = z.infer<typeof UsageSchema>;
