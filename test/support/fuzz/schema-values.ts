import fc from 'fast-check';

/**
 * Values for a JSON Schema (the subset nestjs-zod writes into /docs/openapi.json, OpenAPI 3.0
 * and 3.1 spellings): `valid` values that follow it, `boundary` values on and just past its
 * edges, `invalid` values of the wrong shape, and `mixed` values whose every node is one of the
 * three, so that a mostly valid body reaches deep fields with one bad leaf.
 *
 * Values may hold placeholders (`Known`, `RawJson`) that the sender resolves: ids and names the
 * server handed out (known only at send time), and JSON literals JSON.stringify cannot write.
 */

export type Schema = Record<string, any>;

/**
 * A string the server handed out under `prop` (a run id, a constitution name...), the `n`th one
 * known when sent. With a `pattern`, only values that match it, from any property if none under
 * `prop` does (`fuzz-c@1.0.0` for a "name@x.y.z" field of a new route); `fallback` if none at all.
 */
export class Known {
  constructor(
    readonly prop: string,
    readonly n: number,
    readonly pattern?: string,
    readonly fallback?: string,
  ) {}
  toString() {
    return `Known(${this.prop}#${this.n}${this.pattern ? ` ~ /${this.pattern}/` : ''})`;
  }
}

/** A JSON literal written as is: numbers JSON.parse turns into Infinity or rounds (1e400, 2^63+1). */
export class RawJson {
  constructor(readonly text: string) {}
  toString() {
    return `RawJson(${this.text})`;
  }
}

export type Mode = 'valid' | 'mixed';

/** An optional field left out. */
const ABSENT = Symbol('absent');

/** Edges of integer columns and of JavaScript numbers, where casts and coercions go wrong. */
export const INT4_MAX = 2 ** 31 - 1;
export const INT8_MAX_TEXT = '9223372036854775807';
export const NUMBER_EDGES: number[] = [
  0,
  -1,
  1,
  INT4_MAX,
  INT4_MAX + 1,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 63,
  -(2 ** 63),
  2 ** 64,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  0.5,
  -0.5,
  1e-7,
  1e21,
  1e308,
];
/** The same as text, plus what only text can say (query strings, path segments, raw JSON). */
export const NUMBER_TEXT_EDGES: string[] = [
  ...NUMBER_EDGES.map(String),
  INT8_MAX_TEXT,
  '9223372036854775808',
  '-9223372036854775809',
  '9007199254740993',
  '99999999999999999999999999999999',
  '1e400',
  '-1e400',
  '1e3',
  '0x10',
  '0b1',
  '0o7',
  '1_000',
  '-0',
  '+1',
  ' 7',
  '7 ',
  '1.0',
  '1.',
  '.5',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  'null',
  'true',
  '[]',
  '{}',
  'abc',
];
/** JSON number literals JSON.stringify cannot produce. */
const RAW_NUMBER_LITERALS = ['1e400', '-1e400', '9223372036854775808', '9007199254740993', '123456789012345678901234567890', '-0', '1E2', '0.1e-400'];

/** Texts that have broken parsers, databases and loggers before. */
export const STRING_EDGES: string[] = [
  '',
  ' ',
  '\t\n',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '[]',
  '{}',
  '%',
  '%00',
  '%zz',
  '..',
  '../../etc/passwd',
  '/',
  '\\',
  '"',
  "'",
  "' OR 1=1 --",
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  '\ufeffbom',
  '\u200b',
  '\u202eRTL',
  'é',
  'e\u0301',
  '😀',
  '👩‍👩‍👧',
  '𝕏',
  '中文',
  'ﷺ',
  '\uffff',
  'Ⅻ',
  'a'.repeat(255),
  'a'.repeat(256),
  'a'.repeat(4096),
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '00000000-0000-4000-8000-00000000000',
  '{00000000-0000-4000-8000-000000000000}',
  '00000000000040008000000000000000',
  'latest',
  '1.0.0',
  '0.0.0',
  '99999999999.0.0',
  '-271821-04-20T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '1970-01-01',
  '2025-02-30T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '1',
  '0',
  '1e400',
];

const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;

export interface ValueOptions {
  /** Strings the server handed out, by property name (resolved when sent). */
  known?: (prop: string) => boolean;
  /** The longest string generated for a "huge" value. */
  hugeChars?: number;
  /** The longest array generated (bodies stay small; limits are tested with numbers of items just past them). */
  maxItems?: number;
}

/** Follows `$ref`s into the document's components. */
export class SchemaValues {
  private readonly hugeChars: number;
  private readonly maxItems: number;

  constructor(
    private readonly doc: Schema,
    private readonly opts: ValueOptions = {},
  ) {
    this.hugeChars = opts.hugeChars ?? 70_000;
    this.maxItems = opts.maxItems ?? 4;
  }

