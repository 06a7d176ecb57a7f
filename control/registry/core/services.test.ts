import type { Service, ServiceSpec } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { makePortString, needsClusterIP, needsHealthCheckNodePort, portsNeedingNodePort, services } from './services.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const now = new Date('2024-01-01T00:05:00Z');
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function svc(spec: ServiceSpec, name = 'web'): KubeObject {
  const obj = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, spec } as unknown as KubeObject;
  services.applyDefaults!(obj, ctx);
  return obj;
}
const specOf = (o: KubeObject) => (o as unknown as Service).spec!;

describe('services defaulting', () => {
  it('defaults type, affinity, protocol, targetPort, policies and families', () => {
    const o = svc({ selector: { app: 'web' }, ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns', name: 'dns' }] });
    expect(specOf(o)).toEqual({
      selector: { app: 'web' }, type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'],
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns', name: 'dns' }],
    });
    expect(needsClusterIP(specOf(o))).toBe(true);
  });

  it('adds externalTrafficPolicy and allocateLoadBalancerNodePorts for external services', () => {
    const np = specOf(svc({ type: 'NodePort', ports: [{ port: 80 }] }));
    expect(np.externalTrafficPolicy).toBe('Cluster');
    expect(portsNeedingNodePort(np)).toEqual([0]);
    const lb = specOf(svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }, { port: 443 }] }));
    expect(lb.allocateLoadBalancerNodePorts).toBe(true);
    expect(portsNeedingNodePort(lb)).toEqual([1]);
    expect(needsHealthCheckNodePort(lb)).toBe(true);
  });

  it('defaults ClientIP affinity timeout and keeps clusterIP/clusterIPs in step', () => {
    const s = specOf(svc({ sessionAffinity: 'ClientIP', clusterIP: '10.43.0.10', ports: [{ port: 80 }] }));
    expect(s.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
    expect(s.clusterIPs).toEqual(['10.43.0.10']);
    expect(needsClusterIP(s)).toBe(false);
  });

  it('gives selectorless headless services RequireDualStack, as upstream', () => {
    expect(specOf(svc({ clusterIP: 'None' })).ipFamilyPolicy).toBe('RequireDualStack');
    expect(specOf(svc({ clusterIP: 'None', selector: { app: 'db' } })).ipFamilyPolicy).toBe('SingleStack');
    expect(services.validate(svc({ clusterIP: 'None' }), ctx)).toEqual([]);
  });

  it('leaves ExternalName services without families and IPs', () => {
    const s = specOf(svc({ type: 'ExternalName', externalName: 'example.com' }));
    expect(s.ipFamilies).toBeUndefined();
    expect(s.ipFamilyPolicy).toBeUndefined();
    expect(s.internalTrafficPolicy).toBeUndefined();
    expect(needsClusterIP(s)).toBe(false);
    expect(services.validate(svc({ type: 'ExternalName', externalName: 'example.com.' }), ctx)).toEqual([]);
  });
});

