import { StatusError } from '../errors.js';
import { PatchApplyError, applyJsonPatch, escapePointerToken, parsePointer } from './json-patch.js';
import { catchStatusError } from '../testing/status.js';

/** The library message behind a 422 (the client sees only the generic message). */
function detail(fn: () => unknown): string {
  const e = catchStatusError(fn);
  expect(e).toBeInstanceOf(PatchApplyError);
  return (e as PatchApplyError).detail;
}

const doc = () => ({ metadata: { name: 'web', labels: { app: 'web' } }, spec: { list: [1, 2, 3] } });

describe('applyJsonPatch', () => {
  it('adds a member and replaces an existing one', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'add', path: '/metadata/labels/tier', value: 'front' },
      { op: 'add', path: '/metadata/labels/app', value: 'api' },
    ]);
    expect(out.metadata.labels).toEqual({ app: 'api', tier: 'front' });
  });

  it('inserts into an array at an index and appends with "-"', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'add', path: '/spec/list/1', value: 9 },
      { op: 'add', path: '/spec/list/-', value: 10 },
      { op: 'add', path: '/spec/list/5', value: 11 },
    ]);
    expect(out.spec.list).toEqual([1, 9, 2, 3, 10, 11]);
  });

  it('rejects an add past the end of an array', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'add', path: '/spec/list/4', value: 0 }]))).toBe("error in add for path: '/spec/list/4': Unable to access invalid index: 4: invalid index referenced");
  });

  it('removes members and array items', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'remove', path: '/metadata/labels/app' },
      { op: 'remove', path: '/spec/list/0' },
    ]);
    expect(out).toEqual({ metadata: { name: 'web', labels: {} }, spec: { list: [2, 3] } });
  });

  it('does not change the input document', () => {
    const input = doc();
    applyJsonPatch(input, [{ op: 'remove', path: '/metadata/labels' }]);
    expect(input).toEqual(doc());
  });

  it('reports a missing member on remove as upstream does', () => {
    const e = catchStatusError(() => applyJsonPatch(doc(), [{ op: 'remove', path: '/metadata/labels/nope' }]));
    expect(e.code).toBe(422);
    expect(e.reason).toBe('Invalid');
    expect(e.message).toBe('the server rejected our request due to an error in our request');
    expect(e.toStatus().details).toEqual({});
    expect((e as PatchApplyError).detail).toBe("error in remove for path: '/metadata/labels/nope': Unable to remove nonexistent key: nope: missing value");
  });

  it('reports a missing parent path', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'add', path: '/status/phase', value: 'Running' }]))).toBe('add operation does not apply: doc is missing path: "/status/phase": missing value');
  });

  it('replaces existing values, and creates a missing member as upstream\'s library does', () => {
    expect(applyJsonPatch(doc(), [{ op: 'replace', path: '/spec/list/2', value: 7 }]).spec.list).toEqual([1, 2, 7]);
    const out = applyJsonPatch(doc(), [{ op: 'replace', path: '/metadata/namespace', value: 'x' }]) as unknown as { metadata: { namespace: string } };
    expect(out.metadata.namespace).toBe('x');
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'replace', path: '/spec/list/3', value: 0 }]))).toBe("error in remove for path: '/spec/list/3': Unable to access invalid index: 3: invalid index referenced");
  });

  it('replaces the whole document at the root path', () => {
    expect(applyJsonPatch(doc(), [{ op: 'replace', path: '', value: { a: 1 } }])).toEqual({ a: 1 });
  });

  it('cannot add at the document root, as upstream\'s library', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'add', path: '', value: {} }]))).toBe('add operation does not apply: doc is missing path: "": missing value');
  });

  it('moves and copies values', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'copy', from: '/metadata/labels', path: '/spec/selector' },
      { op: 'move', from: '/metadata/name', path: '/spec/name' },
    ]);
    expect(out).toEqual({ metadata: { labels: { app: 'web' } }, spec: { list: [1, 2, 3], selector: { app: 'web' }, name: 'web' } });
    // the copy is independent of its source
    const typed = out as unknown as { spec: { selector: { app: string } }; metadata: { labels: { app: string } } };
    typed.spec.selector.app = 'other';
    expect(typed.metadata.labels.app).toBe('web');
  });

  it('refuses to move a value into itself', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'move', from: '/metadata', path: '/metadata/labels/x' }])))
      .toBe('move operation does not apply: doc is missing destination path: /metadata/labels/x: missing value');
  });

  it('reports a missing move source as upstream does', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'move', from: '/metadata/nope', path: '/x' }])))
      .toBe("error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value");
  });

  it('passes a test of an equal value, whatever the key order', () => {
    const out = applyJsonPatch({ a: { x: 1, y: [1, { z: 2 }] } }, [{ op: 'test', path: '/a', value: { y: [1, { z: 2 }], x: 1 } }]);
    expect(out).toEqual({ a: { x: 1, y: [1, { z: 2 }] } });
  });

  it('fails a test with 422 and upstream\'s message, applying nothing', () => {
    const e = catchStatusError(() => applyJsonPatch(doc(), [
      { op: 'replace', path: '/metadata/name', value: 'changed' },
      { op: 'test', path: '/metadata/labels/app', value: 'api' },
    ]));
    expect(e.code).toBe(422);
    expect(e.toStatus()).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422,
      message: 'the server rejected our request due to an error in our request', details: {},
    });
    expect((e as PatchApplyError).detail).toBe('testing value /metadata/labels/app failed: test failed');
  });

  it('treats a missing member as equal to null in a test', () => {
    expect(() => applyJsonPatch(doc(), [{ op: 'test', path: '/metadata/namespace', value: null }])).not.toThrow();
    expect(() => applyJsonPatch(doc(), [{ op: 'test', path: '/metadata/namespace', value: 'x' }])).toThrow(StatusError);
  });

  it('decodes ~0 and ~1 in pointers', () => {
    const input = { metadata: { annotations: { 'example.com/a~b': 'x' } } };
    const out = applyJsonPatch(input, [
      { op: 'replace', path: '/metadata/annotations/example.com~1a~0b', value: 'y' },
      { op: 'add', path: `/metadata/annotations/${escapePointerToken('k8s.io/x~')}`, value: 'z' },
    ]);
    expect(out.metadata.annotations).toEqual({ 'example.com/a~b': 'y', 'k8s.io/x~': 'z' });
    expect(parsePointer('/a~01/b~1c')).toEqual(['a~1', 'b/c']);
  });

  it('counts negative indices from the end, as upstream\'s library does', () => {
    expect(applyJsonPatch(doc(), [{ op: 'remove', path: '/spec/list/-1' }]).spec.list).toEqual([1, 2]);
  });

  it('rejects an unknown operation and a body that is not a list', () => {
    expect(detail(() => applyJsonPatch(doc(), [{ op: 'frob', path: '/a' }]))).toBe('Unexpected kind: frob');
    const e = catchStatusError(() => applyJsonPatch(doc(), { op: 'add' }));
    expect(e.code).toBe(400);
  });
});
