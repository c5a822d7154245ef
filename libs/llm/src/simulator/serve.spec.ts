import { parseServeArgs } from './serve';

describe('simulator CLI arguments', () => {
  it('reads the documented flags', () => {
    const argv = '--port 8081 --latency-ms 200 --rate-429 0.3 --retry-after 1 --rate-500 0.05 --rate-hang 0.02 --rate-malformed 0 --seed 1'.split(' ');
    expect(parseServeArgs(argv)).toEqual({
      host: '127.0.0.1',
      port: 8081,
      latencyMs: 200,
      rate429: 0.3,
      retryAfterS: 1,
      rate500: 0.05,
      rateHang: 0.02,
      rateMalformed: 0,
      seed: 1,
      apiKey: undefined,
    });
  });

  it('reads the Batch API flags', () => {
    expect(parseServeArgs('--batch-delay-ms 5000 --batch-fail-rate 0.01 --batch-expire-rate 0.1 --seed 3'.split(' ')).batch).toEqual({
      delayMs: 5000,
      lineFailRate: 0.01,
      expireRate: 0.1,
      seed: 3,
    });
  });

  it('rejects a rate outside 0..1', () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => parseServeArgs(['--rate-429', '2'])).toThrow(/from 0 to 1/);
    } finally {
      write.mockRestore();
    }
  });
});
