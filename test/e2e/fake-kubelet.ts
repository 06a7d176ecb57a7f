// A stand-in for the kubelets of API-only Nodes in control-plane e2e tests: it registers Nodes,
// renews their Leases in kube-node-lease and their Ready heartbeat, marks pods bound to them
// Running and Ready through `/status`, and finishes graceful deletions, exactly through the API
// a kubelet uses. A node can be "stopped" (no lease, no status, its pods left alone) and
// "started" again, which is what the node lifecycle controller reacts to.
import type { TestServer } from './harness.js';

interface Obj { metadata: { name: string; namespace?: string; deletionTimestamp?: string }; spec?: { nodeName?: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } }

const rfc3339 = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The usual set-up of a control-plane test file: `server` started and these nodes registered and
 * heartbeating before the file's tests (beforeAll), both stopped after them (afterAll).
 */
export function withFakeKubelets(server: TestServer, nodes: string[]): FakeKubelets {
  const kubelets = new FakeKubelets(server, nodes);
  beforeAll(async () => {
    await server.start();
    await kubelets.register();
    kubelets.start();
  });
  afterAll(async () => {
    await kubelets.stop();
    await server.stop();
  });
  return kubelets;
}

export class FakeKubelets {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly stoppedNodes = new Set<string>();
  private readonly ips = new Map<string, string>();
  private nextIp = 10;
  private lastBeat = 0;
  /** Pods the kubelet will not make Ready (to hold an OrderedReady StatefulSet, say). */
  readonly holdNotReady = new Set<string>();

  constructor(private readonly server: TestServer, readonly nodes: string[]) {}

  async register(): Promise<void> {
    for (const name of this.nodes) {
      const r = await this.server.request('POST', '/api/v1/nodes', {
        apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
        status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: rfc3339(), lastTransitionTime: rfc3339() }] },
      });
      if (r.status !== 201) throw new Error(`registering node ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await this.heartbeat(true);
  }

  start(): void { this.running = true; this.loop = this.run(); }
  async stop(): Promise<void> { this.running = false; await this.loop?.catch(() => undefined); }

  /** The node's kubelet dies: no lease renewals, no status, its pods untouched. */
  stopNode(name: string): void { this.stoppedNodes.add(name); }
  async startNode(name: string): Promise<void> { this.stoppedNodes.delete(name); await this.heartbeat(true); }

  private async heartbeat(force = false): Promise<void> {
    if (!force && Date.now() - this.lastBeat < 2000) return;
    this.lastBeat = Date.now();
    const now = new Date();
    for (const name of this.nodes) {
      if (this.stoppedNodes.has(name)) continue;
      const renewTime = now.toISOString().replace('Z', '000Z');
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
      const r = await this.server.raw('PATCH', path, { body: JSON.stringify({ spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
      if (r.status === 404) {
        await this.server.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime } });
      }
      // As a kubelet does when its Ready condition is not what it reports, post status again.
      const node = (await this.server.request('GET', `/api/v1/nodes/${name}`)).body as Obj;
      const ready = node.status?.conditions?.find(c => c.type === 'Ready');
      if (force || ready?.status !== 'True') {
        await this.server.raw('PATCH', `/api/v1/nodes/${name}/status`, {
          body: JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: rfc3339(now), lastTransitionTime: rfc3339(now) }] } }),
          headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
        });
      }
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.heartbeat();
        const pods = ((await this.server.request('GET', '/api/v1/pods')).body as { items: Obj[] }).items;
        for (const p of pods) {
          const node = p.spec?.nodeName;
          if (!node || !this.nodes.includes(node) || this.stoppedNodes.has(node)) continue;
          const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
          if (p.metadata.deletionTimestamp) { await this.server.request('DELETE', path, { gracePeriodSeconds: 0 }); continue; }
          if (this.holdNotReady.has(p.metadata.name)) continue;
          if (p.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True')) continue;
          const key = `${p.metadata.namespace}/${p.metadata.name}`;
          if (!this.ips.has(key)) { const n = this.nextIp++; this.ips.set(key, `10.42.${Math.floor(n / 250)}.${(n % 250) + 2}`); }
          const now = rfc3339();
          await this.server.raw('PATCH', `${path}/status`, {
            body: JSON.stringify({ status: { phase: 'Running', podIP: this.ips.get(key), podIPs: [{ ip: this.ips.get(key) }], hostIP: '192.168.0.1', startTime: now, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'True', lastTransitionTime: now }, { type: 'Ready', status: 'True', lastTransitionTime: now }] } }),
            headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
          });
        }
      } catch { /* the server may be going away; try again */ }
      await new Promise(r => setTimeout(r, 150));
    }
  }
}
