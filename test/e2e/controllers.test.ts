// The control plane (controllers + scheduler from control/controllers/index.ts) against a real
// `k8ts server`. Until `k8ts server` starts it itself, this suite starts it in the test process
// with the `system:kube-controller-manager` client certificate issued from the server's own PKI,
// exactly as the server will. There is no kubelet: Nodes are API objects, and a fake kubelet
// below marks bound pods Running/Ready through `/status` and finishes graceful deletions.
import { jest } from '@jest/globals';
import { ensureClusterPki, identities } from '../../control/apiserver/pki.js';
import { startControlPlane, type ControlPlane } from '../../control/controllers/index.js';
import { eventually, TestServer } from './harness.js';

jest.setTimeout(240_000);

// The test runs its own control plane (to exercise leader-election failover), so the server's
// built-in one is switched off.
const server = new TestServer();
let cp: ControlPlane | undefined;
let kubelet = true;
let kubeletLoop: Promise<void> | undefined;
const ns = 'default';

interface Obj { metadata: { name: string; uid?: string; deletionTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] }; spec?: Record<string, unknown>; status?: Record<string, unknown> }
interface List { items: Obj[] }

/** Calls `get` until `ok` holds of its result; a timeout shows the last result. */
function untilOk<T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  let last: T | undefined;
  return eventually(what, async () => { last = await get(); return ok(last) ? last : undefined; }, timeoutMs, { stepMs: 150, detail: () => `last: ${JSON.stringify(last).slice(0, 1500)}` });
}

