import { ResourceMetrics, type Summary } from './metrics-api.js';

const t0 = Date.parse('2026-11-26T12:00:00Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const summary = (ms: number, cpuSeconds: number, memBytes: number, extra: Partial<Summary> = {}): Summary => ({
  node: { nodeName: 'n1', cpu: { time: at(ms), usageCoreNanoSeconds: cpuSeconds * 2e9 }, memory: { time: at(ms), workingSetBytes: memBytes * 4 } },
  pods: [{
    podRef: { name: 'web', namespace: 'default', uid: 'u1' },
    containers: [{ name: 'app', cpu: { time: at(ms), usageCoreNanoSeconds: cpuSeconds * 1e9 }, memory: { time: at(ms), workingSetBytes: memBytes } }],
  }],
  ...extra,
});
const web = { name: 'web', namespace: 'default', labels: { app: 'web' } };

describe('ResourceMetrics', () => {
  it('reports CPU as the rate between two cumulative samples, memory as the working set', () => {
    const m = new ResourceMetrics();
    m.ingest(summary(0, 10, 1 << 20), t0);
    expect(m.podMetrics(web)).toBeUndefined(); // one sample is not a rate yet
    m.ingest(summary(10_000, 12.5, 2 << 20), t0 + 10_000);
    expect(m.podMetrics(web)).toEqual({
      kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: at(10_000), labels: { app: 'web' } },
      timestamp: at(10_000), window: '10s',
      containers: [{ name: 'app', usage: { cpu: '250000000n', memory: '2048Ki' } }],
    });
    expect(m.nodeMetrics({ name: 'n1' })).toMatchObject({ kind: 'NodeMetrics', usage: { cpu: '500000000n', memory: '8192Ki' }, window: '10s' });
  });

  it('skips a pair where the counter went backwards (a restarted container) and uses the kubelet rate if given', () => {
    const m = new ResourceMetrics();
    m.ingest(summary(0, 10, 1024), t0);
    const restarted = summary(10_000, 1, 1024);
    m.ingest(restarted, t0 + 10_000);
    expect(m.podMetrics(web)).toBeUndefined();
    restarted.pods![0]!.containers![0]!.cpu!.usageNanoCores = 7;
    m.ingest({ ...restarted, pods: [{ ...restarted.pods![0]!, containers: [{ ...restarted.pods![0]!.containers![0]!, cpu: { time: at(11_000), usageCoreNanoSeconds: 0.5e9, usageNanoCores: 7 } }] }] }, t0 + 11_000);
    expect(m.podMetrics(web)).toMatchObject({ containers: [{ usage: { cpu: '7n' } }] });
  });

  it('drops a pod that is no longer reported, and a forgotten node with its pods', () => {
    const m = new ResourceMetrics();
    m.ingest(summary(0, 1, 1024), t0);
    m.ingest(summary(1000, 2, 1024), t0 + 1000);
    expect(m.list('PodMetrics', [web])).toMatchObject({ kind: 'PodMetricsList', items: [{ metadata: { name: 'web' } }] });
    m.ingest(summary(2000, 3, 1024, { pods: [] }), t0 + 2000);
    expect(m.list('PodMetrics', [web])).toMatchObject({ items: [] });
    m.forgetNode('n1');
    expect(m.nodeMetrics({ name: 'n1' })).toBeUndefined();
    expect(() => m.get('NodeMetrics', { name: 'n1' }, 'n1')).toThrow('nodes.metrics.k8s.io "n1" not found');
  });

  it('leaves out a pod until every container has a metric', () => {
    const m = new ResourceMetrics();
    const two = (ms: number, s: number): Summary => ({
      node: { nodeName: 'n1' },
      pods: [{ podRef: { name: 'web', namespace: 'default' }, containers: [
        { name: 'a', cpu: { time: at(ms), usageCoreNanoSeconds: s * 1e9 } },
        { name: 'b', ...(ms > 0 ? {} : { cpu: { time: at(ms), usageCoreNanoSeconds: 0 } }) },
      ] }],
    });
    m.ingest(two(0, 1), t0);
    m.ingest(two(1000, 2), t0 + 1000);
    expect(m.podMetrics(web)).toBeUndefined();
  });
});