  resolve(schema: Schema | undefined): Schema {
    let s = schema ?? {};
    for (let i = 0; i < 20 && typeof s.$ref === 'string'; i++) {
      const path = s.$ref.replace(/^#\//, '').split('/');
      s = path.reduce((node: any, k: string) => node?.[k], this.doc) ?? {};
    }
    return s;
  }

  /** `valid`: follows the schema; `mixed`: every node valid, on a boundary or invalid. */
  value(schema: Schema | undefined, mode: Mode, prop = '', depth = 0): fc.Arbitrary<unknown> {
    if (mode === 'valid') return this.valid(schema, 'valid', prop, depth);
    return fc.oneof(
      { weight: 6, arbitrary: this.valid(schema, 'mixed', prop, depth) },
      { weight: 2, arbitrary: this.boundary(schema, prop) },
      { weight: 1, arbitrary: this.invalid(schema, depth) },
    );
  }

  private types(s: Schema): string[] {
    if (Array.isArray(s.type)) return s.type;
    if (typeof s.type === 'string') return [s.type];
    if (s.properties) return ['object'];
    if (s.items) return ['array'];
    return [];
  }

  private nullable(s: Schema): boolean {
    return s.nullable === true || this.types(s).includes('null');
  }

  valid(schema: Schema | undefined, mode: Mode, prop = '', depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const alts: fc.Arbitrary<unknown>[] = [];
    if (s.const !== undefined) return fc.constant(s.const);
    if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...s.enum);
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (Array.isArray(s[key]) && s[key].length) alts.push(...s[key].map((sub: Schema) => this.value(sub, mode, prop, depth)));
    }
    if (Array.isArray(s.allOf) && s.allOf.length) {
      const merged = Object.assign({}, ...s.allOf.map((sub: Schema) => this.resolve(sub)));
      alts.push(this.value(merged, mode, prop, depth));
    }
    if (this.types(s).length === 1 && this.types(s)[0] === 'null') return fc.constant(null);
    const types = this.types(s).filter((t) => t !== 'null');
    for (const t of types) alts.push(this.validOfType(s, t, mode, prop, depth));
    // The documented default is the value most clients send.
    if (s.default !== undefined && alts.length)
      return fc.oneof({ weight: 1, arbitrary: fc.constant(s.default) }, { weight: 2, arbitrary: alts.length === 1 ? alts[0] : fc.oneof(...alts) });
    if (!alts.length) alts.push(depth > 2 ? fc.constant({}) : (fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<unknown>));
    if (this.nullable(s)) alts.push(fc.constant(null));
    return alts.length === 1 ? alts[0] : fc.oneof(...alts);
  }

  private validOfType(s: Schema, type: string, mode: Mode, prop: string, depth: number): fc.Arbitrary<unknown> {
    switch (type) {
      case 'string':
        return this.validString(s, prop);
      case 'integer':
      case 'number': {
        const [min, max] = this.range(s, type === 'integer');
        if (type === 'integer') return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) });
        return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: exclusive(s, 'min'), maxExcluded: exclusive(s, 'max') });
      }
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const minItems = s.minItems ?? 0;
        const maxItems = Math.max(minItems, Math.min(s.maxItems ?? this.maxItems, this.maxItems));
        return fc.array(this.value(s.items, mode, singular(prop), depth + 1), { minLength: minItems, maxLength: maxItems });
      }
      case 'object':
        return this.validObject(s, mode, depth);
      default:
        return fc.constant(null);
    }
  }

  private validObject(s: Schema, mode: Mode, depth: number): fc.Arbitrary<unknown> {
    const props: Record<string, Schema> = s.properties ?? {};
    const required = new Set<string>(s.required ?? []);
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    // Optional fields now and then: each one is a chance for a combination the server refuses.
    for (const [k, sub] of Object.entries(props)) {
      const arb = this.value(sub, mode, k, depth + 1);
      model[k] = required.has(k) ? arb : fc.oneof({ weight: 2, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: arb });
    }
    const record = Object.keys(model).length
      ? fc.record(model).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== ABSENT)))
      : fc.constant({} as Record<string, unknown>);
    const extra = s.additionalProperties;
    if (extra && typeof extra === 'object' && depth < 3) {
      return fc
        .tuple(record, fc.dictionary(fc.string({ maxLength: 12 }), this.value(extra, mode, '', depth + 1), { maxKeys: 3 }))
        .map(([r, d]) => ({ ...d, ...r }));
    }
    return record;
  }

  private validString(s: Schema, prop: string): fc.Arbitrary<string | Known> {
    const minLength = s.minLength ?? 0;
    const maxLength = Math.min(s.maxLength ?? 40, 200);
    let base: fc.Arbitrary<string>;
    if (s.format === 'uuid') base = fc.uuid();
    else if (s.format === 'date-time') base = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
    else if (typeof s.pattern === 'string') base = patternString(s.pattern, minLength, s.maxLength);
    else {
      // Words mostly (a prompt of spaces is refused by a refinement the schema cannot show), any text sometimes.
      const max = Math.max(minLength, maxLength);
      base = fc.oneof(
        { weight: 2, arbitrary: fc.lorem({ maxCount: 8 }).filter((w) => w.length >= minLength && w.length <= max) },
        { weight: 1, arbitrary: fc.string({ minLength, maxLength: max, unit: 'grapheme' }) },
      );
    }
    const pattern = typeof s.pattern === 'string' ? s.pattern : undefined;
    if (!pattern && (!prop || !this.opts.known?.(prop))) return base;
    // Real names and ids: without them every request stops at "not found".
    const fallback = fc.sample(base, { numRuns: 1, seed: 0 })[0];
    return fc.oneof({ weight: 3, arbitrary: fc.nat().map((n) => new Known(prop, n, pattern, fallback)) }, { weight: 2, arbitrary: base });
  }

  private range(s: Schema, integer: boolean): [number, number] {
    let min = typeof s.minimum === 'number' ? s.minimum : -1e9;
    let max = typeof s.maximum === 'number' ? s.maximum : 1e9;
    if (typeof s.exclusiveMinimum === 'number') min = s.exclusiveMinimum;
    if (typeof s.exclusiveMaximum === 'number') max = s.exclusiveMaximum;
    if (integer) {
      if (exclusive(s, 'min')) min = Math.floor(min) + 1;
      if (exclusive(s, 'max')) max = Math.ceil(max) - 1;
      min = Math.ceil(min);
      max = Math.floor(max);
    }
    return [min, Math.max(min, max)];
  }

  /**
   * The smallest valid value, without randomness: required fields only, the documented default or
   * the lower bound, a known name or id where there is one. The base the sweep changes one field of.
   */
  minimal(schema: Schema | undefined, prop = '', depth = 0): unknown {
    const s = this.resolve(schema);
    if (s.const !== undefined) return s.const;
    if (s.default !== undefined) return s.default;
    if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
    const alt = s.anyOf ?? s.oneOf;
    if (Array.isArray(alt) && alt.length) return this.minimal(alt[0], prop, depth);
    const type = this.types(s).find((t) => t !== 'null') ?? (this.nullable(s) ? 'null' : 'object');
    switch (type) {
      case 'string':
        if (typeof s.pattern === 'string')
          return new Known(prop, 0, s.pattern, fc.sample(patternString(s.pattern, s.minLength ?? 0, s.maxLength), { numRuns: 1, seed: 0 })[0]);
        if (prop && this.opts.known?.(prop)) return new Known(prop, 0);
        if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
        return 'What is the capital of France?'.slice(0, s.maxLength ?? 100).padEnd(s.minLength ?? 0, '.');
      case 'integer':
      case 'number':
        return this.range(s, type === 'integer')[0] === -1e9 ? 1 : this.range(s, type === 'integer')[0];
      case 'boolean':
        return false;
      case 'array':
        return Array.from({ length: Math.max(1, s.minItems ?? 0) }, () => this.minimal(s.items, singular(prop), depth + 1));
      case 'object': {
        if (depth > 4) return {};
        const out: Record<string, unknown> = {};
        for (const k of s.required ?? []) out[k] = this.minimal(s.properties?.[k], k, depth + 1);
        return out;
      }
      default:
        return null;
    }
  }

  /** On and just past the schema's edges, and the edges of int4, int8 and doubles. */
  boundary(schema: Schema | undefined, prop = ''): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const types = this.types(s);
    const out: fc.Arbitrary<unknown>[] = [];
    if (types.includes('integer') || types.includes('number')) {
      const edges = new Set<number>(NUMBER_EDGES);
      for (const v of [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum]) {
        if (typeof v === 'number') for (const d of [-1, -0.5, 0, 0.5, 1]) edges.add(v + d);
      }
      out.push(
        fc.constantFrom(...edges),
        fc.constantFrom(...RAW_NUMBER_LITERALS).map((t) => new RawJson(t)),
      );
    }
    if (types.includes('string') || !types.length) {
      const lengths = new Set<number>([0, 1]);
      for (const v of [s.minLength, s.maxLength]) if (typeof v === 'number') for (const d of [-1, 0, 1]) if (v + d >= 0) lengths.add(v + d);
      out.push(
        fc.constantFrom(...STRING_EDGES),
        fc.constantFrom(...lengths).map((n) => 'x'.repeat(Math.min(n, this.hugeChars))),
        fc.constantFrom(this.hugeChars, 1 + (this.hugeChars >> 4)).map((n) => '€'.repeat(n)),
        fc.string({ unit: 'binary', maxLength: 30 }),
      );
      if (prop && this.opts.known?.(prop)) out.push(fc.nat().map((n) => new Known(prop, n)));
    }
    if (types.includes('array')) {
      const sizes = new Set<number>([0]);
      for (const v of [s.minItems, s.maxItems]) if (typeof v === 'number') for (const d of [-1, 0, 1]) if (v + d >= 0 && v + d <= 1001) sizes.add(v + d);
      out.push(fc.constantFrom(...sizes).chain((n) => fc.array(this.valid(s.items, 'valid', singular(prop), 3), { minLength: n, maxLength: n })));
    }
    if (types.includes('object')) {
      out.push(fc.constant({}));
      // Every optional field at once, and the required ones alone.
      out.push(this.validObject({ ...s, required: Object.keys(s.properties ?? {}) }, 'valid', 3));
    }
    if (Array.isArray(s.enum)) {
      out.push(fc.constantFrom(...s.enum.flatMap((e: unknown) => (typeof e === 'string' ? [e.toUpperCase(), ` ${e}`, `${e}\u0000`] : [String(e)]))));
    }
    if (!out.length) return this.invalid(s, 3);
    return fc.oneof(...out);
  }

  /** The wrong shape: another JSON type, fields missing or added, nesting where a leaf belongs. */
  invalid(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    const types = this.types(s);
    const others = JSON_TYPES.filter((t) => !types.includes(t) && !(t === 'number' && types.includes('integer')));
    const out: fc.Arbitrary<unknown>[] = [
      fc.constantFrom(...others).chain((t) => anyOfType(t)),
      fc.constantFrom<unknown>(null, [], {}, '', 0, true, [null], { '': null }),
    ];
    if (types.includes('object') && depth < 3) {
      const props = Object.keys(s.properties ?? {});
      const base = this.validObject(s, 'valid', depth + 1) as fc.Arbitrary<Record<string, unknown>>;
      const required: string[] = (s.required ?? []).filter((k: string) => props.includes(k));
      if (required.length) {
        out.push(
          fc.tuple(base, fc.constantFrom(...required)).map(([o, k]) => {
            const { [k]: _dropped, ...rest } = o;
            return rest;
          }),
        );
      }
      out.push(
        fc
          .tuple(
            base,
            fc.constantFrom(...['__proto__', 'constructor', 'extra', '', ' ', '$where', 'id', 'a.b', 'toString'].filter((k) => !props.includes(k))),
            fc.jsonValue({ maxDepth: 2 }),
          )
          .map(([o, k, v]) => {
            // defineProperty: an own "__proto__" key, as JSON.parse on the server makes it.
            const r = { ...o };
            Object.defineProperty(r, k, { value: v, enumerable: true, writable: true, configurable: true });
            return r;
          }),
      );
    }
    if (types.includes('array') && depth < 3) out.push(fc.array(this.invalid(s.items, depth + 1), { minLength: 1, maxLength: 3 }));
    return fc.oneof(...out);
  }
}

