import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: keys sorted by UTF-16 code units,
 * no whitespace, numbers in ECMAScript shortest form. `canonicalize` is the reference
 * implementation by the RFC's author.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('a value with no JSON form (undefined, a function) cannot be canonicalised');
  return text;
}

/**
 * The value exactly as it will read back from a JSON column: `undefined` members dropped,
 * `undefined` in arrays as null, -0 as 0, Dates as ISO strings. What is hashed must be what is
 * stored, so payloads pass through this before both.
 */
export function asStoredJson<T = unknown>(value: unknown): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}
