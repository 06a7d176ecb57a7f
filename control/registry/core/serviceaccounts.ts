// ServiceAccounts: names as DNS subdomains; `kubectl get sa` shows NAME SECRETS AGE.
import type { ServiceAccount } from 'kubernetes-types/core/v1.js';
import { FieldPath } from '../../../api/errors.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';

export const serviceaccounts: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  listKind: 'ServiceAccountList',
  resource: 'serviceaccounts',
  singularName: 'serviceaccount',
  shortNames: ['sa'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.ServiceAccount',
  hasStatusSubresource: false,
  tracksGeneration: false,

  validate: obj => validateObjectMeta(as<ServiceAccount>(obj).metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain),
  validateUpdate: (obj, old) => [
    ...validateObjectMetaUpdate(as<ServiceAccount>(obj).metadata, as<ServiceAccount>(old).metadata),
    ...validateObjectMeta(as<ServiceAccount>(obj).metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain),
  ],

  tableColumns: [
    nameColumn(),
    column('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const sa = as<ServiceAccount>(obj);
    return [sa.metadata?.name ?? '', (sa.secrets ?? []).length, translateTimestampSince(sa.metadata?.creationTimestamp, now)];
  },
};
