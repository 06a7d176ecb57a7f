// `meta.k8s.io/v1 Table` responses, which `kubectl get` asks for: the resource's columns from its
// ResourceDef and one row per object, each carrying the object's metadata (or the whole object
// with includeObject=Object), as upstream's TableConvertor does.
import type { KubeObject } from '../../api/object.js';
import type { ResourceDef } from '../registry/types.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function tableFor(def: ResourceDef, objects: KubeObject[], include: IncludeObject, now: Date, version: 'v1' | 'v1beta1', listMeta: object = {}): object {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: listMeta,
    columnDefinitions: def.tableColumns,
    rows: objects.map(obj => rowFor(def, obj, include, now)),
  };
}

function rowFor(def: ResourceDef, obj: KubeObject, include: IncludeObject, now: Date): object {
  const row: { cells: unknown[]; object?: object } = { cells: def.tableRow(obj, now) };
  if (include === 'Object') row.object = obj;
  else if (include === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  return row;
}
