import { semanticEqual, validateImmutableField } from './immutable.js';

describe('immutable', () => {
  it('treats unset values alike and ignores key order', () => {
    expect(semanticEqual(undefined, null)).toBe(true);
    expect(semanticEqual(undefined, [])).toBe(true);
    expect(semanticEqual('', undefined)).toBe(true);
    expect(semanticEqual({ a: 1, b: [1] }, { b: [1], a: 1 })).toBe(true);
    expect(semanticEqual({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(semanticEqual(0, undefined)).toBe(false);
    expect(semanticEqual([1, 2], [2, 1])).toBe(false);
  });

  it('reports the new value with "field is immutable"', () => {
    expect(validateImmutableField('b', 'a', 'spec.x')).toHaveLength(1);
    expect(validateImmutableField('b', 'a', 'spec.x')[0]!.message()).toBe('spec.x: Invalid value: "b": field is immutable');
    expect(validateImmutableField('a', 'a', 'spec.x')).toEqual([]);
  });
});
