import { retryAfterMs } from './retry-after';

const headers = (h: Record<string, string>) => new Headers(h);

describe('retryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(retryAfterMs(headers({ 'retry-after': '1' }))).toBe(1_000);
    expect(retryAfterMs(headers({ 'retry-after': '0.25' }))).toBe(250);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 01 Jun 2025 12:00:05 GMT' }), now)).toBe(5_000);
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 01 Jun 2025 11:00:00 GMT' }), now)).toBe(0);
  });

  it('prefers retry-after-ms', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '120', 'retry-after': '3' }))).toBe(120);
  });

  it('ignores absent or unreadable values', () => {
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(headers({}))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': '-5' }))).toBeUndefined();
  });
});
