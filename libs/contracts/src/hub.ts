import { z } from 'zod';
import { seedField } from './bounds';
import { ExcludeFlagsSchema } from './feedback';
import { PAIR_FORMATS } from './pairs';

/**
 * A Hugging Face Hub repository id, `OWNER/NAME`: the Hub's own rule for names (letters, digits,
 * `-`, `_`, `.`; no leading or trailing `-` or `.`, no `--` or `..`; at most 96 characters).
 */
const HUB_NAME = /^(?!.*(--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

export function isHubRepoId(value: string): boolean {
  const parts = value.split('/');
  return parts.length === 2 && parts.every((p) => HUB_NAME.test(p));
}

export const HubRepoIdSchema = z.string().refine(isHubRepoId, { message: 'expected OWNER/NAME, a Hugging Face repository id (letters, digits, -, _, .)' });

/** A git branch name the Hub takes: no spaces, `..`, `~^:?*[\`, leading `-` or `/`, or `.lock` ending. */
export const HubBranchSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._/-]*$/, 'expected a branch name: letters, digits, ., _, -, /')
  // Apart from the pattern, not as look-aheads in it: the OpenAPI document carries the pattern, and
  // generators of test input (the fuzz's) take no look-ahead.
  .refine((b) => !b.includes('..') && !b.includes('//') && !b.endsWith('.lock'), { message: 'expected a branch name without "..", "//" or a .lock ending' });

/** A licence id of the dataset card (`apache-2.0`, `cc-by-4.0`, `other`). */
export const HubLicenseSchema = z.string().regex(/^[a-z0-9][a-z0-9.+-]{0,63}$/, 'expected a licence id such as cc-by-4.0, apache-2.0 or other');

/** `POST /v1/runs/{id}/exports/hub`: the HF folder of `amend export --hf` pushed to a dataset repository. */
export const HubExportRequestSchema = z.strictObject({
  /** The dataset repository, created (private if asked) when missing. */
  repo: HubRepoIdSchema,
  /** A new repository is private; an existing one keeps its visibility. */
  private: z.boolean().default(false),
  /** Created from main when missing. */
  branch: HubBranchSchema.default('main'),
  format: z.enum(PAIR_FORMATS).default('conversational'),
  /** As for `GET /v1/runs/{id}/pairs`: default `truncated,noop` (DEFAULT_EXCLUDE.pairs), `""` keeps every pair. */
  exclude: ExcludeFlagsSchema.optional(),
  test_size: z.number().min(0).max(1).default(0.1),
  seed: seedField().default(0),
  license: HubLicenseSchema.default('other'),
});
export type HubExportRequest = z.infer<typeof HubExportRequestSchema>;

export const HubPushedFileSchema = z.object({ path: z.string(), size: z.number().int(), sha256: z.string() });

export const HubExportResultSchema = z.object({
  repo: z.string(),
  branch: z.string(),
  /** The dataset's page on the Hub. */
  url: z.string(),
  /** The commit made; null when the repository already held these files (nothing pushed). */
  commit: z.string().nullable(),
  changed: z.boolean(),
  /** Whether this push created the repository. */
  created: z.boolean(),
  files: z.array(HubPushedFileSchema),
  counts: z.object({ train: z.number().int(), test: z.number().int() }),
});
export type HubExportResult = z.infer<typeof HubExportResultSchema>;
