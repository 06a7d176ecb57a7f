import type { KubeObject } from '../../../api/object.js';
import { coreResources, serviceaccounts } from './index.js';

const now = new Date('2024-01-01T00:01:00Z');

describe('core resources', () => {
  it('are all v1 of the core group with unique plural names', () => {
    expect(coreResources.map(r => r.resource).sort()).toEqual([
      'configmaps', 'endpoints', 'events', 'namespaces', 'nodes', 'pods', 'replicationcontrollers', 'secrets', 'serviceaccounts', 'services',
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
      if (r.kind !== 'Event') expect(row[r.tableColumns.findIndex(c => c.name === 'Age')]).toBe('60s');
    }
  });

  it('serviceaccounts print SECRETS', () => {
    expect(serviceaccounts.tableRow({ metadata: { name: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, secrets: [{ name: 's' }] }, now)).toEqual(['default', 1, '60s']);
  });
});
