import fc from 'fast-check';
import { Known, RawJson, SchemaValues, STRING_EDGES, NUMBER_TEXT_EDGES, singular, type Schema } from './schema-values';

/**
 * Requests for every operation of an OpenAPI document, built from its own schemas: path
 * parameters, query strings, headers and bodies that are valid, on a boundary or invalid, sent
 * with keys of every role, no key or a made-up one. Nothing here knows Amend's routes: a route
 * added to the document is fuzzed the next time the test runs.
 *
 * A generated request is symbolic (ids as `Known` placeholders), so the same seed replays the
 * same requests against a fresh stack whose ids differ.
 */

export interface Operation {
  /** `GET /v1/runs/{id}` */
  name: string;
  method: string;
  path: string;
  params: { name: string; in: 'path' | 'query' | 'header'; schema: Schema; required: boolean }[];
  body?: { required: boolean; content: Record<string, Schema> };
  /** 5xx statuses the document declares for this operation (e.g. `/ready` 503): part of its contract. */
  declared5xx: number[];
}

export type Caller = 'submitter' | 'author' | 'auditor' | 'admin' | 'other-team' | 'none' | 'made-up' | 'malformed';
const ROLES = ['submitter', 'author', 'auditor', 'admin'] as const;

/**
 * Mostly a key of a role the route lets in (else most requests stop at 403 before any input is
 * read), now and then another role, another team, no key, a made-up or a malformed one.
 */
function callers(allowed: readonly string[] | undefined): fc.Arbitrary<Caller> {
  const ok = ROLES.filter((r) => !allowed || allowed.includes(r));
  const other = ROLES.filter((r) => !ok.includes(r));
  return fc.oneof(
    { weight: 14, arbitrary: fc.constantFrom(...ok) },
    { weight: other.length ? 2 : 0, arbitrary: other.length ? fc.constantFrom(...other) : fc.constant('none' as Caller) },
    { weight: ok.includes('submitter') ? 1 : 0, arbitrary: fc.constant('other-team' as const) },
    { weight: 1, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constant('made-up' as const) },
    { weight: 1, arbitrary: fc.constant('malformed' as const) },
  );
}
const MALFORMED_AUTH = [
  'Bearer',
  'Bearer ',
  'bearer amd_',
  'Basic dXNlcjpwYXNz',
  'Bearer amd_x amd_y',
  `Bearer amd_${'A'.repeat(3000)}`,
  'Bearer null',
  'Token amd_abc',
];

type PathValue = string | Known | { raw: string };
export type Body = { kind: 'value'; contentType: string; value: unknown } | { kind: 'text'; contentType: string | null; text: string };

export interface FuzzRequest {
  op: string;
  caller: Caller;
  malformedAuth?: string;
  path: Record<string, PathValue>;
  query: [string, unknown][];
  headers: [string, unknown][];
  body?: Body;
}

/** What was actually sent, printed when a request fails the check. */
export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export function operations(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const seen = new Set<string>();
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .filter((p: Schema) => ['path', 'query', 'header'].includes(p.in))
        // nestjs/swagger lists a header twice when both decorators name it (Idempotency-Key).
        .filter((p: Schema) => {
          const k = `${p.in}:${String(p.name).toLowerCase()}`;
          return seen.has(k) ? false : (seen.add(k), true);
        })
        .map((p: Schema) => ({ name: p.name, in: p.in, schema: p.schema ?? {}, required: !!p.required || p.in === 'path' }));
      const content: Record<string, Schema> = {};
      for (const [type, media] of Object.entries<Schema>(op.requestBody?.content ?? {})) content[type] = media.schema ?? {};
      out.push({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        params,
        body: op.requestBody ? { required: !!op.requestBody.required, content } : undefined,
        declared5xx: Object.keys(op.responses ?? {})
          .map(Number)
          .filter((s) => s >= 500 && s <= 599),
      });
    }
  }
  return out;
}

/** The property a path parameter's values are known by: `/runs/{id}` -> `run_id`, `{name}` -> `name`. */
export function pathParamProp(path: string, param: string): string {
  if (param !== 'id') return param;
  const segments = path.split('/');
  const i = segments.indexOf(`{${param}}`);
  const before = i > 0 ? segments[i - 1] : '';
  return before && !before.startsWith('{') ? `${singular(before)}_id` : 'any_id';
}

