// PersistentVolumeClaims and PersistentVolumes: enough of upstream's storage API for workloads
// (StatefulSet volumeClaimTemplates, manifests with PVCs) to be accepted, listed and bound by a
// controller. Validation covers the common fields; printers follow `kubectl get pvc/pv`.
import type { PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { compareQuantities, formatQuantity, tryParseQuantity } from '../../../api/quantity.js';
import { semanticEqual } from '../../../api/validation/immutable.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isDNS1123Subdomain, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as, ensureRecord, keepOldStatus } from './common.js';
import { validateResourceQuantityValue } from './podspec.js';

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const VOLUME_MODES = ['Block', 'Filesystem'];
const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
const BETA_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';
const PV_SOURCES = [
  'gcePersistentDisk', 'awsElasticBlockStore', 'hostPath', 'glusterfs', 'nfs', 'rbd', 'quobyte', 'cinder', 'cephfs',
  'iscsi', 'fc', 'flocker', 'flexVolume', 'azureFile', 'vsphereVolume', 'azureDisk', 'photonPersistentDisk',
  'portworxVolume', 'scaleIO', 'local', 'storageos', 'csi',
] as const;

/** Upstream's GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order. */
export function accessModesString(modes: readonly string[] | undefined): string {
  const set = new Set(modes ?? []);
  const out: string[] = [];
  if (set.has('ReadWriteOnce')) out.push('RWO');
  if (set.has('ReadOnlyMany')) out.push('ROX');
  if (set.has('ReadWriteMany')) out.push('RWX');
  if (set.has('ReadWriteOncePod')) out.push('RWOP');
  return out.join(',');
}

function classOf(meta: { annotations?: Record<string, string> } | undefined, name: string | undefined): string {
  return meta?.annotations?.[BETA_CLASS_ANNOTATION] ?? name ?? '';
}

function quantityString(raw: unknown): string {
  const q = tryParseQuantity(raw as string | number);
  return q ? formatQuantity(q) : '0';
}

function validateAccessModes(modes: string[] | undefined, path: FieldPath, required: string): FieldError[] {
  const errs: FieldError[] = [];
  const list = modes ?? [];
  if (list.length === 0) errs.push(field.required(path.toString(), required));
  let rwop = false, other = false;
  for (const m of list) {
    if (!ACCESS_MODES.includes(m)) errs.push(field.notSupported(path.toString(), m, ACCESS_MODES));
    if (m === 'ReadWriteOncePod') rwop = true; else other = true;
  }
  if (rwop && other) errs.push(field.forbidden(path.toString(), 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validateClassName(name: string | undefined, path: FieldPath): FieldError[] {
  if (!name) return [];
  return isDNS1123Subdomain(name).map(m => field.invalid(path.toString(), name, m));
}

// ---------------------------------------------------------------- claims

export function validateClaimSpec(spec: PersistentVolumeClaimSpec | undefined, path: FieldPath): FieldError[] {
  const s = spec ?? {};
  const errs = validateAccessModes(s.accessModes, path.child('accessModes'), 'at least 1 access mode is required');
  const storagePath = path.child('resources').key('storage');
  const storage = s.resources?.requests?.['storage'];
  if (storage === undefined) {
    errs.push(field.required(storagePath.toString(), ''));
  } else {
    const q = tryParseQuantity(storage as string | number);
    if (q && q.mantissa <= 0n) errs.push(field.invalid(storagePath.toString(), formatQuantity(q), 'must be greater than zero'));
    else errs.push(...validateResourceQuantityValue('storage', storage, storagePath));
  }
  errs.push(...validateClassName(s.storageClassName, path.child('storageClassName')));
  if (s.volumeMode !== undefined && !VOLUME_MODES.includes(s.volumeMode)) errs.push(field.notSupported(path.child('volumeMode').toString(), s.volumeMode, VOLUME_MODES));
  return errs;
}

function validateClaim(obj: KubeObject): FieldError[] {
  const pvc = as<PersistentVolumeClaim>(obj);
  return [
    ...validateObjectMeta(pvc.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain),
    ...validateClaimSpec(pvc.spec, FieldPath.root('spec')),
  ];
}

function validateClaimUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const pvc = as<PersistentVolumeClaim>(obj), oldPvc = as<PersistentVolumeClaim>(old);
  const errs = validateObjectMetaUpdate(pvc.metadata, oldPvc.metadata);
  errs.push(...validateClaim(obj).filter(e => !e.field.startsWith('metadata.')));
  const n: PersistentVolumeClaimSpec = JSON.parse(JSON.stringify(pvc.spec ?? {})) as PersistentVolumeClaimSpec;
  const o: PersistentVolumeClaimSpec = JSON.parse(JSON.stringify(oldPvc.spec ?? {})) as PersistentVolumeClaimSpec;
  // volumeName may be set once (binding); storage requests may grow; the attributes class may change.
  // A claim created without a class may get one later (upstream's retroactive default StorageClass).
  if (o.storageClassName === undefined && !o.volumeName && n.storageClassName !== undefined) o.storageClassName = n.storageClassName;
  if (!o.volumeName && n.volumeName !== undefined) o.volumeName = n.volumeName;
  const strip = (s: PersistentVolumeClaimSpec) => {
    if (s.resources?.requests) delete s.resources.requests['storage'];
    delete s.volumeAttributesClassName;
    return s;
  };
  if (!semanticEqual(strip(n), strip(o))) {
    errs.push(field.forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  }
  const newSize = tryParseQuantity((pvc.spec?.resources?.requests?.['storage'] ?? '0') as string | number);
  const oldSize = tryParseQuantity((oldPvc.spec?.resources?.requests?.['storage'] ?? '0') as string | number);
  if (newSize && oldSize && compareQuantities(newSize, oldSize) < 0) {
    errs.push(field.forbidden('spec.resources.requests.storage', 'field can not be less than previous value'));
  }
  return errs;
}

export const persistentvolumeclaims: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  listKind: 'PersistentVolumeClaimList',
  resource: 'persistentvolumeclaims',
  singularName: 'persistentvolumeclaim',
  shortNames: ['pvc'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: ['status'],
  schemaName: 'io.k8s.api.core.v1.PersistentVolumeClaim',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults(obj) {
    const spec = ensureRecord(obj, 'spec');
    spec['volumeMode'] ||= 'Filesystem';
    const status = ensureRecord(obj, 'status');
    status['phase'] ||= 'Pending';
  },
  prepareForCreate(obj) {
    obj['status'] = { phase: 'Pending' };
  },
  prepareForUpdate: keepOldStatus,
  validate: validateClaim,
  validateUpdate: validateClaimUpdate,
  validateStatusUpdate: (obj, old) => validateObjectMetaUpdate(as<PersistentVolumeClaim>(obj).metadata, as<PersistentVolumeClaim>(old).metadata),

  tableColumns: [
    nameColumn(),
    column('Status', 'string', 'phase represents the current phase of PersistentVolumeClaim.'),
    column('Volume', 'string', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
    column('Capacity', 'string', 'capacity represents the actual resources of the underlying volume.'),
    column('Access Modes', 'string', 'accessModes contains the actual access modes the volume backing the PVC has.'),
    column('StorageClass', 'string', 'StorageClass of the pvc'),
    column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
    ageColumn(),
    column('VolumeMode', 'string', 'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.', 1),
  ],
  tableRow(obj, now) {
    const pvc = as<PersistentVolumeClaim>(obj);
    const spec = pvc.spec ?? {};
    const phase = pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? '');
    let capacity = '', modes = '';
    if (spec.volumeName) {
      modes = accessModesString(pvc.status?.accessModes);
      capacity = quantityString(pvc.status?.capacity?.['storage']);
    }
    return [
      pvc.metadata?.name ?? '', phase, spec.volumeName ?? '', capacity, modes, classOf(pvc.metadata, spec.storageClassName),
      spec.volumeAttributesClassName ?? '<unset>', translateTimestampSince(pvc.metadata?.creationTimestamp, now), spec.volumeMode ?? '<unset>',
    ];
  },
};

// ---------------------------------------------------------------- volumes

function validatePVSpec(spec: PersistentVolumeSpec | undefined, path: FieldPath): FieldError[] {
  const s = spec ?? {};
  const errs = validateAccessModes(s.accessModes, path.child('accessModes'), 'must specify at least 1 access mode');
  const capacity = s.capacity ?? {};
  if (Object.keys(capacity).length === 0) errs.push(field.required(path.child('capacity').toString(), ''));
  for (const [name, q] of Object.entries(capacity)) {
    if (name !== 'storage') errs.push(field.notSupported(path.child('capacity').key(name).toString(), name, ['storage']));
    else errs.push(...validateResourceQuantityValue(name, q, path.child('capacity').key(name)));
  }
  const rec = s as unknown as Record<string, unknown>;
  let n = 0;
  for (const src of PV_SOURCES) {
    if (rec[src] === undefined || rec[src] === null) continue;
    if (n > 0) errs.push(field.forbidden(path.child(src).toString(), 'may not specify more than 1 volume type'));
    n++;
    if (src === 'hostPath' && !s.hostPath?.path) errs.push(field.required(path.child('hostPath').child('path').toString(), ''));
    if (src === 'local' && !s.local?.path) errs.push(field.required(path.child('local').child('path').toString(), ''));
  }
  if (n === 0) errs.push(field.required(path.toString(), 'must specify a volume type'));
  const rp = s.persistentVolumeReclaimPolicy;
  if (rp !== undefined && !RECLAIM_POLICIES.includes(rp)) errs.push(field.notSupported(path.child('persistentVolumeReclaimPolicy').toString(), rp, RECLAIM_POLICIES));
  errs.push(...validateClassName(s.storageClassName, path.child('storageClassName')));
  if (s.volumeMode !== undefined && !VOLUME_MODES.includes(s.volumeMode)) errs.push(field.notSupported(path.child('volumeMode').toString(), s.volumeMode, VOLUME_MODES));
  return errs;
}

function validatePV(obj: KubeObject): FieldError[] {
  const pv = as<PersistentVolume>(obj);
  return [...validateObjectMeta(pv.metadata, false, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validatePVSpec(pv.spec, FieldPath.root('spec'))];
}

function validatePVUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const pv = as<PersistentVolume>(obj), oldPv = as<PersistentVolume>(old);
  const errs = [...validateObjectMetaUpdate(pv.metadata, oldPv.metadata), ...validatePV(obj).filter(e => !e.field.startsWith('metadata.'))];
  const sourceOf = (s: PersistentVolumeSpec | undefined) => Object.fromEntries(PV_SOURCES.map(k => [k, (s as unknown as Record<string, unknown> | undefined)?.[k]]));
  if (!semanticEqual(sourceOf(pv.spec), sourceOf(oldPv.spec))) {
    errs.push(field.forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
  }
  if ((pv.spec?.volumeMode ?? '') !== (oldPv.spec?.volumeMode ?? '')) {
    errs.push(field.invalid('spec.volumeMode', pv.spec?.volumeMode ?? '', 'field is immutable'));
  }
  return errs;
}

export const persistentvolumes: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  listKind: 'PersistentVolumeList',
  resource: 'persistentvolumes',
  singularName: 'persistentvolume',
  shortNames: ['pv'],
  namespaced: false,
  verbs: ALL_VERBS,
  subresources: ['status'],
  schemaName: 'io.k8s.api.core.v1.PersistentVolume',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults(obj) {
    const spec = ensureRecord(obj, 'spec');
    spec['persistentVolumeReclaimPolicy'] ||= 'Retain';
    spec['volumeMode'] ||= 'Filesystem';
    if (spec['hostPath'] && typeof spec['hostPath'] === 'object') (spec['hostPath'] as Record<string, unknown>)['type'] ??= '';
    const status = ensureRecord(obj, 'status');
    status['phase'] ||= 'Pending';
  },
  prepareForCreate(obj) {
    obj['status'] = { phase: 'Pending' };
  },
  prepareForUpdate: keepOldStatus,
  validate: validatePV,
  validateUpdate: validatePVUpdate,
  validateStatusUpdate: (obj, old) => validateObjectMetaUpdate(as<PersistentVolume>(obj).metadata, as<PersistentVolume>(old).metadata),

  tableColumns: [
    nameColumn(),
    column('Capacity', 'string', 'capacity is the description of the persistent volume\'s resources and capacity.'),
    column('Access Modes', 'string', 'accessModes contains all ways the volume can be mounted.'),
    column('Reclaim Policy', 'string', 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.'),
    column('Status', 'string', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
    column('Claim', 'string', 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.'),
    column('StorageClass', 'string', 'StorageClass of the pv'),
    column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
    column('Reason', 'string', 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
    ageColumn(),
    column('VolumeMode', 'string', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.', 1),
  ],
  tableRow(obj, now) {
    const pv = as<PersistentVolume>(obj);
    const spec = pv.spec ?? {};
    const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : '';
    const phase = pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '');
    return [
      pv.metadata?.name ?? '', quantityString(spec.capacity?.['storage']), accessModesString(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? '', phase, claim, classOf(pv.metadata, spec.storageClassName),
      spec.volumeAttributesClassName ?? '<unset>', pv.status?.reason ?? '', translateTimestampSince(pv.metadata?.creationTimestamp, now),
      spec.volumeMode ?? '<unset>',
    ];
  },
};