function exclusive(s: Schema, side: 'min' | 'max'): boolean {
  const v = side === 'min' ? s.exclusiveMinimum : s.exclusiveMaximum;
  return v === true || typeof v === 'number';
}

function anyOfType(t: (typeof JSON_TYPES)[number]): fc.Arbitrary<unknown> {
  switch (t) {
    case 'string':
      return fc.oneof(fc.constantFrom(...STRING_EDGES.slice(0, 20)), fc.string({ maxLength: 10 }));
    case 'number':
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(...NUMBER_EDGES));
    case 'integer':
      return fc.constantFrom(...NUMBER_EDGES.filter(Number.isInteger));
    case 'boolean':
      return fc.boolean();
    case 'object':
      return fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
    case 'array':
      return fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 });
    case 'null':
      return fc.constant(null);
  }
}

/** `prompts` -> `prompt`: the property name an array's items are known by. */
export function singular(prop: string): string {
  return prop.endsWith('s') ? prop.slice(0, -1) : prop;
}

/**
 * Strings matching a pattern; fast-check's `stringMatching` covers the regex syntax zod writes
 * (anchors, classes, groups, bounded repeats). Lengths are enforced afterwards where they can be.
 */
function patternString(pattern: string, minLength: number, maxLength: number | undefined): fc.Arbitrary<string> {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return fc.string({ minLength, maxLength: maxLength ?? 40 });
  }
  const arb = fc.stringMatching(re, { size: 'small' });
  return arb.filter((v) => v.length >= minLength && (maxLength === undefined || v.length <= maxLength) && re.test(v));
}
