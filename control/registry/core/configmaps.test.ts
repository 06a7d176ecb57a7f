import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { configmaps } from './configmaps.js';
import { base64DecodedLength } from './configdata.js';
import { secrets } from './secrets.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());
const now = new Date('2024-01-01T00:00:30Z');
const meta = { name: 'cfg', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' };

function cm(extra: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...meta }, ...extra };
}
function secret(extra: Record<string, unknown>): KubeObject {
  const o: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { ...meta }, ...extra };
  secrets.applyDefaults!(o, ctx);
  return o;
}

describe('configmaps', () => {
  it('accepts valid keys and prints DATA', () => {
    const o = cm({ data: { 'a.conf': 'x', B_2: 'y' }, binaryData: { bin: 'AAEC' } });
    expect(configmaps.validate(o, ctx)).toEqual([]);
    expect(configmaps.tableColumns.map(c => c.name)).toEqual(['Name', 'Data', 'Age']);
    expect(configmaps.tableRow(o, now)).toEqual(['cfg', 3, '30s']);
  });

  it('rejects bad keys, keys in both maps and bad base64', () => {
    expect(msgs(configmaps.validate(cm({ data: { 'a/b': 'x', k: 'v' }, binaryData: { k: 'AA', z: '!!' } }), ctx))).toEqual([
      "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      'data[k]: Invalid value: "k": duplicate of key present in binaryData',
      'binaryData[k]: Invalid value: "<binary>": illegal base64 data at input byte 0',
      'binaryData[z]: Invalid value: "<binary>": illegal base64 data at input byte 0',
    ]);
  });

  it('limits data to 1 MiB', () => {
    expect(configmaps.validate(cm({ data: { a: 'x'.repeat(1024 * 1024) } }), ctx)).toEqual([]);
    expect(msgs(configmaps.validate(cm({ data: { a: 'x'.repeat(1024 * 1024), b: 'y' } }), ctx))).toEqual([': Too long: may not be more than 1048576 bytes']);
  });

  it('freezes immutable configmaps', () => {
    const old = cm({ data: { a: '1' }, immutable: true });
    const upd = deepCopy(old);
    (upd['data'] as Record<string, string>)['a'] = '2';
    upd['immutable'] = false;
    expect(msgs(configmaps.validateUpdate(upd, old, ctx))).toEqual([
      'immutable: Forbidden: field is immutable when `immutable` is set',
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
    const mutable = cm({ data: { a: '1' } });
    const changed = deepCopy(mutable);
    changed['data'] = { a: '2' };
    changed['immutable'] = true;
    expect(configmaps.validateUpdate(changed, mutable, ctx)).toEqual([]);
  });

  it('computes decoded base64 lengths', () => {
    expect(base64DecodedLength('')).toBe(0);
    expect(base64DecodedLength('YQ==')).toBe(1);
    expect(base64DecodedLength('YWI=')).toBe(2);
    expect(base64DecodedLength('YWJj')).toBe(3);
    expect(base64DecodedLength('YWJ')).toBeUndefined();
  });
});

describe('secrets', () => {
  it('defaults type Opaque and folds stringData into data', () => {
    const o = secret({ data: { a: 'MQ==' }, stringData: { b: 'two', a: 'one' } });
    expect(o['type']).toBe('Opaque');
    expect(o['data']).toEqual({ a: 'b25l', b: 'dHdv' });
    expect(o['stringData']).toBeUndefined();
    expect(secrets.validate(o, ctx)).toEqual([]);
  });

  it('validates keys, base64 and size', () => {
    expect(msgs(secrets.validate(secret({ data: { 'bad key': 'MQ==', ok: 'not base64!' } }), ctx))).toEqual([
      "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      'data[ok]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3',
    ]);
    const big = 'A'.repeat((Math.ceil(1024 * 1024 / 3) + 1) * 4);
    expect(msgs(secrets.validate(secret({ data: { a: big } }), ctx))).toEqual(['data: Too long: may not be more than 1048576 bytes']);
  });

  it('requires the keys of well-known types', () => {
    expect(msgs(secrets.validate(secret({ type: 'kubernetes.io/tls', data: {} }), ctx))).toEqual(['data[tls.crt]: Required value', 'data[tls.key]: Required value']);
    expect(msgs(secrets.validate(secret({ type: 'kubernetes.io/basic-auth' }), ctx))).toEqual(['data[username]: Required value', 'data[password]: Required value']);
    expect(msgs(secrets.validate(secret({ type: 'kubernetes.io/dockerconfigjson' }), ctx))).toEqual(['data[.dockerconfigjson]: Required value']);
    expect(msgs(secrets.validate(secret({ type: 'kubernetes.io/service-account-token' }), ctx))).toEqual(['metadata.annotations[kubernetes.io/service-account.name]: Required value']);
  });

  it('keeps type immutable', () => {
    const old = secret({ data: {} });
    const upd = deepCopy(old);
    upd['type'] = 'kubernetes.io/basic-auth';
    upd['data'] = { username: 'YQ==' };
    expect(msgs(secrets.validateUpdate(upd, old, ctx))).toEqual(['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']);
  });

  it('prints TYPE DATA and selects on type', () => {
    const o = secret({ data: { a: 'MQ==', b: 'Mg==' } });
    expect(secrets.tableColumns.map(c => c.name)).toEqual(['Name', 'Type', 'Data', 'Age']);
    expect(secrets.tableRow(o, now)).toEqual(['cfg', 'Opaque', 2, '30s']);
    expect(secrets.fieldSelectorAttributes!(o)).toEqual({ type: 'Opaque' });
  });
});
