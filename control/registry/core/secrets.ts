// Secrets: type Opaque by default and immutable afterwards, `stringData` folded into `data` as
// the v1 conversion does, base64 values with valid keys at most 1 MiB in total, and the
// required keys of the well-known types.
import type { Secret } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { semanticEqual, validateImmutableField } from '../../../api/validation/immutable.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isConfigMapKey, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';
import { base64DecodedLength, illegalBase64, MAX_SECRET_SIZE, validateImmutableData } from './configdata.js';

export const SERVICE_ACCOUNT_NAME_KEY = 'kubernetes.io/service-account.name';

function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function validateSecret(obj: KubeObject): FieldError[] {
  const secret = as<Secret>(obj);
  const errs = validateObjectMeta(secret.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain);
  const dataPath = FieldPath.root('data');
  const data = secret.data ?? {};
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    const p = dataPath.key(key).toString();
    for (const m of isConfigMapKey(key)) errs.push(field.invalid(p, key, m));
    const n = base64DecodedLength(typeof value === 'string' ? value : '');
    if (n === undefined) errs.push(field.invalid(p, '<secret contents redacted>', illegalBase64(String(value))));
    total += n ?? 0;
  }
  if (total > MAX_SECRET_SIZE) errs.push(field.tooLong(dataPath.toString(), '', MAX_SECRET_SIZE));

  const has = (k: string) => Object.prototype.hasOwnProperty.call(data, k);
  switch (secret.type) {
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata?.annotations?.[SERVICE_ACCOUNT_NAME_KEY]) {
        errs.push(field.required(FieldPath.root('metadata').child('annotations').key(SERVICE_ACCOUNT_NAME_KEY).toString(), ''));
      }
      break;
    case 'kubernetes.io/dockercfg':
      if (!has('.dockercfg')) errs.push(field.required(dataPath.key('.dockercfg').toString(), ''));
      break;
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) errs.push(field.required(dataPath.key('.dockerconfigjson').toString(), ''));
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) {
        errs.push(field.required(dataPath.key('username').toString(), ''));
        errs.push(field.required(dataPath.key('password').toString(), ''));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) errs.push(field.required(dataPath.key('ssh-privatekey').toString(), ''));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) errs.push(field.required(dataPath.key('tls.crt').toString(), ''));
      if (!has('tls.key')) errs.push(field.required(dataPath.key('tls.key').toString(), ''));
      break;
    default:
      break;
  }
  return errs;
}

export const secrets: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  resource: 'secrets',
  singularName: 'secret',
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.Secret',
  hasStatusSubresource: false,
  tracksGeneration: false,

  applyDefaults(obj) {
    if (!obj['type']) obj['type'] = 'Opaque';
    const stringData = obj['stringData'] as Record<string, string> | undefined;
    if (stringData && typeof stringData === 'object') {
      const data = { ...((obj['data'] as Record<string, string> | undefined) ?? {}) };
      for (const [k, v] of Object.entries(stringData)) data[k] = toBase64(String(v));
      obj['data'] = data;
      delete obj['stringData'];
    }
  },
  validate: validateSecret,
  validateUpdate(obj, old) {
    const s = as<Secret>(obj), o = as<Secret>(old);
    return [
      ...validateObjectMetaUpdate(s.metadata, o.metadata),
      ...validateImmutableField(s.type, o.type, 'type'),
      ...validateImmutableData(s.immutable, o.immutable, [{ name: 'data', same: semanticEqual(s.data, o.data) }]),
      ...validateSecret(obj).filter(e => !e.field.startsWith('metadata.') || e.field.startsWith('metadata.annotations[')),
    ];
  },

  tableColumns: [
    nameColumn(),
    column('Type', 'string', 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types'),
    column('Data', 'string', 'Data contains the secret data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const s = as<Secret>(obj);
    return [s.metadata?.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, translateTimestampSince(s.metadata?.creationTimestamp, now)];
  },
  fieldSelectorAttributes: obj => ({ type: as<Secret>(obj).type ?? '' }),
};
