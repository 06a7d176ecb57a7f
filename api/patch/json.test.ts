import { goFormat, goJsonStringify, jsonEqual } from './json.js';

describe('json helpers', () => {
  it('compares JSON structurally, ignoring key order but not array order', () => {
    expect(jsonEqual({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
  });

  it('formats values as Go\'s %v does in upstream messages', () => {
    expect(goFormat({ name: 'x', b: [1, 'y'], c: null })).toBe('map[b:[1 y] c:<nil> name:x]');
  });

  it('writes JSON as Go does: sorted keys and HTML-safe escapes', () => {
    expect(goJsonStringify({ b: 1, a: { d: '<x&y>', c: [true, null] } })).toBe('{"a":{"c":[true,null],"d":"\\u003cx\\u0026y\\u003e"},"b":1}');
  });
});
