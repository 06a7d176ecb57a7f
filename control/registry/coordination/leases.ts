// coordination.k8s.io/v1 Lease: node heartbeats (kube-node-lease) and leader election. No status,
// no defaults; validation as upstream's ValidateLeaseSpec; columns HOLDER and AGE.
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';

const asLease = (obj: KubeObject): Lease => obj as unknown as Lease;
const STRATEGIES = ['OldestEmulationVersion'];

export function validateLeaseSpec(s: LeaseSpec | undefined, path: FieldPath = FieldPath.root('spec')): FieldError[] {
  const errs: FieldError[] = [];
  if (s?.leaseDurationSeconds !== undefined && s.leaseDurationSeconds <= 0) {
    errs.push(field.invalid(path.child('leaseDurationSeconds').toString(), s.leaseDurationSeconds, 'must be greater than 0'));
  }
  if (s?.leaseTransitions !== undefined) errs.push(...validateNonnegativeField(s.leaseTransitions, path.child('leaseTransitions')));
  const strategy = (s as { strategy?: string } | undefined)?.strategy;
  if (strategy !== undefined && strategy !== '' && !STRATEGIES.includes(strategy)) {
    errs.push(field.notSupported(path.child('strategy').toString(), strategy, STRATEGIES));
  }
  const preferred = (s as { preferredHolder?: string } | undefined)?.preferredHolder;
  if (preferred && !strategy) errs.push(field.forbidden(path.child('preferredHolder').toString(), 'may only be specified if `strategy` is defined'));
  return errs;
}

export const leases: ResourceDef = {
  group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', listKind: 'LeaseList',
  resource: 'leases', singularName: 'lease',
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: [],
  schemaName: 'io.k8s.api.coordination.v1.Lease',
  hasStatusSubresource: false,
  tracksGeneration: false,
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateLeaseSpec(asLease(obj).spec)],
  validateUpdate: (obj, old) => [...validateObjectMetaUpdate(obj.metadata, old.metadata), ...validateLeaseSpec(asLease(obj).spec)],
  tableColumns: [
    nameColumn(),
    column('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'),
    ageColumn(),
  ],
  tableRow: (obj, now) => [obj.metadata?.name ?? '', asLease(obj).spec?.holderIdentity ?? '', ageOf(obj, now)],
};
