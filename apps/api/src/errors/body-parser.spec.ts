import { hasNulEscape, wellFormed } from './body-parser';

describe('finding NUL in JSON text', () => {
  it.each([
    [String.raw`{"a":"\u0000"}`, true],
    [String.raw`{"a":"x\u0000y"}`, true],
    [String.raw`{"a":"\\u0000"}`, false], // a backslash, then the text u0000
    [String.raw`{"a":"\\\u0000"}`, true], // a backslash, then NUL
    [String.raw`{"a":"\u00000"}`, true],
    [String.raw`{"a":"\u0001","b":"u0000"}`, false],
    ['{"a":"plain"}', false],
  ])('%s -> %s (JSON.parse agrees)', (text, nul) => {
    expect(hasNulEscape(Buffer.from(text))).toBe(nul);
    expect(Object.values(JSON.parse(text) as Record<string, string>).some((v) => v.includes('\0'))).toBe(nul);
  });
});

describe('finding lone surrogates in parsed JSON', () => {
  it.each([
    [String.raw`{"a":"\ud83d\ude00"}`, true], // an emoji as a pair of escapes, as Python's json.dumps writes it
    [String.raw`{"a":["x",{"b":"\ud800"}]}`, false],
    [String.raw`{"a":"\udc00x"}`, false],
    [String.raw`{"\ud800":1}`, false],
    ['{"a":"😀 é"}', true],
  ])('%s well-formed: %s', (text, ok) => {
    expect(wellFormed(JSON.parse(text))).toBe(ok);
    // A second opinion: UTF-8 encoding replaces what is not well-formed, so a round trip changes it.
    const texts = (v: unknown): string[] =>
      typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...texts(x)]) : [];
    expect(texts(JSON.parse(text)).every((t) => Buffer.from(t, 'utf8').toString('utf8') === t)).toBe(ok);
  });
});
