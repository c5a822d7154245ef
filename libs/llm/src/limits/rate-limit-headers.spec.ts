import { parseResetDuration, rateLimitResetMs } from './rate-limit-headers';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] });

describe('rate-limit headers', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['0.25', 250],
  ])('reads the reset duration %p as %p ms', (raw, ms) => {
    expect(parseResetDuration(raw)).toBe(ms);
  });

  it.each(['', 'soon', '5 minutes', '1s later'])('ignores a reset it cannot read (%p)', (raw) => {
    expect(parseResetDuration(raw)).toBeUndefined();
  });

  it('waits for the window that ran out, not the other one', () => {
    expect(
      rateLimitResetMs(
        headers({
          'x-ratelimit-remaining-requests': '12',
          'x-ratelimit-reset-requests': '2s',
          'x-ratelimit-remaining-tokens': '0',
          'x-ratelimit-reset-tokens': '8s',
        }),
      ),
    ).toBe(8000);
    expect(
      rateLimitResetMs(
        headers({
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '2s',
          'x-ratelimit-remaining-tokens': '900',
          'x-ratelimit-reset-tokens': '8s',
        }),
      ),
    ).toBe(2000);
  });

  it('takes the sooner reset when the server does not say which window ran out', () => {
    expect(rateLimitResetMs(headers({ 'x-ratelimit-reset-requests': '2s', 'x-ratelimit-reset-tokens': '500ms' }))).toBe(500);
    expect(rateLimitResetMs(headers({}))).toBeUndefined();
  });
});
