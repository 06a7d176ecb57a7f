import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { networkpolicies } from './networkpolicies.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T01:00:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function policy(spec: Record<string, unknown>): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: 'deny', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec,
  };
  networkpolicies.applyDefaults!(obj, ctx);
  return obj;
}

describe('networkpolicies defaulting', () => {
  it('defaults policyTypes to Ingress, adding Egress when egress rules exist, and ports to TCP', () => {
    expect((policy({ podSelector: {} }).spec as Record<string, unknown>).policyTypes).toEqual(['Ingress']);
    const p = policy({ podSelector: {}, egress: [{ ports: [{ port: 53 }] }] });
    expect((p.spec as Record<string, unknown>).policyTypes).toEqual(['Ingress', 'Egress']);
    expect((p.spec as { egress: { ports: unknown[] }[] }).egress[0]!.ports).toEqual([{ port: 53, protocol: 'TCP' }]);
    expect((policy({ podSelector: {}, egress: [{}], policyTypes: ['Egress'] }).spec as Record<string, unknown>).policyTypes).toEqual(['Egress']);
  });
});

describe('networkpolicies validation', () => {
  it('accepts selectors, ip blocks and port ranges', () => {
    const p = policy({
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } }, namespaceSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 5432 }, { port: 8000, endPort: 9000 }, { port: 'metrics' }] }],
    });
    expect(networkpolicies.validate(p, ctx)).toEqual([]);
  });

  it('checks peers, ip blocks and ports', () => {
    const p = policy({
      podSelector: {},
      ingress: [{
        from: [{}, { ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16', '192.168.0.0/24', 'x'] }, podSelector: {} }],
        ports: [{ port: 0 }, { port: 90, endPort: 80 }, { port: 'http', endPort: 81 }, { endPort: 5 }, { protocol: 'ICMP' }],
      }],
      policyTypes: ['Ingress', 'Sideways'],
    });
    expect(messages(networkpolicies.validate(p, ctx))).toEqual([
      'spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ingress[0].ports[1].endPort: Invalid value: 90: must be greater than or equal to `port`',
      'spec.ingress[0].ports[2].endPort: Invalid value: 81: may not be specified when `port` is non-numeric',
      'spec.ingress[0].ports[3].endPort: Invalid value: 5: may not be specified when `port` is not specified',
      'spec.ingress[0].ports[4].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
      'spec.ingress[0].from[0]: Required value: must specify a peer',
      'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`',
      'spec.ingress[0].from[1].ipBlock.except[1]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`',
      'spec.ingress[0].from[1].ipBlock.except[2]: Invalid value: "x": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      'spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer',
      'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ]);
  });

  it('requires a cidr in an ipBlock and at most two policy types', () => {
    const p = policy({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '' } }] }], policyTypes: ['Ingress', 'Egress', 'Ingress'] });
    expect(messages(networkpolicies.validate(p, ctx))).toEqual([
      'spec.egress[0].to[0].ipBlock.cidr: Required value',
      'spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes',
    ]);
  });

  it('prints POD-SELECTOR', () => {
    expect(networkpolicies.tableColumns.map(c => c.name)).toEqual(['Name', 'Pod-Selector', 'Age']);
    expect(networkpolicies.tableRow(policy({ podSelector: {} }), ctx.now())).toEqual(['deny', '<none>', '60m']);
    expect(networkpolicies.tableRow(policy({ podSelector: { matchLabels: { app: 'db' } } }), ctx.now())[1]).toBe('app=db');
  });
});
