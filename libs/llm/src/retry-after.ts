/** Something that can look up a header by name, case-insensitively (fetch `Headers`, a plain map). */
export type HeaderLookup = { get(name: string): string | null | undefined };

/**
 * How long the server asked us to wait, in ms, or undefined when it did not say.
 * `retry-after-ms` (OpenAI and Azure send it, finer grained) wins over `retry-after`, which
 * RFC 9110 allows as delta-seconds or an HTTP date.
 */
export function retryAfterMs(headers: HeaderLookup | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = parseNonNegative(headers.get('retry-after-ms'));
  if (ms !== undefined) return Math.ceil(ms);
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return undefined;
  const seconds = parseNonNegative(raw);
  if (seconds !== undefined) return Math.ceil(seconds * 1000);
  // An HTTP date names its month; without this, Date.parse would read "-5" as the year -5.
  if (!/[a-z]{3}/i.test(raw)) return undefined;
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function parseNonNegative(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
