import type { FieldError } from '../errors.js';
import { validateAnnotations, validateObjectMeta, validateObjectMetaUpdate, validateResourceVersionForUpdate } from './meta.js';
import { nameIsDNSSubdomain } from './names.js';

const msgs = (errs: FieldError[]) => errs.map(e => e.message());

describe('validateObjectMeta', () => {
  it('accepts a plain namespaced object', () => {
    expect(validateObjectMeta({ name: 'a', namespace: 'default' }, true)).toEqual([]);
  });

  it('requires a name or generateName', () => {
    expect(msgs(validateObjectMeta({ namespace: 'default' }, true))).toEqual(['metadata.name: Required value: name or generateName is required']);
  });

  it('checks name and generateName against the given validator', () => {
    const errs = validateObjectMeta({ name: 'A.b', generateName: 'x_', namespace: 'ns' }, true, undefined, nameIsDNSSubdomain);
    expect(errs.map(e => [e.type, e.field, e.value])).toEqual([
      ['FieldValueInvalid', 'metadata.generateName', 'x_'],
      ['FieldValueInvalid', 'metadata.name', 'A.b'],
    ]);
  });

  it('requires the namespace of namespaced kinds and forbids it otherwise', () => {
    expect(msgs(validateObjectMeta({ name: 'a' }, true))).toEqual(['metadata.namespace: Required value']);
    expect(msgs(validateObjectMeta({ name: 'a', namespace: 'x' }, false))).toEqual(['metadata.namespace: Forbidden: not allowed on this type']);
    expect(validateObjectMeta({ name: 'a', namespace: 'Bad' }, true)[0]!.field).toBe('metadata.namespace');
  });

  it('reports label key and value errors on metadata.labels', () => {
    const errs = validateObjectMeta({ name: 'a', namespace: 'n', labels: { 'bad key': 'ok', ok: 'bad value' } }, true);
    expect(errs.map(e => [e.field, e.value])).toEqual([['metadata.labels', 'bad key'], ['metadata.labels', 'bad value']]);
  });

  it('limits annotations to 256 KiB in total', () => {
    const ok = { a: 'x'.repeat(256 * 1024 - 1) };
    expect(validateAnnotations(ok, 'metadata.annotations')).toEqual([]);
    const big = { a: 'x'.repeat(256 * 1024) };
    expect(msgs(validateAnnotations(big, 'metadata.annotations'))).toEqual(['metadata.annotations: Too long: may not be more than 262144 bytes']);
    expect(validateAnnotations({ 'a/b/c': '' }, 'metadata.annotations')[0]!.field).toBe('metadata.annotations');
  });

  it('validates finalizers: qualified, standard or prefixed, not orphan with foreground', () => {
    const errs = validateObjectMeta({ name: 'a', finalizers: ['kubernetes', 'example.com/x', 'custom', 'orphan', 'foregroundDeletion'] }, false);
    expect(msgs(errs)).toEqual([
      'metadata.finalizers[2]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
      'metadata.finalizers: Invalid value: ["kubernetes","example.com/x","custom","orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set',
    ]);
  });

  it('validates owner references and a single controller', () => {
    const errs = validateObjectMeta({
      name: 'a', namespace: 'n', ownerReferences: [
        { apiVersion: '', kind: '', name: '', uid: '' },
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r1', uid: 'u1', controller: true },
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r2', uid: 'u2', controller: true },
        { apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u3' },
      ],
    }, true);
    expect(errs.map(e => e.field)).toEqual([
      'metadata.ownerReferences.apiVersion', 'metadata.ownerReferences.kind', 'metadata.ownerReferences.name',
      'metadata.ownerReferences.uid', 'metadata.ownerReferences', 'metadata.ownerReferences',
    ]);
    expect(errs[0]!.message()).toBe('metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty');
    expect(errs[4]!.detail).toBe('Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/r1 and ReplicaSet/r2');
    expect(errs[5]!.detail).toBe('/v1, Kind=Event is disallowed from being an owner');
  });

  it('rejects a negative generation', () => {
    expect(msgs(validateObjectMeta({ name: 'a', generation: -1 }, false))).toEqual(['metadata.generation: Invalid value: -1: must be greater than or equal to 0']);
  });
});

describe('validateObjectMetaUpdate', () => {
  const old = { name: 'a', namespace: 'n', uid: 'u', creationTimestamp: '2024-01-01T00:00:00Z', generation: 2 };

  it('accepts label changes', () => {
    expect(validateObjectMetaUpdate({ ...old, labels: { a: 'b' } }, old)).toEqual([]);
  });

  it('keeps identity fields immutable', () => {
    const errs = validateObjectMetaUpdate({ name: 'b', namespace: 'm', uid: 'v', creationTimestamp: '2025-01-01T00:00:00Z', generation: 2 }, old);
    expect(msgs(errs)).toEqual([
      'metadata.name: Invalid value: "b": field is immutable',
      'metadata.namespace: Invalid value: "m": field is immutable',
      'metadata.uid: Invalid value: "v": field is immutable',
      'metadata.creationTimestamp: Invalid value: "2025-01-01T00:00:00Z": field is immutable',
    ]);
  });

  it('does not let generation go down', () => {
    expect(msgs(validateObjectMetaUpdate({ ...old, generation: 1 }, old))).toEqual(['metadata.generation: Invalid value: 1: must not be decremented']);
  });

  it('forbids new finalizers once deletion started', () => {
    const deleting = { ...old, deletionTimestamp: '2024-02-01T00:00:00Z', finalizers: ['kubernetes'] };
    expect(msgs(validateObjectMetaUpdate({ ...deleting, finalizers: ['kubernetes', 'b.io/y', 'a.io/x'] }, deleting))).toEqual([
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"a.io/x", "b.io/y"}',
    ]);
    expect(validateObjectMetaUpdate({ ...deleting, finalizers: [] }, deleting)).toEqual([]);
  });
});

describe('validateResourceVersionForUpdate', () => {
  it('requires a resourceVersion', () => {
    expect(validateResourceVersionForUpdate({ resourceVersion: '5' })).toEqual([]);
    expect(msgs(validateResourceVersionForUpdate({}))).toEqual(['metadata.resourceVersion: Invalid value: "": must be specified for an update']);
  });
});