/** The sweep's edge values: few, each one a different way a value has reached Postgres or a parser unchecked. */
const NUMBER_SWEEP = ['-1', '2147483648', '-2147483649', '9007199254740991', '9007199254740993', '9223372036854775808', '1e400', '1.5', 'abc', ''];
const STRING_SWEEP = ['', '\u0000', '\ud800', '😀', 'a'.repeat(700), "'", '2147483648', '-271821-04-20T00:00:00Z'];
const CONSTRAINED_SWEEP = ['', '\u0000', 'a'.repeat(700)];
const PATH_SWEEP = ['\u0000', '\ud800', 'a'.repeat(700), '2147483648', '00000000-0000-0000-0000-000000000000'];
const BODY_NUMBER_SWEEP: unknown[] = [-1, 2 ** 31, Number.MAX_SAFE_INTEGER, 2 ** 63, 1e308, 0.5, new RawJson('1e400'), '1', null];
const BODY_STRING_SWEEP: unknown[] = ['', '\u0000', '\ud800', 'a'.repeat(3000), 'a'.repeat(70_000), 1, null, {}];
const BODY_OTHER_SWEEP: unknown[] = [null, '', 0, [], {}, [null]];

/** A string schema that only takes some values (an enum, a pattern, a format). */
function constrained(s: Schema): boolean {
  return Array.isArray(s.enum) || typeof s.pattern === 'string' || typeof s.format === 'string' || s.const !== undefined;
}

/** A numeric schema's own bounds and one past them. */
function bounds(s: Schema): number[] {
  const out: number[] = [];
  for (const v of [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum]) if (typeof v === 'number') out.push(v - 1, v, v + 1);
  return out;
}

/** Raw path segments (not URL-encoded): escapes that do not decode, dot segments, encoded slashes. */
const RAW_SEGMENTS = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '.', '..', '%2e%2e', '%2F', 'a%2Fb', '%25', ';', 'a;b=c', '~', '*', '%F0%9F%98%80'];

export class RequestGenerator {
  /** Bodies: strings up to 70,000 characters. */
  readonly values: SchemaValues;
  /** Query strings and headers stay under Node's 16 KB header limit, which answers 431 before the app sees them. */
  readonly params: SchemaValues;

  constructor(
    doc: Schema,
    readonly ops: Operation[],
    known: (prop: string) => boolean,
    /** The roles an operation lets in (undefined: unknown or public), to aim most requests past the role check. */
    private readonly rolesOf: (op: Operation) => readonly string[] | undefined = () => undefined,
  ) {
    this.values = new SchemaValues(doc, { known });
    this.params = new SchemaValues(doc, { known, hugeChars: 700 });
  }

  request(): fc.Arbitrary<FuzzRequest> {
    // Built once per operation: rebuilding arbitraries per value (chain) costs more than the request.
    return fc.oneof(...this.ops.map((op) => this.forOperation(op)));
  }

