// Node pressure conditions measured by real agents, and the kubelet's `/pods`, seen with kubectl.
// Two agents on one server: one whose `--eviction-hard` thresholds are crossed on any machine
// (memory.available<1000Ti, nodefs.available<100%, pid.available<100%), and one with upstream's
// defaults, which a healthy test machine does not cross. The node lifecycle controller runs, so
// the pressure taints it adds are checked too. No pods are evicted: this kubelet only reports.
import { jest } from '@jest/globals';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { eventually, TestServer } from './harness.js';
import { TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer([], undefined, { controllers: 'nodelifecycle' });
let pressured: TestAgent | undefined;
let healthy: TestAgent | undefined;

beforeAll(async () => {
  await server.start();
  pressured = new TestAgent(server, ['--eviction-hard', 'memory.available<1000Ti,nodefs.available<100%,pid.available<100%'], 'info');
  healthy = new TestAgent(server, [], 'info');
  const h = healthy;
  await Promise.all([pressured.start(), h.start().then(() => h.importImage())]);
}, 120_000);

afterAll(async () => {
  try {
    await server.request('DELETE', '/api/v1/namespaces/default/pods/listed?gracePeriodSeconds=0').catch(() => undefined);
    await Promise.all([pressured?.cleanup(), healthy?.cleanup()]);
  } finally {
    await server.stop();
  }
}, 120_000);

async function kubectlJson<T>(args: string[]): Promise<T> {
  const r = await server.kubectl(args);
  if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const pressureOf = (n: Node) => Object.fromEntries((n.status?.conditions ?? [])
  .filter(c => c.type.endsWith('Pressure')).map(c => [c.type, `${c.status} ${c.reason} (${c.message})`]));

const pressureTaintsOf = (n: Node) => (n.spec?.taints ?? []).filter(t => t.key.endsWith('-pressure')).map(t => `${t.key}:${t.effect}`).sort();

describe('node pressure', () => {
  it('crossed thresholds make the conditions True with upstream\'s reasons, and the node gets the pressure taints', async () => {
    const node = await eventually('the pressure taints on the node', async () => {
      const n = await kubectlJson<Node>(['get', 'node', pressured!.nodeName, '-o', 'json']);
      return pressureTaintsOf(n).length === 3 ? n : undefined;
    }, 30_000);
    expect(pressureOf(node)).toEqual({
      MemoryPressure: 'True KubeletHasInsufficientMemory (kubelet has insufficient memory available)',
      DiskPressure: 'True KubeletHasDiskPressure (kubelet has disk pressure)',
      PIDPressure: 'True KubeletHasInsufficientPID (kubelet has insufficient PID available)',
    });
    expect(pressureTaintsOf(node)).toEqual(['node.kubernetes.io/disk-pressure:NoSchedule', 'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule']);
    // Pressure is not sickness: the node stays Ready, without the not-ready taints.
    expect(node.status?.conditions?.find(c => c.type === 'Ready')?.status).toBe('True');
    const jsonpath = await server.kubectl(['get', 'node', pressured!.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="DiskPressure")].status}']);
    expect(jsonpath.stdout).toBe('True');
  });

  it('with upstream\'s default thresholds the conditions are False and the node has no pressure taint', async () => {
    const node = await kubectlJson<Node>(['get', 'node', healthy!.nodeName, '-o', 'json']);
    expect(pressureOf(node)).toEqual({
      MemoryPressure: 'False KubeletHasSufficientMemory (kubelet has sufficient memory available)',
      DiskPressure: 'False KubeletHasNoDiskPressure (kubelet has no disk pressure)',
      PIDPressure: 'False KubeletHasSufficientPID (kubelet has sufficient PID available)',
    });
    expect(pressureTaintsOf(node)).toEqual([]);
    // The default memory.available<100Mi is held back from allocatable, and nodefs.available<10% too.
    const Ki = (q: string) => Number(/^(\d+)Ki$/.exec(q)?.[1]);
    expect(Ki(node.status!.capacity!['memory']!) - Ki(node.status!.allocatable!['memory']!)).toBe(100 * 1024);
    const eph = Ki(node.status!.capacity!['ephemeral-storage']!);
    expect(eph - Ki(node.status!.allocatable!['ephemeral-storage']!)).toBeCloseTo(eph * 0.1, -1);
  });
});

describe('the kubelet API /pods', () => {
  it('lists the pods the kubelet runs, through the apiserver\'s node proxy', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/default/pods', {
      metadata: { name: 'listed' },
      spec: { nodeName: healthy!.nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: testImageName, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
    });
    expect(r.status).toBe(201);
    const uid = (r.body as Pod).metadata!.uid;
    const list = await eventually('pod listed Running in the kubelet\'s /pods', async () => {
      const l = await kubectlJson<{ kind: string; apiVersion: string; items: Pod[] }>(['get', '--raw', `/api/v1/nodes/${healthy!.nodeName}/proxy/pods`]);
      return l.items.some(p => p.metadata?.name === 'listed' && p.status?.phase === 'Running') ? l : undefined;
    }, 30_000);
    expect(list).toMatchObject({ kind: 'PodList', apiVersion: 'v1' });
    expect(list.items.map(p => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual(['default/listed']);
    expect(list.items[0]!.metadata?.uid).toBe(uid);
    expect(list.items[0]!.spec?.nodeName).toBe(healthy!.nodeName);
    // The other node's kubelet runs none of it.
    const other = await kubectlJson<{ kind: string; items: Pod[] }>(['get', '--raw', `/api/v1/nodes/${pressured!.nodeName}/proxy/pods`]);
    expect(other).toMatchObject({ kind: 'PodList', items: [] });
  });
});
