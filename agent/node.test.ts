import { buildNode, buildNodeStatus, nodeStatusEvents, type NodeFacts } from './node.js';
import { parseTaints } from './cli.js';

const facts: NodeFacts = {
  hostname: 'h1', internalIP: '192.0.2.10', cpuCores: 2, memoryBytes: 4 * 1024 ** 3, ephemeralStorageBytes: 100 * 1024 ** 3, maxPods: 110,
  kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12', containerRuntimeVersion: '1.6.20', machineID: 'm', bootID: 'b', architecture: 'amd64',
};

describe('buildNodeStatus', () => {
  it('reports capacity, allocatable less the eviction reserve, addresses, node info and conditions', () => {
    const s = buildNodeStatus(facts, Date.parse('2026-01-01T00:00:00Z'));
    expect(s.capacity).toEqual({ cpu: '2', memory: '4194304Ki', pods: '110', 'ephemeral-storage': '104857600Ki' });
    expect(s.allocatable!.memory).toBe(`${4194304 - 102400}Ki`);
    expect(s.addresses).toEqual([{ type: 'InternalIP', address: '192.0.2.10' }, { type: 'Hostname', address: 'h1' }]);
    expect(s.nodeInfo).toMatchObject({ containerRuntimeVersion: 'containerd://1.6.20', kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12', operatingSystem: 'linux', architecture: 'amd64' });
    expect(s.conditions!.map(c => [c.type, c.status])).toEqual([['MemoryPressure', 'False'], ['DiskPressure', 'False'], ['PIDPressure', 'False'], ['NetworkUnavailable', 'False'], ['Ready', 'True']]);
  });

  it('leaves NetworkUnavailable to the network plugin when it owns it', () => {
    const s = buildNodeStatus(facts, Date.parse('2026-01-01T00:00:00Z'), undefined, false);
    expect(s.conditions!.map(c => c.type)).toEqual(['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready']);
  });

  it('keeps transition times across heartbeats', () => {
    const first = buildNodeStatus(facts, Date.parse('2026-01-01T00:00:00Z'));
    const next = buildNodeStatus(facts, Date.parse('2026-01-01T00:01:00Z'), first);
    const ready = next.conditions!.find(c => c.type === 'Ready')!;
    expect(ready.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(ready.lastHeartbeatTime).toBe('2026-01-01T00:01:00Z');
  });
});

describe('buildNode', () => {
  it('labels the node with hostname, os and arch plus --node-labels, and sets --register-with-taints', () => {
    const n = buildNode({ name: 'n1', labels: { zone: 'a' }, taints: parseTaints('dedicated=db:NoSchedule,gpu:NoExecute') }, facts);
    expect(n.metadata!.labels).toMatchObject({ 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', zone: 'a' });
    expect(n.spec!.taints).toEqual([{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }, { key: 'gpu', effect: 'NoExecute' }]);
  });

  it('parseTaints names a malformed taint', () => {
    expect(() => parseTaints('bad')).toThrow('invalid taint "bad": expected key[=value]:Effect');
  });
});

describe('nodeStatusEvents', () => {
  const cond = (type: string, status: string) => ({ type, status });
  it('a new node gets an event for each condition the kubelet sets', () => {
    const after = buildNodeStatus(facts, Date.parse('2026-01-01T00:00:00Z')).conditions!;
    expect(nodeStatusEvents('n1', undefined, after).map(e => e.message)).toEqual([
      'Node n1 status is now: NodeHasSufficientMemory', 'Node n1 status is now: NodeHasNoDiskPressure',
      'Node n1 status is now: NodeHasSufficientPID', 'Node n1 status is now: NodeReady',
    ]);
  });

  it('only changes count: a heartbeat records nothing, a node back from Unknown is NodeReady again', () => {
    const after = [cond('MemoryPressure', 'False'), cond('Ready', 'True')];
    expect(nodeStatusEvents('n1', after, after)).toEqual([]);
    expect(nodeStatusEvents('n1', [cond('MemoryPressure', 'False'), cond('Ready', 'Unknown')], after)).toEqual([{ type: 'Normal', reason: 'NodeReady', message: 'Node n1 status is now: NodeReady' }]);
    expect(nodeStatusEvents('n1', after, [cond('MemoryPressure', 'True'), cond('Ready', 'False')]).map(e => e.reason)).toEqual(['NodeHasInsufficientMemory', 'NodeNotReady']);
  });
});
