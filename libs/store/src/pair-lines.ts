import { escapeLiteral } from 'pg';
import type { PairFlag, PairFormat } from '@amend/contracts';

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

/** The query whose rows are the lines, in sample order; `exclude` leaves out pairs with any of those flags, and erased pairs are always left out. */
export function pairLinesQuery(runId: string, format: LineFormat, exclude: readonly PairFlag[] = []): string {
  // COPY takes no parameters: the values are checked and quoted here.
  if (!UUID.test(runId)) throw new RangeError(`not a run id: ${runId}`);
  if (!(format in LINE)) throw new RangeError(`unknown format ${format}`);
  const flags = [...new Set(exclude)];
  for (const f of flags) if (!FLAG.test(f)) throw new RangeError(`not a pair flag: ${f}`);
  const filter = flags.length > 0 ? ` and not (flags && array[${flags.map((f) => escapeLiteral(f)).join(', ')}]::text[])` : '';
  // The record is TOASTed (lz4, out of line past ~2 KB) and a line reads ~20 of its fields:
  // `record || '{}'` under OFFSET 0 detoasts it once per row instead of once per field (a
  // planner-flattened `select p.record as r` fetched and decompressed it each time: half the time).
  return `select (${LINE[format]})::text from pairs p cross join lateral (select p.record || '{}'::jsonb as r offset 0) x cross join lateral (select ${CONV} as conv) c
    where run_id = ${escapeLiteral(runId)}${filter} and not (r ? 'erased') order by idx`;
}

/**
 * COPY of those lines to the client, one line per row and nothing else: CSV with a delimiter and
 * a quote character that JSON text never holds raw (control characters are escaped in JSON), so
 * no field is ever quoted and backslashes pass as they are (the text format would double them).
 */
export function pairLinesCopy(runId: string, format: LineFormat, exclude: readonly PairFlag[] = []): string {
  return `copy (${pairLinesQuery(runId, format, exclude)}) to stdout with (format csv, delimiter E'\\x02', quote E'\\x01')`;
}
