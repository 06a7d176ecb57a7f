import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { NodeLifecycleController, desiredTaints, evictionDelayMs, nodeHealth, observe } from './nodelifecycle.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

const t0 = Date.parse('2026-01-01T00:00:00Z');
const node = (ready: string, taints: Taint[] = []): Node => ({
  metadata: { name: 'n1' },
  spec: { taints },
  status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: '2026-01-01T00:00:00Z' }, { type: 'MemoryPressure', status: 'False' }] },
});

describe('node health', () => {
  it('marks the conditions Unknown only after the grace period without a heartbeat', () => {
    const n = node('True');
    const obs = observe(undefined, n, undefined, t0);
    expect(nodeHealth(n, obs, t0 + 40_000, 40_000)).toBeUndefined();
    const conds = nodeHealth(n, obs, t0 + 40_001, 40_000)!;
    expect(conds.find(c => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(conds.find(c => c.type === 'DiskPressure')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusNeverUpdated' });
  });
  it('a renewed lease counts as a heartbeat', () => {
    const n = node('True');
    const lease = (renewTime: string): Lease => ({ spec: { renewTime } });
    const obs = observe(undefined, n, lease('2026-01-01T00:00:00.000000Z'), t0);
    const obs2 = observe(obs, n, lease('2026-01-01T00:00:30.000000Z'), t0 + 30_000);
    expect(nodeHealth(n, obs2, t0 + 50_000, 40_000)).toBeUndefined();
  });
});

describe('desiredTaints', () => {
  it('follows the Ready condition and keeps other taints and the NoExecute timeAdded', () => {
    const other = { key: 'dedicated', value: 'db', effect: 'NoSchedule' as const };
    expect(desiredTaints(node('True', [other]), t0)).toBeUndefined();
    const un = desiredTaints(node('Unknown', [other]), t0)!;
    expect(un).toEqual([other, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' }]);
    expect(desiredTaints(node('Unknown', un), t0 + 5000)).toBeUndefined();
    expect(desiredTaints(node('False', un), t0)!.map(t => t.key)).toEqual(['dedicated', 'node.kubernetes.io/not-ready', 'node.kubernetes.io/not-ready']);
    expect(desiredTaints(node('True', un), t0)).toEqual([other]);
  });

  it('adds a NoSchedule taint per pressure condition that is True, and removes it when it is not', () => {
    const under = (types: string[], taints: Taint[] = []): Node => {
      const n = node('True', taints);
      n.status!.conditions = [...n.status!.conditions!.filter(c => c.type === 'Ready'), ...['MemoryPressure', 'DiskPressure', 'PIDPressure'].map(type => ({ type, status: types.includes(type) ? 'True' : 'False' }))];
      return n;
    };
    const other = { key: 'node.kubernetes.io/disk-pressure', effect: 'NoExecute' as const };
    const all = desiredTaints(under(['MemoryPressure', 'DiskPressure', 'PIDPressure'], [other]), t0)!;
    expect(all).toEqual([other, { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' }]);
    expect(desiredTaints(under(['MemoryPressure', 'DiskPressure', 'PIDPressure'], all), t0)).toBeUndefined();
    expect(desiredTaints(under(['DiskPressure'], all), t0)).toEqual([other, { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }]);
    // Unknown (a node gone silent) is no pressure: only the unreachable taints remain.
    const gone = under([], all);
    gone.status!.conditions = gone.status!.conditions!.map(c => ({ ...c, status: 'Unknown' }));
    expect(desiredTaints(gone, t0)!.map(t => `${t.key}:${t.effect}`)).toEqual(['node.kubernetes.io/disk-pressure:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute']);
  });
});

describe('evictionDelayMs', () => {
  const taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const, timeAdded: '2026-01-01T00:00:00Z' };
  const pod = (tolerations: NonNullable<NonNullable<Pod['spec']>['tolerations']>): Pod => ({ spec: { containers: [], tolerations } });
  it('evicts at once without a toleration, after tolerationSeconds with one, never without a limit', () => {
    expect(evictionDelayMs(pod([]), [taint], t0)).toBe(0);
    expect(evictionDelayMs(pod([{ key: taint.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }]), [taint], t0 + 100_000)).toBe(200_000);
    expect(evictionDelayMs(pod([{ key: taint.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }]), [taint], t0 + 400_000)).toBe(0);
    expect(evictionDelayMs(pod([{ operator: 'Exists' }]), [taint], t0)).toBeUndefined();
    expect(evictionDelayMs(pod([]), [{ ...taint, effect: 'NoSchedule' }], t0)).toBeUndefined();
  });
});

describe('NodeLifecycleController', () => {
  it('marks a silent node Unknown, taints it, marks its pods not ready, evicts them after their toleration, and untaints it when it returns', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ctl = new NodeLifecycleController(ctx, { gracePeriodMs: 200, monitorPeriodMs: 50 });
    await c.create(resources.nodes, undefined, node('True'));
    await c.create(resources.pods, 'default', { metadata: { name: 'p', namespace: 'default' }, spec: { nodeName: 'n1', containers: [], tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1 }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    await ctx.informers.start();
    ctl.start();
    await until(() => c.peek<Node>(resources.nodes, undefined, 'n1')!.status!.conditions!.find(x => x.type === 'Ready')!.status === 'Unknown');
    await until(() => (c.peek<Node>(resources.nodes, undefined, 'n1')!.spec?.taints ?? []).length === 2);
    await until(() => c.peek<Pod>(resources.pods, 'default', 'p')?.status?.conditions?.find(x => x.type === 'Ready')?.status === 'False');
    expect(c.peek(resources.pods, 'default', 'p')).toBeDefined(); // tolerated for 1 s
    await until(() => !c.peek(resources.pods, 'default', 'p'), 3000);
    // The kubelet comes back.
    await c.patch(resources.nodes, undefined, 'n1', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-01-01T01:00:00Z' }] } }, { subresource: 'status' });
    await until(() => (c.peek<Node>(resources.nodes, undefined, 'n1')!.spec?.taints ?? []).length === 0);
    await ctl.stop(); ctx.informers.stop();
  });
});
