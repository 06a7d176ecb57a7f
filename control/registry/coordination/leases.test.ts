import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { leases } from './leases.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:00:10Z') };

const lease = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
  metadata: { name: 'node-1', namespace: 'kube-node-lease', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec,
});

describe('leases', () => {
  it('accepts a node heartbeat lease', () => {
    expect(leases.validate(lease({ holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:05.000000Z' }), ctx)).toEqual([]);
  });

  it('rejects non-positive durations and negative transitions', () => {
    expect(leases.validate(lease({ leaseDurationSeconds: 0, leaseTransitions: -1 }), ctx).map(e => e.message())).toEqual([
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
      'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });

  it('prints HOLDER and AGE', () => {
    expect(leases.tableColumns.map(c => c.name)).toEqual(['Name', 'Holder', 'Age']);
    expect(leases.tableRow(lease({ holderIdentity: 'node-1' }), ctx.now())).toEqual(['node-1', 'node-1', '10s']);
    expect(leases.tableRow(lease({}), ctx.now())[1]).toBe('');
  });
});
