import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { serviceaccounts } from './serviceaccounts.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

describe('serviceaccounts', () => {
  it('accepts DNS subdomain names and rejects others', () => {
    const ok: KubeObject = { metadata: { name: 'build.bot', namespace: 'default' } };
    expect(serviceaccounts.validate(ok, ctx)).toEqual([]);
    const bad: KubeObject = { metadata: { name: 'Build_Bot', namespace: 'default' } };
    expect(msgs(serviceaccounts.validate(bad, ctx))).toEqual([
      "metadata.name: Invalid value: \"Build_Bot\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
  });

  it('keeps identity on update', () => {
    const old: KubeObject = { metadata: { name: 'sa', namespace: 'default', uid: 'u1', resourceVersion: '1' } };
    const upd = deepCopy(old);
    upd.metadata!.uid = 'u2';
    expect(msgs(serviceaccounts.validateUpdate(upd, old, ctx))).toEqual(['metadata.uid: Invalid value: "u2": field is immutable']);
  });

  it('is namespaced with short name sa', () => {
    expect(serviceaccounts).toMatchObject({ namespaced: true, shortNames: ['sa'], resource: 'serviceaccounts' });
  });
});
