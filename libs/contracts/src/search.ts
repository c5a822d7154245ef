import { z } from 'zod';
import { PAIR_FLAGS } from './feedback';
import { REVIEW_FILTERS } from './reviews';

/** `GET /v1/pairs`: full-text search over a team's pairs, with filters (docs/ml-teams.md#searching-pairs). */

/** Longest `q` taken: a search is a few words, not a document. */
export const SEARCH_MAX_QUERY_CHARS = 500;
export const SEARCH_MAX_LIMIT = 100;
export const SEARCH_DEFAULT_LIMIT = 20;
/** At most this many `metadata.KEY=` filters in one search. */
export const SEARCH_MAX_METADATA_FILTERS = 8;
const METADATA_KEY = /^metadata\.([A-Za-z0-9_][A-Za-z0-9_.:-]{0,63})$/;

const KNOWN = ['run', 'q', 'flag', 'principle', 'review_status', 'limit', 'cursor'] as const;

export const PairSearchQuerySchema = z
  .object({
    /** One run's pairs only; another team's run is 404, as for an unknown id. */
    run: z.uuid({ error: 'run takes a run id (a UUID)' }).optional(),
    /**
     * Words to find in the prompt, chosen, rejected and critiques (web search syntax: `"a phrase"`,
     * `-word`, `or`), with English stemming. Without it the search lists matching pairs newest first.
     */
    q: z
      .string()
      .trim()
      .min(1, 'q is empty: leave it out to list pairs without searching text')
      .max(SEARCH_MAX_QUERY_CHARS, `q is longer than ${SEARCH_MAX_QUERY_CHARS} characters`)
      .optional(),
    /** Pairs carrying every one of these flags (`noop,refusal_drift`). */
    flag: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(PAIR_FLAGS, { error: `each flag is one of ${PAIR_FLAGS.join(', ')}` })).min(1, 'flag names no flag'))
      .optional(),
    /** Pairs whose critiques used this principle id. */
    principle: z.string().min(1).max(200).optional(),
    /** By the pair's latest review: `unreviewed`, `accepted` or `rejected`. */
    review_status: z.enum(REVIEW_FILTERS, { error: `review_status is one of ${REVIEW_FILTERS.join(', ')}` }).optional(),
    limit: z.coerce.number().int().min(1).max(SEARCH_MAX_LIMIT).default(SEARCH_DEFAULT_LIMIT),
    /** The `next_cursor` of the previous page of the same search. */
    cursor: z.string().min(1).max(1000).optional(),
  })
  // `metadata.KEY=VALUE`: pairs whose prompt metadata has KEY equal to VALUE (as a string, or as the
  // number or boolean it spells). Any other parameter is refused, as on every route.
  .catchall(z.unknown())
  .superRefine((query, ctx) => {
    const extra = Object.keys(query).filter((k) => !(KNOWN as readonly string[]).includes(k));
    for (const key of extra) {
      const value = query[key];
      if (!METADATA_KEY.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `unknown parameter; the filters are ${KNOWN.join(', ')} and metadata.KEY` });
      } else if (typeof value !== 'string' || value.length > 200) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'a metadata filter takes one value of at most 200 characters' });
      }
    }
    if (extra.length > SEARCH_MAX_METADATA_FILTERS) {
      ctx.addIssue({ code: 'custom', path: [], message: `at most ${SEARCH_MAX_METADATA_FILTERS} metadata filters` });
    }
  });
export type PairSearchQuery = z.infer<typeof PairSearchQuerySchema>;

/** The `metadata.KEY=VALUE` filters of a search query, as [KEY, VALUE] pairs sorted by key. */
export function metadataFilters(query: Record<string, unknown>): [string, string][] {
  return Object.entries(query)
    .flatMap(([k, v]): [string, string][] => {
      const m = METADATA_KEY.exec(k);
      return m && typeof v === 'string' ? [[m[1], v]] : [];
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export const PairSearchHitSchema = z.object({
  id: z.string().uuid(),
  run_id: z.string().uuid(),
  sample_id: z.string().uuid(),
  sample_index: z.number().int(),
  external_id: z.string().nullable(),
  /** The prompt (the last user turn), cut at 300 characters. */
  prompt: z.string(),
  principle_ids: z.array(z.string()),
  flags: z.array(z.string()),
  prompt_metadata: z.record(z.string(), z.unknown()).nullable(),
  /** By the latest review. */
  review_status: z.enum(REVIEW_FILTERS),
  created_at: z.string(),
  /** With `q`: how well the pair matches (higher first), and the passages that matched, words marked «thus». */
  rank: z.number().nullable(),
  snippet: z.string().nullable(),
});
export type PairSearchHit = z.infer<typeof PairSearchHitSchema>;

export const PairSearchResultSchema = z.object({
  pairs: z.array(PairSearchHitSchema),
  /** Pass as `cursor` with the same filters for the next page; null on the last page. */
  next_cursor: z.string().nullable(),
});
export type PairSearchResult = z.infer<typeof PairSearchResultSchema>;
