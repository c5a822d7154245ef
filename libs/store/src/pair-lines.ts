import { escapeLiteral } from 'pg';
import { EXCLUDED_REASONS, type ExcludedReason, type PairFlag, type PairFormat } from '@amend/contracts';

/**
 * The export lines built by Postgres: the SQL twin of `formatPair` and `toSft`
 * (libs/pipeline formats.ts), kept here in one place. test/export.spec.ts checks, format by
 * format, that every line parses to exactly what the TypeScript functions make of the same pair;
 * a change to one must be made to the other.
 *
 * `r` is the stored `pairs.record`, `conv` the conversation the pair answers (the multi-turn
 * prompt, or one user message: promptMessages). Values come out as jsonb's text (a space after
 * ':' and ','), keys in the order written here.
 */
type Field = [key: string, expr: string];

const obj = (fields: Field[]) => `json_build_object(${fields.map(([k, e]) => `'${k}', ${e}`).join(', ')})`;
const assistant = (content: string) => `jsonb_build_object('role', 'assistant', 'content', ${content})`;
/** TRL's standard format joins prompt + answer: the answers get a leading space (formats.ts hhTranscript). */
const spaced = (field: string) => `to_jsonb(' ' || (r->>'${field}'))`;
const CONV = `case when jsonb_typeof(r->'prompt_messages') = 'array' and jsonb_array_length(r->'prompt_messages') > 0
    then (select jsonb_agg(jsonb_build_object('role', m->'role', 'content', m->'content') order by n) from jsonb_array_elements(r->'prompt_messages') with ordinality as t(m, n))
    else jsonb_build_array(jsonb_build_object('role', 'user', 'content', r->'prompt')) end`;
/** hhTranscript: "\n\nHuman: ..." / "\n\nAssistant: ..." turns, a system message as it is, then "\n\nAssistant:". */
const HH = `to_jsonb(coalesce((select string_agg(case when m->>'role' = 'system' then m->>'content'
    else E'\\n\\n' || case when m->>'role' = 'user' then 'Human' else 'Assistant' end || ': ' || (m->>'content') end, '' order by n)
    from jsonb_array_elements(conv) with ordinality as t(m, n)), '') || E'\\n\\nAssistant:')`;
/** h4 describes the LAST round; ai-feedback pairs have none: empty critic fields, the chosen candidate as the revision. */
const last = (field: string, otherwise: string) => `coalesce(r->'rounds'->-1->'${field}', ${otherwise})`;

/** Judged pairs carry score_chosen, score_rejected and their difference (as JavaScript subtracts: float8). */
const SCORED = `(r#>'{metadata,judgement}' is not null and jsonb_typeof(r#>'{metadata,judgement}') <> 'null'
  and (r->'metadata') ? 'score_chosen' and (r->'metadata') ? 'score_rejected')`;
const SCORES: Field[] = [
  ['score_chosen', `r#>'{metadata,score_chosen}'`],
  ['score_rejected', `r#>'{metadata,score_rejected}'`],
  ['margin', `to_jsonb((r#>>'{metadata,score_chosen}')::float8 - (r#>>'{metadata,score_rejected}')::float8)`],
];
const ids: Field[] = [
  ['id', `r->'id'`],
  ['run_id', `r->'run_id'`],
  ['sample_id', `r->'sample_id'`],
  ['sample_index', `r#>'{metadata,sample_index}'`],
];
const tail: Field[] = [
  ['reason', `r->'reason'`],
  ['category', `r->'category'`],
  ['metadata', `r->'metadata'`],
];
/** A line with the common fields (formats.ts common): scores only on judged pairs. */
const line = (head: Field[]) => `case when ${SCORED} then ${obj([...head, ...ids, ...SCORES, ...tail])} else ${obj([...head, ...ids, ...tail])} end`;

export type LineFormat = PairFormat | 'sft';

