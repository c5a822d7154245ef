import type { HeaderLookup } from '../retry-after';

/**
 * OpenAI-style rate-limit headers: `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
 * are durations until that window refills ("1s", "6m0s", "20ms", "1h2m3.5s"; some servers
 * send plain seconds), and `x-ratelimit-remaining-*` say which window ran out.
 */
export function parseResetDuration(raw: string | null | undefined): number | undefined {
  const v = raw?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const unit = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = unit.exec(v); m; m = unit.exec(v)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
    matched = unit.lastIndex;
  }
  return matched === v.length && matched > 0 ? Math.ceil(total) : undefined;
}

/**
 * How long a 429's rate-limit headers ask every caller of this backend to hold off, in ms: the
 * reset of the window that is exhausted (remaining 0), or when the server does not say which,
 * the sooner of the two resets. Undefined when there are no such headers.
 */
export function rateLimitResetMs(headers: HeaderLookup | undefined): number | undefined {
  if (!headers) return undefined;
  const requests = parseResetDuration(headers.get('x-ratelimit-reset-requests'));
  const tokens = parseResetDuration(headers.get('x-ratelimit-reset-tokens'));
  const remaining = (name: string) => {
    const raw = headers.get(name)?.trim();
    return raw && /^-?\d+$/.test(raw) ? Number(raw) : undefined;
  };
  const outOf = [
    remaining('x-ratelimit-remaining-requests') === 0 ? requests : undefined,
    (remaining('x-ratelimit-remaining-tokens') ?? 1) <= 0 ? tokens : undefined,
  ].filter((x): x is number => x !== undefined);
  if (outOf.length) return Math.max(...outOf);
  const known = [requests, tokens].filter((x): x is number => x !== undefined);
  return known.length ? Math.min(...known) : undefined;
}
