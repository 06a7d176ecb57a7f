import { prefixEnd, prefixEndBytes } from './keys.js';

describe('prefixEnd', () => {
  it('bounds every key that starts with the prefix and nothing else', () => {
    const end = prefixEnd('/registry/pods/')!;
    expect(end).toBe('/registry/pods0');
    for (const k of ['/registry/pods/', '/registry/pods/a', '/registry/pods/\u{10ffff}\u{10ffff}']) {
      expect(Buffer.compare(Buffer.from(k), Buffer.from('/registry/pods/'))).toBeGreaterThanOrEqual(0);
      expect(Buffer.compare(Buffer.from(k), Buffer.from(end))).toBeLessThan(0);
    }
    expect(Buffer.compare(Buffer.from('/registry/pods0'), Buffer.from(end))).toBe(0);
  });

  it('carries past the last code point and has no bound for an empty prefix', () => {
    expect(prefixEnd('a\u{10ffff}')).toBe('b');
    expect(prefixEnd('\u{d7ff}')).toBe('\u{e000}');
    expect(prefixEnd('')).toBeUndefined();
    expect(prefixEnd('\u{10ffff}')).toBeUndefined();
  });
});

describe('prefixEndBytes', () => {
  it('increments the last byte below 0xff, as etcd range_end wants', () => {
    expect(prefixEndBytes(Buffer.from('/a/'))).toEqual(Buffer.from('/a0'));
    expect(prefixEndBytes(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEndBytes(Buffer.from(''))).toEqual(Buffer.from([0]));
  });
});
