// ConfigMaps: keys as upstream's IsConfigMapKey, data and binaryData disjoint and together at
// most 1 MiB, and `immutable: true` freezing both.
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { semanticEqual } from '../../../api/validation/immutable.js';
import { byteLength, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isConfigMapKey, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';
import { base64DecodedLength, illegalBase64, MAX_SECRET_SIZE, validateImmutableData } from './configdata.js';

function validateConfigMap(obj: KubeObject): FieldError[] {
  const cm = as<ConfigMap>(obj);
  const errs = validateObjectMeta(cm.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain);
  const data = cm.data ?? {};
  const binary = cm.binaryData ?? {};
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    const p = FieldPath.root('data').key(key).toString();
    for (const m of isConfigMapKey(key)) errs.push(field.invalid(p, key, m));
    if (key in binary) errs.push(field.invalid(p, key, 'duplicate of key present in binaryData'));
    total += byteLength(typeof value === 'string' ? value : '');
  }
  for (const [key, value] of Object.entries(binary)) {
    const p = FieldPath.root('binaryData').key(key).toString();
    for (const m of isConfigMapKey(key)) errs.push(field.invalid(p, key, m));
    const n = base64DecodedLength(value);
    if (n === undefined) errs.push(field.invalid(p, '<binary>', illegalBase64(value)));
    total += n ?? 0;
  }
  if (total > MAX_SECRET_SIZE) errs.push(field.tooLong('', '', MAX_SECRET_SIZE));
  return errs;
}

export const configmaps: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  listKind: 'ConfigMapList',
  resource: 'configmaps',
  singularName: 'configmap',
  shortNames: ['cm'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.ConfigMap',
  hasStatusSubresource: false,
  tracksGeneration: false,

  validate: validateConfigMap,
  validateUpdate(obj, old) {
    const cm = as<ConfigMap>(obj), oldCm = as<ConfigMap>(old);
    return [
      ...validateObjectMetaUpdate(cm.metadata, oldCm.metadata),
      ...validateImmutableData(cm.immutable, oldCm.immutable, [
        { name: 'data', same: semanticEqual(cm.data, oldCm.data) },
        { name: 'binaryData', same: semanticEqual(cm.binaryData, oldCm.binaryData) },
      ]),
      ...validateConfigMap(obj).filter(e => !e.field.startsWith('metadata.')),
    ];
  },

  tableColumns: [
    nameColumn(),
    column('Data', 'string', 'Data contains the configuration data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const cm = as<ConfigMap>(obj);
    const n = Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length;
    return [cm.metadata?.name ?? '', n, translateTimestampSince(cm.metadata?.creationTimestamp, now)];
  },
};
