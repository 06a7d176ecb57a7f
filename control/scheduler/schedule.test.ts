import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { StatusError } from '../../api/errors.js';
import { resources } from '../../api/client/types.js';
import { NodeInfo, newPodInfo } from './nodeinfo.js';
import { nodeAffinity, nodePorts, nodeResourcesFit, nodeUnschedulable, taintToleration } from './plugins.js';
import { SchedulingQueue } from './queue.js';
import { ScheduleAlgorithm, fitErrorMessage, numFeasibleNodesToFind } from './schedule.js';
import { Scheduler } from './scheduler.js';

const node = (name: string, cpu = '2', memory = '4Gi', extra: Partial<Node> = {}, labels: Record<string, string> = {}): Node =>
  ({ metadata: { name, labels }, ...extra, status: { allocatable: { cpu, memory, pods: '110' }, capacity: { cpu, memory, pods: '110' } } });
const pod = (name: string, cpu?: string, spec: Partial<Pod['spec']> = {}, owner?: string): Pod => ({
  metadata: { name, namespace: 'default', ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: owner, controller: true }] } : {}) },
  spec: { containers: [{ name: 'c', image: 'i', ...(cpu ? { resources: { requests: { cpu } } } : {}) }], ...spec },
});
const ni = (n: Node, ...pods: Pod[]) => { const x = new NodeInfo(n); for (const p of pods) x.addPod(newPodInfo(p)); return x; };

describe('filters', () => {
  it('NodeResourcesFit counts requests of pods already on the node', () => {
    const n = ni(node('a', '1'), pod('x', '600m'));
    expect(nodeResourcesFit.filter(newPodInfo(pod('y', '500m')), n)).toEqual(['Insufficient cpu']);
    expect(nodeResourcesFit.filter(newPodInfo(pod('y', '400m')), n)).toBeUndefined();
    expect(nodeResourcesFit.filter(newPodInfo(pod('y')), n)).toBeUndefined();
  });

  it('init containers count as the max, not the sum', () => {
    const p = pod('p', '500m', { initContainers: [{ name: 'i', image: 'i', resources: { requests: { cpu: '900m' } } }] });
    expect(newPodInfo(p).requests.milliCPU).toBe(900);
  });

  it('NodeUnschedulable is lifted by a toleration', () => {
    const n = ni(node('a', '1', '1Gi', { spec: { unschedulable: true } }));
    expect(nodeUnschedulable.filter(newPodInfo(pod('p')), n)).toEqual(['node(s) were unschedulable']);
    expect(nodeUnschedulable.filter(newPodInfo(pod('p', undefined, { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] })), n)).toBeUndefined();
  });

  it('taints need tolerations; PreferNoSchedule does not filter', () => {
    const n = ni(node('a', '1', '1Gi', { spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'soft', effect: 'PreferNoSchedule' }] } }));
    expect(taintToleration.filter(newPodInfo(pod('p')), n)).toEqual(['node(s) had untolerated taint {dedicated: gpu}']);
    expect(taintToleration.filter(newPodInfo(pod('p', undefined, { tolerations: [{ key: 'dedicated', value: 'gpu' }] })), n)).toBeUndefined();
    expect(taintToleration.filter(newPodInfo(pod('p', undefined, { tolerations: [{ operator: 'Exists' }] })), n)).toBeUndefined();
    expect(taintToleration.filter(newPodInfo(pod('p', undefined, { tolerations: [{ key: 'dedicated', value: 'cpu' }] })), n)).toBeDefined();
  });

  it('nodeSelector and required node affinity', () => {
    const n = ni(node('a', '1', '1Gi', {}, { zone: 'z1', gen: '5' }));
    expect(nodeAffinity.filter(newPodInfo(pod('p', undefined, { nodeSelector: { zone: 'z1' } })), n)).toBeUndefined();
    expect(nodeAffinity.filter(newPodInfo(pod('p', undefined, { nodeSelector: { zone: 'z2' } })), n)).toEqual(["node(s) didn't match Pod's node affinity/selector"]);
    const aff = (op: string, values: string[], key = 'gen') => newPodInfo(pod('p', undefined, { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator: op, values }] }] } } } }));
    expect(nodeAffinity.filter(aff('Gt', ['4']), n)).toBeUndefined();
    expect(nodeAffinity.filter(aff('Lt', ['4']), n)).toBeDefined();
    expect(nodeAffinity.filter(aff('NotIn', ['z1'], 'zone'), n)).toBeDefined();
    expect(nodeAffinity.filter(aff('DoesNotExist', [], 'missing'), n)).toBeUndefined();
  });

  it('host ports conflict across wildcard and specific addresses', () => {
    const withPort = (name: string, hostIP?: string) => pod(name, undefined, { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080, ...(hostIP ? { hostIP } : {}) }] }] });
    const n = ni(node('a'), withPort('x', '10.0.0.1'));
    expect(nodePorts.filter(newPodInfo(withPort('y')), n)).toEqual(["node(s) didn't have free ports for the requested pod ports"]);
    expect(nodePorts.filter(newPodInfo(withPort('y', '10.0.0.2')), n)).toBeUndefined();
  });
});

