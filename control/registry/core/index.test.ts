import type { KubeObject } from '../../../api/object.js';
import { coreResources, podtemplates, serviceaccounts } from './index.js';

const now = new Date('2024-01-01T00:01:00Z');

describe('core resources', () => {
  it('are all v1 of the core group with unique plural names', () => {
    expect(coreResources.map(r => r.resource).sort()).toEqual([
      'configmaps', 'endpoints', 'events', 'namespaces', 'nodes', 'persistentvolumeclaims', 'persistentvolumes', 'pods', 'podtemplates', 'replicationcontrollers', 'secrets', 'serviceaccounts', 'services',
    ]);
    for (const r of coreResources) {
      expect(r.group).toBe('');
      expect(r.version).toBe('v1');
      expect(r.listKind).toBe(`${r.kind}List`);
      expect(r.schemaName).toBe(`io.k8s.api.core.v1.${r.kind}`);
    }
  });

  it('print NAME first (events last, as upstream) and one cell per column', () => {
    for (const r of coreResources) {
      const obj: KubeObject = { metadata: { name: 'x', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' } };
      if (r.kind === 'Pod') obj['spec'] = { containers: [] };
      const row = r.tableRow(obj, now);
      expect(row).toHaveLength(r.tableColumns.length);
      const nameIndex = r.kind === 'Event' ? r.tableColumns.length - 1 : 0;
      expect(r.tableColumns[nameIndex]).toMatchObject({ name: 'Name', type: 'string', format: 'name' });
      expect(row[nameIndex]).toBe('x');
      const age = r.tableColumns.findIndex(c => c.name === 'Age');
      if (age >= 0) expect(row[age]).toBe('60s');
    }
  });

  it('podtemplates print their containers and labels, without AGE', () => {
    const obj: KubeObject = { metadata: { name: 't' }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c1', image: 'i1' }, { name: 'c2', image: 'i2' }] } } };
    expect(podtemplates.tableRow(obj, now)).toEqual(['t', 'c1,c2', 'i1,i2', 'app=a']);
    podtemplates.applyDefaults!(obj, { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => now });
    obj.metadata!.namespace = 'default';
    expect(podtemplates.validate(obj, { serviceCIDR: '', clusterCIDR: '', nodePortRange: { min: 1, max: 2 }, now: () => now })).toEqual([]);
  });

  it('serviceaccounts print SECRETS', () => {
    expect(serviceaccounts.tableRow({ metadata: { name: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, secrets: [{ name: 's' }] }, now)).toEqual(['default', 1, '60s']);
  });
});
