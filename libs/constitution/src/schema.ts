import { z } from 'zod';
import { ChatMessageSchema } from '@amend/contracts';

export const PrincipleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase slug such as "harmful-general"'),
  critique: z.string().trim().min(1),
  revision: z.string().trim().min(1),
  comparison: z.string().trim().min(1).optional(),
  tags: z.array(z.string().min(1)).default([]),
  // Bounded so that a sum of weights stays finite.
  weight: z.number().positive().max(1_000_000).default(1),
});
export type Principle = z.infer<typeof PrincipleSchema>;

export const ExampleSchema = z.strictObject({ messages: z.array(ChatMessageSchema).min(1) });

export const ConstitutionSchema = z.strictObject({
  // Bounded: the name is a key column and goes into Location headers; 64 like a team name.
  name: z
    .string()
    .max(64)
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'a lowercase slug such as "harmless"'),
  // Each number fits an int4 and a double exactly, as versions are compared numerically.
  version: z.string().regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}$/, 'a semantic version such as 1.0.0'),
  title: z.string().optional(),
  description: z.string().optional(),
  changelog: z.string().optional(),
  /** Sent as the first message of every conversation, if set. */
  system: z.string().optional(),
  principles: z.array(PrincipleSchema).min(1),
  examples: z.array(ExampleSchema).default([]),
});
export type Constitution = z.infer<typeof ConstitutionSchema>;