  /**
   * One request per (parameter or top-level body field, edge value), everything else valid: the
   * sweep that runs before the random requests, so an unbounded cursor or a field that reaches
   * Postgres unchecked is found on every run, not once in a while.
   */
  edgeCases(op: Operation): FuzzRequest[] {
    const allowed = this.rolesOf(op);
    const caller: Caller = (ROLES.find((r) => !allowed || allowed.includes(r)) ?? 'submitter') as Caller;
    const path: Record<string, PathValue> = {};
    for (const p of op.params.filter((x) => x.in === 'path')) path[p.name] = new Known(pathParamProp(op.path, p.name), 0);
    const required = op.params.filter((p) => p.in !== 'path' && p.required).map((p) => [p.name, this.params.minimal(p.schema, p.name)] as [string, unknown]);
    const [contentType, bodySchema] = Object.entries(op.body?.content ?? {})[0] ?? [];
    const body: Body | undefined = contentType ? { kind: 'value', contentType, value: this.values.minimal(bodySchema) } : undefined;
    const base: FuzzRequest = {
      op: op.name,
      caller,
      path,
      query: required.filter(([n]) => op.params.some((p) => p.name === n && p.in === 'query')),
      headers: [],
      body,
    };
    const out: FuzzRequest[] = [base];
    for (const p of op.params) {
      const schema = this.params.resolve(p.schema);
      const numeric = ['integer', 'number'].includes(schema.type);
      // A value off an enum or a pattern stops at validation whatever it is: a few edges suffice there.
      const edges: unknown[] = numeric
        ? [...NUMBER_SWEEP, ...bounds(schema).map(String)]
        : p.in === 'path'
          ? PATH_SWEEP
          : constrained(schema)
            ? CONSTRAINED_SWEEP
            : STRING_SWEEP;
      for (const e of edges) {
        if (p.in === 'path') out.push({ ...base, path: { ...path, [p.name]: e as string } });
        else if (p.in === 'query') out.push({ ...base, query: [...base.query.filter(([n]) => n !== p.name), [p.name, e]] });
        else out.push({ ...base, headers: [[p.name, e]] });
      }
      if (p.in === 'path') for (const raw of ['%zz', '%00']) out.push({ ...base, path: { ...path, [p.name]: { raw } } });
    }
    const resolved = bodySchema ? this.values.resolve(bodySchema) : undefined;
    if (body?.kind === 'value' && resolved?.properties && body.value && typeof body.value === 'object' && !Array.isArray(body.value)) {
      for (const [field, sub] of Object.entries<Schema>(resolved.properties)) {
        const s = this.values.resolve(sub);
        const t = Array.isArray(s.type) ? s.type : [s.type];
        const edges: unknown[] =
          t.includes('integer') || t.includes('number')
            ? [...BODY_NUMBER_SWEEP, ...bounds(s)]
            : t.includes('string')
              ? constrained(s)
                ? CONSTRAINED_SWEEP
                : BODY_STRING_SWEEP
              : BODY_OTHER_SWEEP;
        for (const e of edges) out.push({ ...base, body: { ...body, value: { ...(body.value as object), [field]: e } } });
      }
    }
    return out;
  }

  forOperation(op: Operation): fc.Arbitrary<FuzzRequest> {
    const path: Record<string, fc.Arbitrary<PathValue>> = {};
    const query: fc.Arbitrary<[string, unknown] | null>[] = [];
    const headers: fc.Arbitrary<[string, unknown] | null>[] = [];
    for (const p of op.params) {
      if (p.in === 'path') path[p.name] = this.pathValue(op.path, p.name, p.schema);
      else {
        const value = this.paramValue(p.schema, p.name);
        const entry = (p.required ? value : fc.option(value, { freq: 2 })).map((v) => (v === null ? null : ([p.name, v] as [string, unknown])));
        (p.in === 'query' ? query : headers).push(entry);
      }
    }
    // Parameters nobody declared, and the same one twice (Express makes an array of it).
    const declared = op.params.filter((p) => p.in === 'query').map((p) => p.name);
    query.push(
      rarely(
        fc.tuple(
          fc.constantFrom('extra', '__proto__', 'constructor', '', ...declared, ...declared.map((d) => `${d}[]`), ...declared.map((d) => `${d}[gt]`)),
          fc.constantFrom(...STRING_EDGES.slice(0, 24), ...NUMBER_TEXT_EDGES.slice(0, 12)),
        ),
        4,
        null,
      ),
    );
    return fc.record({
      op: fc.constant(op.name),
      caller: callers(this.rolesOf(op)),
      malformedAuth: fc.constantFrom(...MALFORMED_AUTH),
      path: fc.record(path),
      query: fc.tuple(...query).map((q) => q.filter((x): x is [string, unknown] => x !== null)),
      headers: headers.length ? fc.tuple(...headers).map((h) => h.filter((x): x is [string, unknown] => x !== null)) : fc.constant([]),
      body: this.body(op),
    });
  }