describe('services validation', () => {
  it('accepts a plain ClusterIP and a headless service', () => {
    expect(services.validate(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }), ctx)).toEqual([]);
    expect(services.validate(svc({ clusterIP: 'None', selector: { app: 'db' } }), ctx)).toEqual([]);
  });

  it('requires a DNS-1035 name', () => {
    expect(services.validate(svc({ ports: [{ port: 80 }] }, '1web'), ctx).map(e => e.field)).toEqual(['metadata.name']);
  });

  it('requires ports except for headless and ExternalName services', () => {
    expect(msgs(services.validate(svc({}), ctx))).toEqual(['spec.ports: Required value']);
  });

  it('requires unique port names when there are several ports', () => {
    const o = svc({ ports: [{ port: 80 }, { port: 81, name: 'b' }, { port: 82, name: 'b' }, { port: 80, name: 'Bad' }] });
    expect(msgs(services.validate(o, ctx))).toEqual([
      'spec.ports[0].name: Required value',
      'spec.ports[2].name: Duplicate value: "b"',
      expect.stringMatching(/^spec\.ports\[3\]\.name: Invalid value: "Bad": a lowercase RFC 1123 label/),
      'spec.ports[3]: Duplicate value: {"port":80,"protocol":"TCP"}',
    ]);
  });

  it('validates port numbers, protocols and target ports', () => {
    const o = svc({ ports: [{ port: 0, name: 'a' }, { port: 80, name: 'b', protocol: 'ICMP' }, { port: 81, name: 'c', targetPort: 'Not_A_Name' }, { port: 82, name: 'd', targetPort: 70000 }] });
    expect(msgs(services.validate(o, ctx))).toEqual([
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      'spec.ports[2].targetPort: Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'spec.ports[3].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ]);
  });

  it('rejects unknown types, bad selectors and nodePorts on ClusterIP services', () => {
    const o = svc({ type: 'Magic', ports: [{ port: 80 }] });
    expect(msgs(services.validate(o, ctx))).toContain('spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"');
    expect(services.validate(svc({ selector: { 'a b': 'c' }, ports: [{ port: 80 }] }), ctx).map(e => e.field)).toEqual(['spec.selector']);
    expect(msgs(services.validate(svc({ ports: [{ port: 80, nodePort: 30001 }] }), ctx))).toEqual(["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
  });

  it('checks ExternalName services', () => {
    expect(msgs(services.validate(svc({ type: 'ExternalName' }), ctx))).toEqual(['spec.externalName: Required value']);
    expect(services.validate(svc({ type: 'ExternalName', externalName: 'Bad_Host' }), ctx).map(e => e.field)).toEqual(['spec.externalName']);
    expect(msgs(services.validate(svc({ type: 'ExternalName', externalName: 'a.com', clusterIP: '10.43.0.5' }), ctx))).toEqual(['spec.clusterIPs: Forbidden: may not be set for ExternalName services']);
  });

  it('rejects headless NodePort services', () => {
    expect(msgs(services.validate(svc({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] }), ctx))).toEqual([
      'spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services',
    ]);
  });

  it('checks load balancer fields with upstream paths', () => {
    const o = svc({ ports: [{ port: 80 }], loadBalancerSourceRanges: ['10.0.0.0/8', 'nope'], allocateLoadBalancerNodePorts: true });
    expect(msgs(services.validate(o, ctx))).toEqual([
      "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
      'spec.LoadBalancerSourceRanges[1]: Invalid value: "nope": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
    ]);
    const lb = svc({ type: 'LoadBalancer', ports: [{ port: 80 }] });
    delete specOf(lb).allocateLoadBalancerNodePorts;
    expect(msgs(services.validate(lb, ctx))).toEqual(['allocateLoadBalancerNodePorts: Required value']);
  });

  it('checks traffic policies', () => {
    const o = svc({ ports: [{ port: 80 }], externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Nearby' });
    expect(msgs(services.validate(o, ctx))).toEqual([
      'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
      'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"',
    ]);
    const np = svc({ type: 'NodePort', ports: [{ port: 80 }], externalTrafficPolicy: 'Other', healthCheckNodePort: 30000 });
    expect(msgs(services.validate(np, ctx))).toEqual([
      'spec.externalTrafficPolicy: Unsupported value: "Other": supported values: "Cluster", "Local"',
      "spec.healthCheckNodePort: Invalid value: 30000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    ]);
  });

  it('checks requested nodePorts and clusterIPs against the configured ranges', () => {
    expect(msgs(services.validate(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }), ctx))).toEqual([
      'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ]);
    expect(msgs(services.validate(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }, { port: 81, nodePort: 30080 }], }), ctx))).toEqual([
      'spec.ports[0].name: Required value', 'spec.ports[1].name: Required value', 'spec.ports[1].nodePort: Duplicate value: 30080',
    ]);
    expect(msgs(services.validate(svc({ clusterIP: '10.99.0.1', ports: [{ port: 80 }] }), ctx))).toEqual([
      'spec.clusterIPs[0]: Invalid value: "10.99.0.1": failed to allocate IP 10.99.0.1: the provided IP (10.99.0.1) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
    ]);
    expect(msgs(services.validate(svc({ clusterIP: 'nope', ports: [{ port: 80 }] }), ctx))).toEqual([
      'spec.clusterIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });

  it('rejects special external IPs', () => {
    const o = svc({ externalIPs: ['1.2.3.4', '127.0.0.1', '0.0.0.0', '169.254.1.1', 'x'], ports: [{ port: 80 }] });
    expect(msgs(services.validate(o, ctx))).toEqual([
      'spec.externalIPs[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'spec.externalIPs[2]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
      'spec.externalIPs[3]: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      'spec.externalIPs[4]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });

  it('validates clusterIPs against clusterIP and ipFamilies', () => {
    const o = svc({ ports: [{ port: 80 }], clusterIP: '10.43.0.5', clusterIPs: ['10.43.0.6'] });
    expect(msgs(services.validate(o, ctx))).toEqual(['spec.clusterIPs: Invalid value: ["10.43.0.6"]: first value must match `clusterIP`']);
    const fam = svc({ ports: [{ port: 80 }], clusterIP: '10.43.0.5', ipFamilies: ['IPv6'] });
    expect(msgs(services.validate(fam, ctx))).toEqual(['spec.clusterIPs[0]: Invalid value: "10.43.0.5": expected an IPv6 value as indicated by `ipFamilies[0]`']);
    const none = svc({ clusterIPs: ['None', '10.43.0.1'], clusterIP: 'None' });
    expect(msgs(services.validate(none, ctx))).toEqual([
      'spec.ports: Required value', 'spec.clusterIPs: Invalid value: ["None","10.43.0.1"]: \'None\' must be the first and only value',
    ]);
    const pol = svc({ ports: [{ port: 80 }], ipFamilyPolicy: 'Triple', ipFamilies: ['IPv5', 'IPv5'] });
    expect(msgs(services.validate(pol, ctx))).toEqual([
      'spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
      'spec.ipFamilies[1]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
      'spec.ipFamilies[1]: Duplicate value: "IPv5"',
      'spec.ipFamilyPolicy: Unsupported value: "Triple": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
    ]);
  });

  it('allows loadBalancerClass only on load balancers', () => {
    expect(msgs(services.validate(svc({ ports: [{ port: 80 }], loadBalancerClass: 'example.com/lb' }), ctx))).toEqual([
      "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
    ]);
    expect(services.validate(svc({ type: 'LoadBalancer', ports: [{ port: 80 }], loadBalancerClass: 'example.com/lb' }), ctx)).toEqual([]);
  });

  it('validates session affinity', () => {
    const o = svc({ ports: [{ port: 80 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } });
    expect(msgs(services.validate(o, ctx))).toEqual(['spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400']);
    const bad = svc({ ports: [{ port: 80 }], sessionAffinity: 'Sticky' });
    expect(msgs(services.validate(bad, ctx))).toEqual(['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']);
  });
});

describe('services update', () => {
  const allocated = () => {
    const o = svc({ type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }], clusterIP: '10.43.0.10' });
    o.metadata!.resourceVersion = '5';
    return o;
  };

  it('keeps clusterIP immutable', () => {
    const old = allocated();
    const upd = deepCopy(old);
    specOf(upd).clusterIP = '10.43.0.11';
    specOf(upd).clusterIPs = ['10.43.0.11'];
    expect(msgs(services.validateUpdate(upd, old, ctx))).toEqual(['spec.clusterIPs[0]: Invalid value: ["10.43.0.11"]: may not change once set']);
  });

  it('carries allocated clusterIP and nodePorts a client left out', () => {
    const old = allocated();
    const upd = { ...deepCopy(old), spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] } } as KubeObject;
    services.prepareForUpdate!(upd, old);
    services.applyDefaults!(upd, ctx);
    expect(specOf(upd).clusterIP).toBe('10.43.0.10');
    expect(specOf(upd).clusterIPs).toEqual(['10.43.0.10']);
    expect(specOf(upd).ports![0]!.nodePort).toBe(30080);
    expect(services.validateUpdate(upd, old, ctx)).toEqual([]);
  });

  it('wipes type-dependent fields the client left unchanged when the type changes', () => {
    const old = svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }], clusterIP: '10.43.0.10' });
    old.metadata!.resourceVersion = '5';
    const upd = deepCopy(old);
    specOf(upd).type = 'ClusterIP';
    services.prepareForUpdate!(upd, old);
    services.applyDefaults!(upd, ctx);
    const s = specOf(upd);
    expect(s.ports![0]!.nodePort).toBeUndefined();
    expect(s.healthCheckNodePort).toBeUndefined();
    expect(s.allocateLoadBalancerNodePorts).toBeUndefined();
    expect(s.externalTrafficPolicy).toBeUndefined();
    expect(s.clusterIP).toBe('10.43.0.10');
    expect(services.validateUpdate(upd, old, ctx)).toEqual([]);

    const ext = deepCopy(old);
    specOf(ext).type = 'ExternalName';
    specOf(ext).externalName = 'example.com';
    services.prepareForUpdate!(ext, old);
    services.applyDefaults!(ext, ctx);
    expect(specOf(ext).clusterIP).toBeUndefined();
    expect(specOf(ext).ipFamilies).toBeUndefined();
    expect(services.validateUpdate(ext, old, ctx)).toEqual([]);
  });

  it('does not re-check an existing nodePort against a shrunk range', () => {
    const old = allocated();
    const upd = deepCopy(old);
    expect(services.validateUpdate(upd, old, { ...ctx, nodePortRange: { min: 31000, max: 32000 } })).toEqual([]);
  });
});

