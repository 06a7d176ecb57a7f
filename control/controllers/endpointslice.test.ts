import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { desiredEndpoints, desiredLegacyEndpoints, planSlices } from './endpointslice.js';

const svc = (extra: Partial<NonNullable<Service['spec']>> = {}): Service => ({ metadata: { name: 'web', namespace: 'ns', uid: 'svc' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...extra } });
const pod = (name: string, opts: { ready?: boolean; ip?: string; port?: number; deleting?: boolean; node?: string; labels?: Record<string, string> } = {}): Pod => ({
  metadata: { name, namespace: 'ns', uid: `u-${name}`, labels: opts.labels ?? { app: 'web' }, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: opts.node ?? 'n1', containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: opts.port ?? 8080 }] }] },
  status: { phase: 'Running', ...(opts.ip !== undefined ? { podIP: opts.ip } : { podIP: `10.0.0.${name.length}` }), conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
});

describe('desiredEndpoints', () => {
  it('resolves named target ports per pod, so pods with different numbers get different groups', () => {
    const groups = desiredEndpoints(svc(), [pod('a', { port: 8080 }), pod('bb', { port: 9090 }), pod('ccc', { port: 8080 })]);
    expect(groups.map(g => [g.ports[0]!.port, g.endpoints.length])).toEqual([[8080, 2], [9090, 1]]);
  });

  it('sets ready/serving/terminating as upstream, and honours publishNotReadyAddresses', () => {
    const [g] = desiredEndpoints(svc(), [pod('a'), pod('bb', { ready: false }), pod('ccc', { deleting: true })]);
    expect(g!.endpoints.map(e => e.conditions)).toEqual([
      { ready: true, serving: true, terminating: false },
      { ready: false, serving: false, terminating: false },
      { ready: false, serving: true, terminating: true },
    ]);
    const [p] = desiredEndpoints(svc({ publishNotReadyAddresses: true }), [pod('bb', { ready: false })]);
    expect(p!.endpoints[0]!.conditions!.ready).toBe(true);
  });

  it('takes the zone from the pod\'s node', () => {
    const [g] = desiredEndpoints(svc(), [pod('a', { node: 'n7' })], n => (n === 'n7' ? 'zone-b' : undefined));
    expect(g!.endpoints[0]).toMatchObject({ nodeName: 'n7', zone: 'zone-b' });
  });

  it('skips pods without an IP and pods the selector does not match', () => {
    expect(desiredEndpoints(svc(), [pod('a', { ip: '' }), pod('b', { labels: { app: 'db' } })])).toEqual([]);
  });
});

describe('planSlices', () => {
  it('packs at most 100 endpoints per slice and labels them for the Service', () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod(`p${i}`, { ip: `10.0.${Math.floor(i / 200)}.${i % 200}` }));
    const plan = planSlices(svc({ clusterIP: 'None' }), desiredEndpoints(svc(), pods), []);
    expect(plan.create.map(s => s.endpoints!.length)).toEqual([100, 100, 50]);
    expect(plan.create[0]!.metadata!.labels).toMatchObject({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'service.kubernetes.io/headless': '' });
    expect(plan.create[0]!.metadata!.ownerReferences![0]).toMatchObject({ kind: 'Service', name: 'web', controller: true });
  });

  it('leaves an unchanged slice alone and deletes slices no longer needed', () => {
    const groups = desiredEndpoints(svc(), [pod('a')]);
    const first = planSlices(svc(), groups, []).create[0]!;
    const existing: EndpointSlice = { ...first, metadata: { ...first.metadata, name: 'web-1' } };
    const stale: EndpointSlice = { ...first, metadata: { ...first.metadata, name: 'web-2' }, ports: [{ name: 'old', port: 1 }] };
    const plan = planSlices(svc(), groups, [existing, stale]);
    expect(plan).toEqual({ create: [], update: [], delete: [stale] });
  });
});

describe('desiredLegacyEndpoints', () => {
  it('puts ready pods in addresses and the others in notReadyAddresses', () => {
    const ep = desiredLegacyEndpoints(svc(), desiredEndpoints(svc(), [pod('a'), pod('bb', { ready: false }), pod('ccc', { deleting: true })]));
    expect(ep.subsets![0]!.addresses!.map(a => a.targetRef!.name)).toEqual(['a']);
    expect(ep.subsets![0]!.notReadyAddresses!.map(a => a.targetRef!.name)).toEqual(['bb']);
    expect(ep.subsets![0]!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });
});
