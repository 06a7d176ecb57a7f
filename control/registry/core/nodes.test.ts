import type { Node } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { findNodeRoles, nodes } from './nodes.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());
const now = new Date('2024-01-03T00:00:00Z');

function node(extra: Partial<Node> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' }, ...extra } as unknown as KubeObject;
}

describe('nodes', () => {
  it('is cluster-scoped with a status subresource', () => {
    expect(nodes).toMatchObject({ namespaced: false, hasStatusSubresource: true, shortNames: ['no'] });
    expect(nodes.subresources).toContain('status');
  });

  it('defaults allocatable to capacity', () => {
    const n = node({ status: { capacity: { cpu: '4', memory: '8Gi' } } });
    nodes.applyDefaults!(n, ctx);
    expect((n as unknown as Node).status!.allocatable).toEqual({ cpu: '4', memory: '8Gi' });
  });

  it('validates taints under metadata.taints, as upstream', () => {
    const n = node({ spec: { taints: [
      { key: 'a', effect: 'NoSchedule' }, { key: 'a', effect: 'NoSchedule' }, { key: 'b', effect: '' as never }, { key: 'c', value: 'x y', effect: 'Bad' },
    ] } });
    expect(msgs(nodes.validate(n, ctx))).toEqual([
      'metadata.taints[1]: Duplicate value: {"key":"a","effect":"NoSchedule"}',
      'metadata.taints[2].effect: Required value',
      expect.stringMatching(/^metadata\.taints\[3\]\.value: Invalid value: "x y": a valid label must be/),
      'metadata.taints[3].effect: Unsupported value: "Bad": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]);
  });

  it('validates podCIDRs', () => {
    expect(msgs(nodes.validate(node({ spec: { podCIDRs: ['10.42.0.0/24', '10.42.1.0/24'] } }), ctx))).toEqual([
      'spec.podCIDRs: Invalid value: ["10.42.0.0/24","10.42.1.0/24"]: may specify no more than one CIDR for each IP family',
    ]);
    expect(msgs(nodes.validate(node({ spec: { podCIDRs: ['x'] } }), ctx))).toEqual(['spec.podCIDRs[0]: Invalid value: "x": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']);
  });

  it('lets podCIDR be set once and taints, unschedulable and labels change', () => {
    const old = node();
    const upd = deepCopy(old) as unknown as Node;
    upd.spec = { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'], unschedulable: true, taints: [{ key: 'k', effect: 'NoSchedule' }] };
    upd.metadata!.labels = { a: 'b' };
    expect(nodes.validateUpdate(upd as unknown as KubeObject, old, ctx)).toEqual([]);
    const again = deepCopy(upd);
    again.spec!.podCIDRs = ['10.42.5.0/24'];
    again.spec!.podCIDR = '10.42.5.0/24';
    expect(msgs(nodes.validateUpdate(again as unknown as KubeObject, upd as unknown as KubeObject, ctx))).toEqual(['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']);
  });

  it('keeps providerID and externalID once set', () => {
    const old = node({ spec: { providerID: 'k8ts://n1' } });
    const upd = deepCopy(old) as unknown as Node;
    upd.spec = { providerID: 'other', externalID: 'x' };
    expect(msgs(nodes.validateUpdate(upd as unknown as KubeObject, old, ctx))).toEqual([
      'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
      'spec.externalID: Forbidden: may not be updated',
    ]);
  });

  it('validates capacity and allocatable quantities', () => {
    const n = node({ status: { capacity: { cpu: '-1', pods: '110', 'example.com/gpu': '500m' } } });
    expect(msgs(nodes.validate(n, ctx))).toEqual([
      'status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0',
      'status.capacity.example.com/gpu: Invalid value: "500m": must be an integer',
    ]);
  });

  it('finds roles from labels', () => {
    expect(findNodeRoles({ metadata: { labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/master': '', 'kubernetes.io/role': 'edge', 'node-role.kubernetes.io/': '' } } } as Node))
      .toEqual(['control-plane', 'edge', 'master']);
  });

  it('prints STATUS ROLES AGE VERSION and the wide columns', () => {
    expect(nodes.tableColumns.map(c => [c.name, c.priority])).toEqual([
      ['Name', 0], ['Status', 0], ['Roles', 0], ['Age', 0], ['Version', 0],
      ['Internal-IP', 1], ['External-IP', 1], ['OS-Image', 1], ['Kernel-Version', 1], ['Container-Runtime', 1],
    ]);
    const ready = node({
      metadata: { name: 'n1', creationTimestamp: '2024-01-01T00:00:00Z', labels: { 'node-role.kubernetes.io/control-plane': '' } },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
        addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '192.168.1.10' }],
        nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', containerRuntimeVersion: 'containerd://1.7.0', architecture: 'amd64', bootID: '', machineID: '', systemUUID: '', kubeProxyVersion: '', operatingSystem: 'linux' },
      },
    });
    expect(nodes.tableRow(ready, now)).toEqual([
      'n1', 'Ready,SchedulingDisabled', 'control-plane', '2d', 'v1.32.0', '192.168.1.10', '<none>',
      'Debian GNU/Linux 12 (bookworm)', '6.1.0', 'containerd://1.7.0',
    ]);
    expect(nodes.tableRow(node({ status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }), now).slice(1, 3)).toEqual(['NotReady', '<none>']);
    expect(nodes.tableRow(node(), now).slice(1, 10)).toEqual(['Unknown', '<none>', '2d', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
    expect(nodes.fieldSelectorAttributes!(ready)).toEqual({ 'spec.unschedulable': 'true' });
  });
});