describe('services table', () => {
  it('has upstream columns', () => {
    expect(services.tableColumns.map(c => [c.name, c.priority])).toEqual([
      ['Name', 0], ['Type', 0], ['Cluster-IP', 0], ['External-IP', 0], ['Port(s)', 0], ['Age', 0], ['Selector', 1],
    ]);
  });

  it('prints ClusterIP, NodePort, LoadBalancer and ExternalName rows', () => {
    const row = (spec: ServiceSpec, status?: Service['status']) => {
      const o = svc(spec);
      if (status) (o as Record<string, unknown>)['status'] = status;
      return services.tableRow(o, now);
    };
    expect(row({ clusterIPs: ['10.43.0.10'], ports: [{ port: 80 }], selector: { app: 'web', tier: 'fe' } }))
      .toEqual(['web', 'ClusterIP', '10.43.0.10', '<none>', '80/TCP', '5m', 'app=web,tier=fe']);
    expect(row({ type: 'NodePort', clusterIPs: ['10.43.0.11'], ports: [{ port: 80, nodePort: 30080 }, { port: 53, protocol: 'UDP' }] }).slice(1, 5))
      .toEqual(['NodePort', '10.43.0.11', '<none>', '80:30080/TCP,53/UDP']);
    expect(row({ type: 'LoadBalancer', ports: [{ port: 80 }] })[3]).toBe('<pending>');
    expect(row({ type: 'LoadBalancer', externalIPs: ['5.6.7.8'], ports: [{ port: 80 }] }, { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } })[3]).toBe('1.2.3.4,5.6.7.8');
    expect(row({ type: 'ExternalName', externalName: 'example.com' }).slice(1, 7)).toEqual(['ExternalName', '<none>', 'example.com', '<none>', '5m', '<none>']);
    expect(row({ clusterIP: 'None', clusterIPs: ['None'] })[2]).toBe('None');
  });

  it('makePortString joins ports as upstream', () => {
    expect(makePortString([{ port: 80, protocol: 'TCP' }, { port: 443, nodePort: 30443, protocol: 'TCP' }])).toBe('80/TCP,443:30443/TCP');
  });
});