  private pathValue(path: string, name: string, schema: Schema): fc.Arbitrary<PathValue> {
    const prop = pathParamProp(path, name);
    return fc.oneof(
      { weight: 6, arbitrary: fc.nat().map((n) => new Known(prop, n)) as fc.Arbitrary<PathValue> },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: this.params.valid(schema, 'valid') as fc.Arbitrary<string> },
      { weight: 2, arbitrary: fc.constantFrom(...STRING_EDGES.filter((s) => s !== ''), ...NUMBER_TEXT_EDGES.filter((s) => s !== '')) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ raw })) },
    );
  }

  private paramValue(schema: Schema, name: string): fc.Arbitrary<unknown> {
    const s = this.params.resolve(schema);
    const numeric = ['integer', 'number'].includes(s.type);
    return fc.oneof(
      { weight: 4, arbitrary: this.params.valid(s, 'valid', name) },
      { weight: 3, arbitrary: this.params.boundary(s, name) },
      { weight: numeric ? 3 : 1, arbitrary: fc.constantFrom(...NUMBER_TEXT_EDGES) },
      { weight: 1, arbitrary: this.params.invalid(s) },
    );
  }

  private body(op: Operation): fc.Arbitrary<Body | undefined> {
    const junk = fc.oneof(
      fc.constantFrom(
        '{',
        '{"a":',
        '[1,2',
        '{"a":1}}',
        'nul',
        '\u0000',
        '{"a":1,}',
        "{'a':1}",
        '   ',
        '"just a string"',
        '42',
        'null',
        '[]',
        '{"__proto__":{"polluted":1}}',
        '\ufeff{}',
        '{"a":"\\ud800"}',
        '{"a":"\\u0000"}',
        `${'['.repeat(4000)}${']'.repeat(4000)}`,
        '{"a":1e400}',
        `{"a":"${'x'.repeat(100_000)}"}`,
      ),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const oddContentType = fc.constantFrom<string | null>(
      null,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/xml',
      'application/yaml',
      'application/x-ndjson',
      'application/json-patch+json',
    );
    if (!op.body) {
      // Routes without a body get one now and then: it must be ignored or refused, never crash.
      return rarely(fc.record({ kind: fc.constant('text' as const), contentType: fc.constant('application/json'), text: junk }), 8, undefined);
    }
    const types = Object.keys(op.body.content);
    const typed = types.map((contentType) => {
      const schema = op.body!.content[contentType];
      return fc.oneof(
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant('value' as const), contentType: fc.constant(contentType), value: fc.constant(this.values.minimal(schema)) }),
        },
        {
          weight: 3,
          arbitrary: fc.record({ kind: fc.constant('value' as const), contentType: fc.constant(contentType), value: this.values.value(schema, 'valid') }),
        },
        {
          weight: 5,
          arbitrary: fc.record({ kind: fc.constant('value' as const), contentType: fc.constant(contentType), value: this.values.value(schema, 'mixed') }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('value' as const), contentType: fc.constant(contentType), value: this.values.invalid(schema) }) },
      );
    });
    return fc.oneof(
      { weight: 9, arbitrary: fc.oneof(...typed) as fc.Arbitrary<Body | undefined> },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('text' as const), contentType: fc.constantFrom<string | null>(...types, 'application/json'), text: junk }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), contentType: oddContentType, text: fc.oneof(junk, fc.constant('{}')) }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
  }
}

/** `arb` once in `every` values, `none` otherwise (fc.option's `freq` is the other way round). */
function rarely<T, N>(arb: fc.Arbitrary<T>, every: number, none: N): fc.Arbitrary<T | N> {
  return fc.oneof({ weight: every - 1, arbitrary: fc.constant(none) }, { weight: 1, arbitrary: arb });
}

/** Ids and names the server handed out, by the property they came under; filled from every 2xx answer. */
export class KnownValues {
  private readonly pools = new Map<string, string[]>();
  /** Values never handed to the fuzzer (the keys it sends with: revoking them would end the run's coverage). */
  private readonly protectedValues = new Set<string>();
  private static readonly MAX_PER_PROP = 64;

  protect(value: string) {
    this.protectedValues.add(value);
    for (const pool of this.pools.values()) {
      const i = pool.indexOf(value);
      if (i >= 0) pool.splice(i, 1);
    }
  }

