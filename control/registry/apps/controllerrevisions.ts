// apps/v1 ControllerRevision: an immutable snapshot written by the DaemonSet and StatefulSet
// controllers. Validation as upstream (data required, revision non-negative, data immutable);
// the CONTROLLER column names the owner as `kind.group/name`.
import type { ControllerRevision } from 'kubernetes-types/apps/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import { parseApiVersion, type KubeObject } from '../../../api/object.js';
import { validateImmutableField } from '../../../api/validation/immutable.js';
import { validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';

const asRevision = (obj: KubeObject): ControllerRevision => obj as unknown as ControllerRevision;

function validateRevision(obj: KubeObject): FieldError[] {
  const r = asRevision(obj);
  const errs = [...validateObjectMeta(r.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain)];
  if (r.data === undefined || r.data === null) errs.push(field.required('data', 'data is mandatory'));
  errs.push(...validateNonnegativeField(r.revision ?? 0, 'revision'));
  return errs;
}

/** `daemonset.apps/name` for the controlling owner, `<none>` without one (upstream's formatResourceName). */
export function controllerName(obj: KubeObject): string {
  const ref = (obj.metadata?.ownerReferences ?? []).find(o => o.controller === true);
  if (!ref) return '<none>';
  const { group } = parseApiVersion(ref.apiVersion ?? '');
  const kind = group ? `${ref.kind}.${group}` : ref.kind;
  return kind ? `${kind.toLowerCase()}/${ref.name}` : ref.name;
}

export const controllerrevisions: ResourceDef = {
  group: 'apps', version: 'v1', kind: 'ControllerRevision', listKind: 'ControllerRevisionList',
  resource: 'controllerrevisions', singularName: 'controllerrevision',
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: [],
  schemaName: 'io.k8s.api.apps.v1.ControllerRevision',
  hasStatusSubresource: false,
  tracksGeneration: false,
  validate: obj => validateRevision(obj),
  validateUpdate: (obj, old) => [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...validateRevision(obj),
    ...validateImmutableField(asRevision(obj).data, asRevision(old).data, 'data'),
  ],
  tableColumns: [
    nameColumn(),
    column('Controller', 'string', 'Controller of the object'),
    column('Revision', 'string', 'Revision indicates the revision of the state represented by Data.'),
    ageColumn(),
  ],
  tableRow: (obj, now) => [obj.metadata?.name ?? '', controllerName(obj), asRevision(obj).revision ?? 0, ageOf(obj, now)],
};