describe('ScheduleAlgorithm', () => {
  it('explains why nothing fits, as upstream words it', () => {
    const nodes = [ni(node('a', '1')), ni(node('b', '1')), ni(node('c', '1', '1Gi', { spec: { unschedulable: true } }))];
    const r = new ScheduleAlgorithm().schedule(newPodInfo(pod('p', '2')), nodes);
    expect(r.node).toBeUndefined();
    expect(r.node === undefined && r.message).toBe('0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.');
    expect(fitErrorMessage(3, new Map([['Insufficient cpu', 3]]))).toBe('0/3 nodes are available: 3 Insufficient cpu.');
  });

  it('prefers the least allocated node and spreads a controller\'s pods', () => {
    const a = ni(node('a', '4'), pod('x', '2'));
    const b = ni(node('b', '4'));
    expect(new ScheduleAlgorithm().schedule(newPodInfo(pod('p', '1')), [a, b]).node).toBe('b');
    const c = ni(node('c', '4'), pod('r1', '100m', {}, 'rs'), pod('r2', '100m', {}, 'rs'));
    const d = ni(node('d', '4'), pod('o1', '100m'), pod('o2', '100m'));
    expect(new ScheduleAlgorithm().schedule(newPodInfo(pod('r3', '100m', {}, 'rs')), [c, d]).node).toBe('d');
  });

  it('scores only a share of large clusters', () => {
    expect(numFeasibleNodesToFind(50)).toBe(50);
    expect(numFeasibleNodesToFind(1000)).toBe(420);
    expect(numFeasibleNodesToFind(5000)).toBe(500);
  });
});

describe('InterPodAffinity (required terms)', () => {
  const host = (name: string) => node(name, '4', '8Gi', {}, { 'kubernetes.io/hostname': name });
  const term = (app: string) => ({ labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' });
  const withLabels = (p: Pod, labels: Record<string, string>): Pod => ({ ...p, metadata: { ...p.metadata, labels } });
  const anti = (name: string, app: string) => withLabels(pod(name, undefined, { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(app)] } } }), { app });

  it('keeps pods with anti-affinity to each other on different hosts, and says so when it cannot', () => {
    const a = ni(host('a'), anti('db-0', 'db'));
    const b = ni(host('b'));
    expect(new ScheduleAlgorithm().schedule(newPodInfo(anti('db-1', 'db')), [a, b]).node).toBe('b');
    b.addPod(newPodInfo(anti('db-1', 'db')));
    const r = new ScheduleAlgorithm().schedule(newPodInfo(anti('db-2', 'db')), [a, b]);
    expect(r.node === undefined && r.message).toBe("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
  });

  it('honours existing pods\' anti-affinity against the incoming pod', () => {
    const a = ni(host('a'), anti('guard', 'web'));
    const b = ni(host('b'));
    const plain = withLabels(pod('web-0'), { app: 'web' });
    const r = new ScheduleAlgorithm().schedule(newPodInfo(plain), [a]);
    expect(r.node === undefined && r.message).toBe("0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.");
    expect(new ScheduleAlgorithm().schedule(newPodInfo(plain), [a, b]).node).toBe('b');
  });

  it('puts a pod next to the pods it has affinity to; the first of a group may go anywhere', () => {
    const want = (name: string) => withLabels(pod(name, undefined, { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('cache')] } } }), { app: 'cache' });
    const a = ni(host('a')), b = ni(host('b'), withLabels(pod('c0'), { app: 'cache' }));
    for (let i = 0; i < 5; i++) expect(new ScheduleAlgorithm().schedule(newPodInfo(want(`x${i}`)), [a, b]).node).toBe('b');
    expect(new ScheduleAlgorithm().schedule(newPodInfo(want('first')), [ni(host('c')), ni(host('d'))]).node).toBeDefined();
    const other = withLabels(pod('y', undefined, { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('cache')] } } }), { app: 'other' });
    const r = new ScheduleAlgorithm().schedule(newPodInfo(other), [ni(host('c'))]);
    expect(r.node === undefined && r.message).toBe("0/1 nodes are available: 1 node(s) didn't match pod affinity rules.");
  });
});