  add(prop: string, value: string) {
    if (this.protectedValues.has(value) || value.length > 200) return;
    for (const p of UUID.test(value) ? [prop, 'any_id'] : [prop]) {
      const pool = this.pools.get(p) ?? [];
      if (!pool.includes(value) && pool.length < KnownValues.MAX_PER_PROP) pool.push(value);
      this.pools.set(p, pool);
    }
  }

  has(prop: string): boolean {
    return this.pools.has(prop) || this.pools.has(`next_${prop}`) || /(^|_)id$/.test(prop);
  }

  /**
   * The `n`th value known under `prop` (or an id-like fallback) that matches `pattern`; with a
   * pattern and none under `prop`, the `n`th matching value under any property; else `fallback`,
   * else a made-up UUID.
   */
  pick(prop: string, n: number, pattern?: string, fallback?: string): string {
    const re = pattern ? new RegExp(pattern) : undefined;
    const fits = (v: string) => !re || re.test(v);
    // `cursor` is known from the `next_cursor` of a page.
    for (const p of [prop, `next_${prop}`, `${prop}_id`, `${singular(prop)}_id`, /(^|_)id$/.test(prop) ? 'any_id' : '']) {
      const pool = this.pools.get(p)?.filter(fits);
      if (pool?.length) return pool[n % pool.length];
    }
    if (re) {
      const any = [...new Set([...this.pools.values()].flat())].filter(fits);
      if (any.length) return any[n % any.length];
    }
    return fallback ?? `00000000-0000-4000-8000-${String(n % 1e12).padStart(12, '0')}`;
  }

  resolve(k: Known): string {
    return this.pick(k.prop, k.n, k.pattern, k.fallback);
  }

  /**
   * Collects the strings of a JSON answer: an `id` under a container (`{samples: [{id}]}`,
   * `{pair: {id}}`) as `sample_id`/`pair_id`, a top-level `id` by the route's collection
   * (`/v1/runs/...` -> `run_id`), any other string by its own key.
   */
  harvest(path: string, json: unknown) {
    const collection = path.split('/').filter((s) => s && s !== 'v1' && !s.startsWith('{'))[0] ?? '';
    const walk = (v: unknown, container: string, depth: number) => {
      if (depth > 6 || v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) {
        for (const item of v.slice(0, 50)) walk(item, container, depth + 1);
        return;
      }
      for (const [k, child] of Object.entries(v)) {
        if (typeof child === 'string') this.add(k === 'id' ? `${singular(container)}_id` : k, child);
        else walk(child, k, depth + 1);
      }
    };
    walk(json, collection, 0);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** JSON text of a generated value: `RawJson` written as is, `Known` resolved. */
export function toJson(v: unknown, known: KnownValues): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof Known) return JSON.stringify(known.resolve(v));
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x, known)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${toJson((v as Record<string, unknown>)[k], known)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A query or header value as text: arrays repeat the name, objects use the bracket syntax. */
function flatten(name: string, v: unknown, known: KnownValues, out: [string, string][]) {
  if (v instanceof Known) out.push([name, known.resolve(v)]);
  else if (v instanceof RawJson) out.push([name, v.text]);
  else if (Array.isArray(v)) for (const item of v.slice(0, 4)) flatten(name, item, known, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v).slice(0, 4)) flatten(`${name}[${k}]`, x, known, out);
  else out.push([name, v === null || v === undefined ? '' : String(v)]);
}

export interface Keys {
  submitter: string;
  author: string;
  auditor: string;
  admin: string;
  'other-team': string;
  'made-up': string;
}

