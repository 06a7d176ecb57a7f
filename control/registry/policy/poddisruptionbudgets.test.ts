import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { poddisruptionbudgets as pdbs } from './poddisruptionbudgets.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:01:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());
const pdb = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'policy/v1', kind: 'PodDisruptionBudget',
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
});

describe('poddisruptionbudgets', () => {
  it('accepts minAvailable or maxUnavailable, not both', () => {
    expect(pdbs.validate(pdb({ minAvailable: 2 }), ctx)).toEqual([]);
    expect(pdbs.validate(pdb({ maxUnavailable: '50%' }), ctx)).toEqual([]);
    expect(messages(pdbs.validate(pdb({ minAvailable: 1, maxUnavailable: 1 }), ctx))).toEqual([
      'spec: Invalid value: {"selector":{"matchLabels":{"app":"web"}},"minAvailable":1,"maxUnavailable":1}: minAvailable and maxUnavailable cannot be both set',
    ]);
  });

  it('rejects negative values, percentages over 100% and unknown eviction policies', () => {
    expect(messages(pdbs.validate(pdb({ minAvailable: -1, unhealthyPodEvictionPolicy: 'Never' }), ctx))).toEqual([
      'spec.minAvailable: Invalid value: -1: must be greater than or equal to 0',
      'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"',
    ]);
    expect(messages(pdbs.validate(pdb({ maxUnavailable: '120%' }), ctx))).toEqual([
      'spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%',
    ]);
  });

  it('prints MIN AVAILABLE, MAX UNAVAILABLE and ALLOWED DISRUPTIONS', () => {
    const p = pdb({ minAvailable: '50%' });
    p.status = { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 };
    expect(pdbs.tableColumns.map(c => c.name)).toEqual(['Name', 'Min Available', 'Max Unavailable', 'Allowed Disruptions', 'Age']);
    expect(pdbs.tableRow(p, ctx.now())).toEqual(['web', '50%', 'N/A', 1, '60s']);
  });
});