describe('SchedulingQueue', () => {
  it('backs off failed pods and parks unschedulable ones until a cluster event', () => {
    let t = 0;
    const q = new SchedulingQueue({ now: () => t });
    q.add(newPodInfo(pod('a'))); q.add(newPodInfo(pod('b')));
    expect(q.tryPop()!.info.key).toBe('default/a');
    q.requeue('default/a', true);
    expect(q.tryPop()!.info.key).toBe('default/b');
    q.requeue('default/b', false);
    expect(q.tryPop()).toBeUndefined();
    t = 1000; q.flush();
    expect(q.tryPop()!.info.key).toBe('default/b');
    expect(q.tryPop()).toBeUndefined();
    q.moveAllToActiveOrBackoff();
    expect(q.tryPop()!.info.key).toBe('default/a');
  });
});

describe('Scheduler against the fake API', () => {
  it('binds pods and marks unschedulable ones with PodScheduled=False', async () => {
    const c = new FakeClusterClient();
    await c.create<Node>(resources.nodes, undefined, node('n1', '1'));
    await c.create<Pod>(resources.pods, 'default', pod('small', '500m'));
    await c.create<Pod>(resources.pods, 'default', pod('huge', '4'));
    const s = new Scheduler({ client: c, recordEvents: false });
    await s.start();
    for (let i = 0; i < 50 && s.stats.unschedulable + s.stats.scheduled < 2; i++) await new Promise(r => setTimeout(r, 5));
    await new Promise(r => setTimeout(r, 20));
    expect(c.peek<Pod>(resources.pods, 'default', 'small')!.spec!.nodeName).toBe('n1');
    const huge = c.peek<Pod>(resources.pods, 'default', 'huge')!;
    expect(huge.spec!.nodeName).toBeUndefined();
    expect(huge.status!.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' })]);
    // A bigger node arrives: the parked pod is retried and bound.
    await c.create<Node>(resources.nodes, undefined, node('n2', '8'));
    for (let i = 0; i < 100 && !c.peek<Pod>(resources.pods, 'default', 'huge')!.spec!.nodeName; i++) await new Promise(r => setTimeout(r, 20));
    expect(c.peek<Pod>(resources.pods, 'default', 'huge')!.spec!.nodeName).toBe('n2');
    await s.stop();
  });

  it('forgets the assumed placement and retries with back-off when binding fails', async () => {
    const c = new FakeClusterClient();
    await c.create<Node>(resources.nodes, undefined, node('n1', '1'));
    c.failNext.set('create/binding pods', new StatusError(500, 'InternalError', 'etcd is sad'));
    await c.create<Pod>(resources.pods, 'default', pod('p', '800m'));
    const s = new Scheduler({ client: c, recordEvents: false, queue: { initialBackoffMs: 20 } });
    await s.start();
    for (let i = 0; i < 100 && !c.peek<Pod>(resources.pods, 'default', 'p')!.spec!.nodeName; i++) await new Promise(r => setTimeout(r, 10));
    expect(c.peek<Pod>(resources.pods, 'default', 'p')!.spec!.nodeName).toBe('n1');
    expect(s.stats.bindErrors).toBe(1);
    // The failed attempt's resources were released: the node holds the pod's 800m once.
    expect(s.nodeOf('default/p')).toBe('n1');
    await s.stop();
  });
});