const list = async (path: string) => (await server.request('GET', path)).body as List;
const pods = async (selector = 'app=web') => (await list(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
const patch = async (path: string, body: unknown) => {
  const r = await server.raw('PATCH', path, { body: JSON.stringify(body), headers: { 'Content-Type': 'application/merge-patch+json' } });
  if (r.status !== 200 && r.status !== 404) throw new Error(`PATCH ${path}: ${r.status} ${JSON.stringify(r.body)}`);
};
const get = async (path: string) => (await server.request('GET', path)).body as Obj;

/** A fake kubelet: bound pods become Running and Ready with an IP; terminating pods go away. */
async function fakeKubelet(): Promise<void> {
  let ip = 10;
  const ips = new Map<string, string>();
  while (kubelet) {
    const all = (await list('/api/v1/pods')).items;
    for (const p of all) {
      const key = `${p.metadata.name}`;
      if (p.metadata.deletionTimestamp) {
        await server.request('DELETE', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}`, { gracePeriodSeconds: 0 });
        continue;
      }
      if (!p.spec?.nodeName || (p.status?.conditions as { type: string }[] | undefined)?.some(c => c.type === 'Ready')) continue;
      if (!ips.has(key)) ips.set(key, `10.42.${Math.floor(ip / 250)}.${(ip++ % 250) + 2}`);
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      await patch(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status`, {
        status: { phase: 'Running', podIP: ips.get(key), podIPs: [{ ip: ips.get(key) }], hostIP: '192.168.0.1', startTime: now, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'True', lastTransitionTime: now }, { type: 'Ready', status: 'True', lastTransitionTime: now }] },
      });
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  await server.start();
  const pki = await ensureClusterPki({ dataDir: server.dataDir, serviceCidr: '10.43.0.0/16' });
  const cm = await pki.ensureClientCert('controller-manager', identities.controllerManager);
  // The scheduler runs as system:kube-scheduler, so the authorizer's scheduler rules are exercised.
  const sc = await pki.ensureClientCert('scheduler', identities.scheduler);
  cp = await startControlPlane({ server: server.url, caPem: server.caPem().toString(), controllerManager: { cert: cm.certPem, key: cm.keyPem }, scheduler: { cert: sc.certPem, key: sc.keyPem }, clusterCidr: '10.42.0.0/16' });
  for (let i = 0; i < 3; i++) {
    const r = await server.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}` } },
      status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(r.status).toBe(201);
  }
  kubeletLoop = fakeKubelet();
});

afterAll(async () => {
  kubelet = false;
  await kubeletLoop?.catch(() => undefined);
  await cp?.stop();
  await server.stop();
});

const deploymentYaml = (image: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: ${image}
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`;

describe('controllers and scheduler against a real server', () => {
  it('takes the controller-manager and scheduler leases', async () => {
    const lease = await untilOk(() => get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager'), l => Boolean(l.spec?.holderIdentity), 'the controller-manager lease');
    expect(lease.spec!.leaseDurationSeconds).toBe(15);
    await untilOk(() => get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler'), l => Boolean(l.spec?.holderIdentity), 'the scheduler lease');
  });

  it('gives every Node its own /24 podCIDR', async () => {
    const nodes = await untilOk(() => list('/api/v1/nodes'), l => l.items.length === 3 && l.items.every(n => n.spec?.podCIDR), 'podCIDRs');
    const cidrs = nodes.items.map(n => n.spec!.podCIDR as string);
    expect(new Set(cidrs).size).toBe(3);
    for (const c of cidrs) expect(c).toMatch(/^10\.42\.\d+\.0\/24$/);
  });

  it('a Deployment creates a ReplicaSet and pods that the scheduler binds to the Nodes', async () => {
    const r = await server.kubectl(['apply', '-f', '-'], { input: deploymentYaml('nginx:1.25', 3) });
    expect(r.stderr).toBe('');
    const rses = await untilOk(() => list(`/apis/apps/v1/namespaces/${ns}/replicasets`), l => l.items.length === 1, 'a ReplicaSet');
    const rs = rses.items[0]!;
    expect(rs.metadata.name).toMatch(/^web-[a-z0-9]+$/);
    expect(rs.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('1');
    const bound = await untilOk(() => pods(), ps => ps.length === 3 && ps.every(p => p.spec?.nodeName), 'three bound pods');
    for (const p of bound) expect(p.metadata.ownerReferences![0]).toMatchObject({ kind: 'ReplicaSet', name: rs.metadata.name });
    // Spreading: three pods of one ReplicaSet on three empty nodes land on three different nodes.
    expect(new Set(bound.map(p => p.spec!.nodeName)).size).toBe(3);
    const out = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    expect(out.stdout).toContain('successfully rolled out');
    expect(out.exitCode).toBe(0);
  });

  it('an EndpointSlice follows the ready pods of a Service, with named ports resolved', async () => {
    const r = await server.request('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    expect(r.status).toBe(201);
    const slices = await untilOk(() => list(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`),
      l => l.items.length === 1 && ((l.items[0] as unknown as { endpoints?: unknown[] }).endpoints ?? []).length === 3, 'a slice with three endpoints');
    const slice = slices.items[0] as unknown as { ports: { name: string; port: number }[]; endpoints: { conditions: { ready: boolean }; nodeName: string; targetRef: { kind: string } }[]; metadata: Obj['metadata'] & { labels: Record<string, string> } };
    expect(slice.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(slice.endpoints.every(e => e.conditions.ready && e.nodeName && e.targetRef.kind === 'Pod')).toBe(true);
    expect(slice.metadata.labels['endpointslice.kubernetes.io/managed-by']).toBe('endpointslice-controller.k8s.io');
    // The change that caused the write, for proxies' network programming latency (as upstream).
    const trigger = (slice.metadata as { annotations?: Record<string, string> }).annotations?.['endpoints.kubernetes.io/last-change-trigger-time'];
    expect(Date.parse(trigger ?? '')).toBeGreaterThan(Date.parse('2026-01-01T00:00:00Z'));
    const ep = await untilOk(() => get(`/api/v1/namespaces/${ns}/endpoints/web`), e => ((e as unknown as { subsets?: { addresses?: unknown[] }[] }).subsets?.[0]?.addresses ?? []).length === 3, 'Endpoints with three addresses');
    expect(ep).toBeDefined();
  });

  it('scales the Deployment, and the slice follows', async () => {
    const r = await server.kubectl(['scale', 'deployment/web', '--replicas=5']);
    expect(r.exitCode).toBe(0);
    await untilOk(() => pods(), ps => ps.filter(p => !p.metadata.deletionTimestamp && p.spec?.nodeName).length === 5, 'five bound pods');
    const out = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    expect(out.exitCode).toBe(0);
    await untilOk(() => list(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`),
      l => l.items.reduce((n, s) => n + ((s as unknown as { endpoints?: { conditions: { ready: boolean } }[] }).endpoints ?? []).filter(e => e.conditions.ready).length, 0) === 5, 'five ready endpoints');
  });

  it('rolls out a new image, observed with kubectl rollout status', async () => {
    const r = await server.kubectl(['set', 'image', 'deployment/web', 'c=nginx:1.26']);
    expect(r.exitCode).toBe(0);
    const out = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(out.stdout).toContain('deployment "web" successfully rolled out');
    expect(out.exitCode).toBe(0);
    const d = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    expect(d.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.status).toMatchObject({ replicas: 5, updatedReplicas: 5, readyReplicas: 5, availableReplicas: 5 });
    const conds = d.status!.conditions as { type: string; status: string; reason: string }[];
    expect(conds.find(c => c.type === 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(conds.find(c => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
    const rses = (await list(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items;
    expect(rses.map(x => x.spec!.replicas).sort()).toEqual([0, 5]);
    const live = (await pods()).filter(p => !p.metadata.deletionTimestamp);
    expect(live.every(p => (p.spec!.containers as { image: string }[])[0]!.image === 'nginx:1.26')).toBe(true);
    const describe = await server.kubectl(['describe', 'deployment', 'web']);
    expect(describe.stdout).toMatch(/ScalingReplicaSet\s.*Scaled up replica set web-/);
    expect(describe.stdout).toContain('NewReplicaSetAvailable');
    const rsDescribe = await server.kubectl(['describe', 'replicaset', '-l', 'app=web']);
    expect(rsDescribe.stdout).toContain('SuccessfulCreate');
    const hist = await server.kubectl(['rollout', 'history', 'deployment/web']);
    expect(hist.stdout).toMatch(/1\s/);
    expect(hist.stdout).toMatch(/2\s/);
  });

  it('rolls back with kubectl rollout undo, and restarts with kubectl rollout restart', async () => {
    const undo = await server.kubectl(['rollout', 'undo', 'deployment/web']);
    expect(undo.exitCode).toBe(0);
    const out = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(out.exitCode).toBe(0);
    let d = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    expect(d.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('3');
    expect(((d.spec!.template as { spec: { containers: { image: string }[] } }).spec.containers[0]!.image)).toBe('nginx:1.25');
    // Still two ReplicaSets: the old one was reused, not copied.
    expect((await list(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items).toHaveLength(2);
    const restart = await server.kubectl(['rollout', 'restart', 'deployment/web']);
    expect(restart.exitCode).toBe(0);
    const out2 = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(out2.exitCode).toBe(0);
    d = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    expect(d.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('4');
  });

  it('does nothing while paused and resumes the rollout on resume', async () => {
    expect((await server.kubectl(['rollout', 'pause', 'deployment/web'])).exitCode).toBe(0);
    expect((await server.kubectl(['set', 'image', 'deployment/web', 'c=nginx:1.27'])).exitCode).toBe(0);
    await new Promise(r => setTimeout(r, 1500));
    expect((await list(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items).toHaveLength(3);
    const d = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    expect((d.status!.conditions as { type: string; reason: string }[]).find(c => c.type === 'Progressing')!.reason).toBe('DeploymentPaused');
    expect((await server.kubectl(['rollout', 'resume', 'deployment/web'])).exitCode).toBe(0);
    const out = await server.kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(out.exitCode).toBe(0);
    expect((await list(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items).toHaveLength(4);
  });

  it('marks a pod that fits nowhere PodScheduled=False with the upstream reason and message', async () => {
    const r = await server.request('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'huge', labels: { app: 'huge' } }, spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '64' } } }] } });
    expect(r.status).toBe(201);
    const p = await untilOk(() => get(`/api/v1/namespaces/${ns}/pods/huge`), x => Boolean((x.status?.conditions as unknown[] | undefined)?.length), 'the PodScheduled condition');
    expect((p.status!.conditions as unknown[])[0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' });
    const describe = await server.kubectl(['describe', 'pod', 'huge']);
    expect(describe.stdout).toContain('FailedScheduling');
    await server.request('DELETE', `/api/v1/namespaces/${ns}/pods/huge`, { gracePeriodSeconds: 0 });
  });

  it('garbage-collects the ReplicaSets and pods of a deleted Deployment', async () => {
    const r = await server.kubectl(['delete', 'deployment', 'web']);
    expect(r.exitCode).toBe(0);
    await untilOk(() => list(`/apis/apps/v1/namespaces/${ns}/replicasets`), l => l.items.length === 0, 'no ReplicaSets');
    await untilOk(() => pods(), ps => ps.length === 0, 'no pods');
  });

  it('orphans dependents with --cascade=orphan', async () => {
    await server.kubectl(['apply', '-f', '-'], { input: deploymentYaml('nginx:1.25', 1) });
    await untilOk(() => list(`/apis/apps/v1/namespaces/${ns}/replicasets`), l => l.items.length === 1, 'a ReplicaSet');
    const r = await server.kubectl(['delete', 'deployment', 'web', '--cascade=orphan']);
    expect(r.exitCode).toBe(0);
    await untilOk(() => server.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/web`), x => x.status === 404, 'the Deployment gone');
    const rs = (await list(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items;
    expect(rs).toHaveLength(1);
    expect(rs[0]!.metadata.ownerReferences ?? []).toEqual([]);
  });

  it('a second control plane waits on the leases and takes over when the first stops', async () => {
    const pki = await ensureClusterPki({ dataDir: server.dataDir, serviceCidr: '10.43.0.0/16' });
    const cm = await pki.ensureClientCert('controller-manager', identities.controllerManager);
    const leasePath = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager';
    const first = (await get(leasePath)).spec!.holderIdentity;
    const second = await startControlPlane({ server: server.url, caPem: server.caPem().toString(), controllerManager: { cert: cm.certPem, key: cm.keyPem }, clusterCidr: '10.42.0.0/16', identity: 'second' });
    try {
      await new Promise(r => setTimeout(r, 3000));
      expect((await get(leasePath)).spec!.holderIdentity).toBe(first);
      await cp!.stop();
      cp = undefined;
      await untilOk(() => get(leasePath), l => l.spec?.holderIdentity === 'second', 'the second control plane leading', 30_000);
      await untilOk(() => get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler'), l => l.spec?.holderIdentity === 'second', 'the second scheduler leading', 30_000);
      // And it acts: the orphaned ReplicaSet from the previous test is scaled to its pods.
      const r = await server.kubectl(['scale', 'replicaset', '--all', '--replicas=2']);
      expect(r.exitCode).toBe(0);
      await untilOk(() => pods(), ps => ps.filter(p => !p.metadata.deletionTimestamp && p.spec?.nodeName).length === 2, 'two bound pods from the new leader');
    } finally {
      await second.stop();
    }
  });
});