const LINE: Record<LineFormat, string> = {
  conversational: line([
    ['prompt', 'conv'],
    ['chosen', `jsonb_build_array(${assistant(`r->'chosen'`)})`],
    ['rejected', `jsonb_build_array(${assistant(`r->'rejected'`)})`],
  ]),
  standard: line([
    ['prompt', HH],
    ['chosen', spaced('chosen')],
    ['rejected', spaced('rejected')],
  ]),
  h4: line([
    ['init_prompt', `r->'prompt'`],
    ['init_response', `r->'draft'`],
    ['critic_prompt', last('critique_request', `'""'::jsonb`)],
    ['critic_response', last('critique', `'""'::jsonb`)],
    ['revision_prompt', last('revision_request', `'""'::jsonb`)],
    ['revision_response', last('revision', `r->'chosen'`)],
    ['prompt', `r->'prompt'`],
    ['messages', `conv || jsonb_build_array(${assistant(`r->'chosen'`)})`],
    ['chosen', `conv || jsonb_build_array(${assistant(`r->'chosen'`)})`],
    ['rejected', `conv || jsonb_build_array(${assistant(`r->'rejected'`)})`],
  ]),
  sft: obj([
    ['messages', `conv || jsonb_build_array(${assistant(`r->'chosen'`)})`],
    ['id', `r->'id'`],
    ['run_id', `r->'run_id'`],
    ['sample_id', `r->'sample_id'`],
    ['sample_index', `r#>'{metadata,sample_index}'`],
    ['metadata', `r->'metadata'`],
  ]),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FLAG = /^[a-z_]+$/;

/**
 * What an export leaves out. `exclude`: pairs carrying any of these flags, in SQL. The review
 * filters apply after, to the pair's latest review: `onlyAccepted` (`reviewed=accepted`) keeps
 * only accepted pairs, `withoutRejected` (SFT) leaves out rejected ones. Erased pairs always go.
 */
export interface ExportFilter {
  exclude: readonly PairFlag[];
  onlyAccepted?: boolean;
  withoutRejected?: boolean;
}

function checked(runId: string, exclude: readonly PairFlag[]): PairFlag[] {
  // COPY takes no parameters: the values are checked and quoted here.
  if (!UUID.test(runId)) throw new RangeError(`not a run id: ${runId}`);
  const flags = [...new Set(exclude)];
  for (const f of flags) if (!FLAG.test(f)) throw new RangeError(`not a pair flag: ${f}`);
  return flags;
}

/**
 * Each reason an export leaves a pair out, as SQL over `p` (the pairs row) and `latest` (its
 * latest review, or nulls; `record` names the pair's record), in EXCLUDED_REASONS order. The stream's filter and the
 * `Amend-Excluded` counts are both made from this list, so they cannot disagree; a new reason
 * (with its name in EXCLUDED_REASONS) goes here.
 */
function reasons(filter: ExportFilter, record = 'p.record'): [ExcludedReason, string][] {
  const flags = new Set(filter.exclude);
  const out: [ExcludedReason, string][] = [];
  for (const why of EXCLUDED_REASONS) {
    if (why === 'erased') out.push([why, `(${record} ? 'erased')`]);
    else if (why === 'rejected_by_reviewer') {
      if (filter.withoutRejected) out.push([why, `latest.status = 'rejected'`]);
    } else if (why === 'not_accepted') {
      if (filter.onlyAccepted) out.push([why, `latest.status is distinct from 'accepted'`]);
    } else if (flags.has(why)) out.push([why, `(p.flags @> array[${escapeLiteral(why)}]::text[])`]);
  }
  return out;
}

const LATEST_REVIEW = `left join lateral (select r.status from pair_reviews r where r.pair_id = p.id order by r.seq desc limit 1) latest on true`;
const needsReviews = (filter: ExportFilter) => !!(filter.onlyAccepted || filter.withoutRejected);

/**
 * How many of a run's pairs an export leaves out, by why: one row per reason with its count, each
 * pair counted once under its first reason (a `case` in EXCLUDED_REASONS order). What the
 * `Amend-Excluded` header says before the stream.
 */
export function excludedCountsQuery(runId: string, filter: ExportFilter): string {
  checked(runId, filter.exclude);
  const cases = reasons(filter);
  return `select why, count(*) as n from (select case ${cases.map(([why, when]) => `when ${when} then ${escapeLiteral(why)}`).join(' ')} end as why
    from pairs p ${needsReviews(filter) ? LATEST_REVIEW : ''} where p.run_id = ${escapeLiteral(runId)}) x where why is not null group by why`;
}

/**
 * The condition a pair an export keeps meets, as far as SQL decides it: not erased, and none of
 * the `exclude` flags. The review filters are applied to the pairs this selects, by the API
 * (reviews change lines), and counted by excludedCountsQuery.
 */
export function keptCondition(exclude: readonly PairFlag[], record = 'p.record'): string {
  return reasons({ exclude }, record)
    .map(([, when]) => `not ${when}`)
    .join(' and ');
}

/** The query whose rows are the lines, in sample order; `exclude` leaves out pairs with any of those flags, and erased pairs are always left out. */
export function pairLinesQuery(runId: string, format: LineFormat, exclude: readonly PairFlag[] = []): string {
  const flags = checked(runId, exclude);
  if (!(format in LINE)) throw new RangeError(`unknown format ${format}`);
  // `r`, the record detoasted once for the line, not p.record (a second detoast of every row).
  const filter = ` and ${keptCondition(flags, 'r')}`;
  // The record is TOASTed (lz4, out of line past ~2 KB) and a line reads ~20 of its fields:
  // `record || '{}'` under OFFSET 0 detoasts it once per row instead of once per field (a
  // planner-flattened `select p.record as r` fetched and decompressed it each time: half the time).
  return `select (${LINE[format]})::text from pairs p cross join lateral (select p.record || '{}'::jsonb as r offset 0) x cross join lateral (select ${CONV} as conv) c
    where p.run_id = ${escapeLiteral(runId)}${filter} order by p.idx`;
}

/**
 * COPY of those lines to the client, one line per row and nothing else: CSV with a delimiter and
 * a quote character that JSON text never holds raw (control characters are escaped in JSON), so
 * no field is ever quoted and backslashes pass as they are (the text format would double them).
 */
export function pairLinesCopy(runId: string, format: LineFormat, exclude: readonly PairFlag[] = []): string {
  return `copy (${pairLinesQuery(runId, format, exclude)}) to stdout with (format csv, delimiter E'\\x02', quote E'\\x01')`;
}
