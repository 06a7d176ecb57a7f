// storage.k8s.io/v1 StorageClass (cluster-scoped): reclaimPolicy Delete and volumeBindingMode
// Immediate by default; provisioner, parameters, reclaimPolicy and volumeBindingMode fixed after
// creation, as upstream's ValidateStorageClassUpdate; the default class is marked ` (default)` in
// the NAME cell, as kubectl shows it.
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { semanticEqual, validateImmutableField } from '../../../api/validation/immutable.js';
import { byteLength, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isQualifiedName, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';

const asClass = (obj: KubeObject): StorageClass => obj as unknown as StorageClass;
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
const BETA_DEFAULT_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';
const RECLAIM_POLICIES = ['Delete', 'Retain'];
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];
const MAX_PARAMETERS = 512;
const MAX_PARAMETERS_SIZE = 256 * 1024;

export function applyStorageClassDefaults(obj: KubeObject): void {
  const sc = obj as { reclaimPolicy?: string; volumeBindingMode?: string };
  sc.reclaimPolicy ??= 'Delete';
  sc.volumeBindingMode ??= 'Immediate';
}

function validateStorageClass(obj: KubeObject): FieldError[] {
  const sc = asClass(obj);
  const errs = [...validateObjectMeta(sc.metadata, false, FieldPath.root('metadata'), nameIsDNSSubdomain)];
  const prov = sc.provisioner ?? '';
  if (prov === '') errs.push(field.required('provisioner', prov));
  else errs.push(...isQualifiedName(prov.toLowerCase()).map(m => field.invalid('provisioner', prov.toLowerCase(), m)));
  const params = sc.parameters ?? {};
  const keys = Object.keys(params);
  if (keys.length > MAX_PARAMETERS) errs.push(field.tooLong('parameters', '', MAX_PARAMETERS));
  let total = 0;
  for (const k of keys) {
    if (k.length < 1) errs.push(field.invalid('parameters', k, 'field can not be empty.'));
    total += byteLength(k) + byteLength(params[k] ?? '');
  }
  if (total > MAX_PARAMETERS_SIZE) errs.push(field.tooLong('parameters', '', MAX_PARAMETERS_SIZE));
  if (sc.reclaimPolicy && !RECLAIM_POLICIES.includes(sc.reclaimPolicy)) errs.push(field.notSupported('reclaimPolicy', sc.reclaimPolicy, RECLAIM_POLICIES));
  if (sc.volumeBindingMode === undefined) errs.push(field.required('volumeBindingMode'));
  else if (!BINDING_MODES.includes(sc.volumeBindingMode)) errs.push(field.notSupported('volumeBindingMode', sc.volumeBindingMode, BINDING_MODES));
  return errs;
}

function validateStorageClassUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const sc = asClass(obj), o = asClass(old);
  const errs = [...validateObjectMetaUpdate(sc.metadata, o.metadata)];
  if (!semanticEqual(sc.parameters, o.parameters)) errs.push(field.forbidden('parameters', 'updates to parameters are forbidden.'));
  if (sc.provisioner !== o.provisioner) errs.push(field.forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if ((sc.reclaimPolicy ?? '') !== (o.reclaimPolicy ?? '')) errs.push(field.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  errs.push(...validateImmutableField(sc.volumeBindingMode, o.volumeBindingMode, 'volumeBindingMode'));
  return errs;
}

export function isDefaultClass(obj: KubeObject): boolean {
  const a = obj.metadata?.annotations ?? {};
  return a[DEFAULT_CLASS_ANNOTATION] === 'true' || a[BETA_DEFAULT_CLASS_ANNOTATION] === 'true';
}

export const storageclasses: ResourceDef = {
  group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass', listKind: 'StorageClassList',
  resource: 'storageclasses', singularName: 'storageclass', shortNames: ['sc'],
  namespaced: false,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: [],
  schemaName: 'io.k8s.api.storage.v1.StorageClass',
  hasStatusSubresource: false,
  tracksGeneration: false,
  applyDefaults: obj => applyStorageClassDefaults(obj),
  validate: obj => validateStorageClass(obj),
  validateUpdate: (obj, old) => validateStorageClassUpdate(obj, old),
  tableColumns: [
    nameColumn(),
    column('Provisioner', 'string', 'provisioner indicates the type of the provisioner.'),
    column('ReclaimPolicy', 'string', 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.'),
    column('VolumeBindingMode', 'string', 'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.'),
    column('AllowVolumeExpansion', 'string', 'allowVolumeExpansion shows whether the storage class allow volume expand.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const sc = asClass(obj);
    const name = (sc.metadata?.name ?? '') + (isDefaultClass(obj) ? ' (default)' : '');
    return [name, sc.provisioner ?? '', sc.reclaimPolicy ?? 'Delete', sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion ?? false, ageOf(sc, now)];
  },
};
