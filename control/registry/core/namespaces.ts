// Namespaces: cluster-scoped, phase Active on create, the `kubernetes` finalizer that the
// namespace controller removes through `/finalize`, and the automatic
// `kubernetes.io/metadata.name` label. The main resource may change neither spec.finalizers nor
// status; `/status` only status; `/finalize` only spec.finalizers (prepareForFinalize).
import type { Namespace } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isQualifiedName, nameIsDNSLabel } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { as, ensureRecord, keepOldStatus } from './common.js';

export const METADATA_NAME_LABEL = 'kubernetes.io/metadata.name';
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

/** Upstream reports create-time finalizer errors on `spec.finalizers`, finalize-time ones per index. */
function validateSpecFinalizers(ns: Namespace, indexed: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const path = FieldPath.root('spec').child('finalizers');
  (ns.spec?.finalizers ?? []).forEach((f, i) => {
    const p = (indexed ? path.index(i) : path).toString();
    for (const m of isQualifiedName(f)) errs.push(field.invalid(p, f, m));
    if (!f.includes('/') && !STANDARD_FINALIZERS.includes(f)) {
      errs.push(field.invalid(p, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return errs;
}

function validateNamespace(obj: KubeObject): FieldError[] {
  const ns = as<Namespace>(obj);
  return [...validateObjectMeta(ns.metadata, false, FieldPath.root('metadata'), nameIsDNSLabel), ...validateSpecFinalizers(ns, false)];
}

function validateNamespaceUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  return validateObjectMetaUpdate(as<Namespace>(obj).metadata, as<Namespace>(old).metadata);
}

/** Upstream's ValidateNamespaceStatusUpdate: Active while alive, Terminating once deleted. */
export function validateNamespaceStatusUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const ns = as<Namespace>(obj), oldNs = as<Namespace>(old);
  const errs = validateObjectMetaUpdate(ns.metadata, oldNs.metadata);
  const phase = ns.status?.phase ?? '';
  const path = 'status.Phase'; // sic: upstream capitalises it
  if (!ns.metadata?.deletionTimestamp) {
    if (phase !== 'Active') errs.push(field.invalid(path, phase, "may only be 'Active' if `deletionTimestamp` is empty"));
  } else if (phase !== 'Terminating') {
    errs.push(field.invalid(path, phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"));
  }
  return errs;
}

/** For a `/finalize` write: only spec.finalizers may change. */
export function prepareForFinalize(obj: KubeObject, old: KubeObject): void {
  const finalizers = as<Namespace>(obj).spec?.finalizers;
  const spec = JSON.parse(JSON.stringify(old['spec'] ?? {})) as Record<string, unknown>;
  if (finalizers === undefined) delete spec['finalizers'];
  else spec['finalizers'] = finalizers;
  obj['spec'] = spec;
  keepOldStatus(obj, old);
}

/** Upstream's ValidateNamespaceFinalizeUpdate. */
export function validateNamespaceFinalizeUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const ns = as<Namespace>(obj);
  return [...validateObjectMetaUpdate(ns.metadata, as<Namespace>(old).metadata), ...validateSpecFinalizers(ns, true)];
}

export const namespaces: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  resource: 'namespaces',
  singularName: 'namespace',
  shortNames: ['ns'],
  namespaced: false,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: ['status', 'finalize'],
  schemaName: 'io.k8s.api.core.v1.Namespace',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults(obj) {
    const meta = (obj.metadata ??= {});
    if (meta.name) meta.labels = { ...(meta.labels ?? {}), [METADATA_NAME_LABEL]: meta.name };
    const status = ensureRecord(obj, 'status');
    if (!status['phase']) status['phase'] = 'Active';
  },
  prepareForCreate(obj) {
    obj['status'] = { phase: 'Active' };
    const spec = ensureRecord(obj, 'spec');
    const finalizers = Array.isArray(spec['finalizers']) ? (spec['finalizers'] as string[]) : [];
    spec['finalizers'] = finalizers.includes('kubernetes') ? finalizers : [...finalizers, 'kubernetes'];
  },
  prepareForUpdate(obj, old) {
    const spec = ensureRecord(obj, 'spec');
    const oldFinalizers = (old['spec'] as Namespace['spec'])?.finalizers;
    if (oldFinalizers === undefined) delete spec['finalizers'];
    else spec['finalizers'] = oldFinalizers;
    keepOldStatus(obj, old);
  },
  validate: validateNamespace,
  validateUpdate: validateNamespaceUpdate,
  validateStatusUpdate: validateNamespaceStatusUpdate,

  tableColumns: [
    nameColumn(),
    column('Status', 'string', 'The status of the namespace'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const ns = as<Namespace>(obj);
    return [ns.metadata?.name ?? '', ns.status?.phase ?? '', translateTimestampSince(ns.metadata?.creationTimestamp, now)];
  },
  fieldSelectorAttributes: obj => ({ 'status.phase': as<Namespace>(obj).status?.phase ?? '' }),
};
