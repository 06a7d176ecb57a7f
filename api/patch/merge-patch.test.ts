import { applyMergePatch } from './merge-patch.js';

describe('applyMergePatch (RFC 7386, as upstream applies it)', () => {
  // The examples of RFC 7386 appendix A, as [target, patch, result].
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('merges %j with %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it('drops null members inside a new value, arrays included, as upstream\'s library does', () => {
    expect(applyMergePatch({ a: 1 }, { b: [{ c: null, d: 1 }, null] })).toEqual({ a: 1, b: [{ d: 1 }, null] });
    expect(applyMergePatch({ a: 'x' }, { a: { b: null, c: { d: null } } })).toEqual({ a: { c: {} } });
  });

  it('takes an array replacing an object as sent', () => {
    expect(applyMergePatch({ a: { x: 1 } }, { a: [{ c: null }] })).toEqual({ a: [{ c: null }] });
  });

  it('sets spec.replicas as kubectl scale does, leaving the rest alone', () => {
    const live = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'a' }] } } } };
    expect(applyMergePatch(live, { spec: { replicas: 3 } })).toEqual({ spec: { replicas: 3, template: { spec: { containers: [{ name: 'a' }] } } } });
  });

  it('does not mutate its inputs', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: { d: 1 } } };
    const out = applyMergePatch(target, patch) as unknown as { a: { c: { d: number } } };
    out.a.c.d = 2;
    expect(target).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { c: { d: 1 } } });
  });
});