/** The concrete request: ids resolved, query and body serialized. */
export function materialize(op: Operation, req: FuzzRequest, known: KnownValues, keys: Keys): SentRequest {
  let path = op.path;
  for (const p of op.params.filter((x) => x.in === 'path')) {
    const v = req.path[p.name];
    const segment = v instanceof Known ? encode(known.resolve(v)) : typeof v === 'object' ? v.raw : encode(v);
    path = path.replace(`{${p.name}}`, segment);
  }
  const pairs: [string, string][] = [];
  for (const [name, v] of req.query) flatten(name, v, known, pairs);
  let encoded = pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`);
  // Several long values together would pass Node's 16 KB header limit (a 431 before the app): drop the longest.
  while (encoded.join('&').length > 10_000) {
    const longest = encoded.reduce((a, b, i) => (b.length > encoded[a].length ? i : a), 0);
    encoded = encoded.filter((_, i) => i !== longest);
  }
  const qs = encoded.join('&');
  const headers: Record<string, string> = {};
  for (const [name, v] of req.headers) {
    const flat: [string, string][] = [];
    flatten(name, v, known, flat);
    const value = flat.map(([, x]) => x).join(', ');
    // fetch refuses header values outside visible Latin-1 (a client error, not the server's); Node's
    // own 16 KB header limit answers 431 before the app sees the request.
    if (/^[\x20-\x7e]*$/.test(value) && value.length < 4096) headers[name.toLowerCase()] = value;
  }
  if (req.caller === 'malformed') headers.authorization = req.malformedAuth ?? 'Bearer';
  else if (req.caller !== 'none') headers.authorization = `Bearer ${keys[req.caller]}`;
  let body: string | undefined;
  if (req.body) {
    if (req.body.contentType) headers['content-type'] = req.body.contentType;
    body = req.body.kind === 'text' ? req.body.text : serialize(req.body.contentType, req.body.value, known);
  }
  return { method: op.method, url: qs ? `${path}?${qs}` : path, headers, body };
}

/** Percent-encoding that also writes lone surrogates (as the bytes of WTF-8), which encodeURIComponent refuses. */
export function encode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const c = ch.codePointAt(0)!;
        if (c < 0xd800 || c > 0xdfff) return encodeURIComponent(ch);
        return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
      })
      .join('');
  }
}

function serialize(contentType: string, value: unknown, known: KnownValues): string {
  // JSON Lines: one line per item of an array body (an upload of records), or the value on one line.
  if (/ndjson|jsonl|json-seq/.test(contentType)) return Array.isArray(value) ? value.map((v) => toJson(v, known)).join('\n') + '\n' : toJson(value, known);
  // JSON is YAML (1.2), so YAML and JSON bodies share one writer.
  return toJson(value, known);
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Why an answer breaks the contract, or null: no 5xx, and every 4xx is `{error: {code, message}}`
 * with none of `forbiddenCodes` (codes that mean the server caught what validation should have).
 */
export function contractProblem(op: Operation, answer: Answer, forbiddenCodes: string[] = []): string | null {
  const { status } = answer;
  if (status >= 500) {
    if (!op.declared5xx.includes(status)) return `answered ${status}`;
  } else if (status < 400) {
    return null;
  }
  if (!/json/.test(answer.contentType)) return `answered ${status} with ${answer.contentType || 'no content type'}, not the JSON error body`;
  let body: any;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `answered ${status} with a body that is not JSON`;
  }
  const e = body?.error;
  if (!e || typeof e.code !== 'string' || !e.code || typeof e.message !== 'string' || !e.message) {
    return `answered ${status} without {error: {code, message}}`;
  }
  if (forbiddenCodes.includes(e.code)) return `answered ${status} ${e.code}: ${e.message}`;
  return null;
}

/** The request and answer as a reader replays them by hand. */
export function describe(sent: SentRequest, answer: Answer | null, keys: Keys): string {
  const roleOf = (v: string) => {
    const hit = Object.entries(keys).find(([, k]) => v === `Bearer ${k}`);
    return hit ? `Bearer <${hit[0]} key>` : v.length > 80 ? `${v.slice(0, 80)}... (${v.length} chars)` : v;
  };
  const lines = [`${sent.method} ${sent.url.length > 2000 ? `${sent.url.slice(0, 2000)}... (${sent.url.length} chars)` : sent.url}`];
  for (const [k, v] of Object.entries(sent.headers)) lines.push(`${k}: ${k === 'authorization' ? roleOf(v) : v}`);
  if (sent.body !== undefined) lines.push('', sent.body.length > 2000 ? `${sent.body.slice(0, 2000)}... (${sent.body.length} chars)` : sent.body);
  if (answer) lines.push('', `-> ${answer.status} ${answer.contentType}`, answer.text.slice(0, 1000));
  return lines.join('\n');
}
