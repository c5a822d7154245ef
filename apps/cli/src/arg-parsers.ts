import { InvalidArgumentError } from 'commander';

/**
 * Commander option parsers. They reject what `Number()` would quietly accept ("", "1e3", "0x10",
 * "1.5" for an integer) so a typo fails at the flag instead of as a server-side 422.
 */
export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('the number is too large.');
  return n;
}

export function parseDecimal(value: string): number {
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(value.trim())) throw new InvalidArgumentError('expected a number such as 0.7.');
  return Number(value);
}

export function parseApiUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL; expected something like http://127.0.0.1:3000.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`expected an http:// or https:// URL, got ${url.protocol}//.`);
  }
  return url.toString().replace(/\/+$/, '');
}
