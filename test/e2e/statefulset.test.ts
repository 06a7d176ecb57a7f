// StatefulSets and local-path storage against a real `k8ts server` running its own controllers
// and scheduler, with real kubectl. Nodes are API objects driven by a fake kubelet (fake-kubelet.ts);
// the kubelet that mounts the volumes is tested elsewhere. What a user checks: ordinal pods with
// stable identities, a PVC per pod bound to a local-path PV pinned to the pod's node, the pod coming
// back to that node with the same claim after deletion, partitioned rolling updates seen with
// `kubectl rollout status`, scale-down from the top, and volumes deleted with their claims.
import { jest } from '@jest/globals';
import { TestServer, eventually } from './harness.js';
import { withFakeKubelets } from './fake-kubelet.js';

jest.setTimeout(240_000);

const server = new TestServer([], undefined, { controlPlane: true, logLevel: 'info' });
const kubelets = withFakeKubelets(server, ['node-a', 'node-b', 'node-c']);
const ns = 'default';

interface Obj {
  metadata: { name: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string; deletionTimestamp?: string; ownerReferences?: { kind: string; name: string }[] };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
const get = async (path: string) => { const r = await server.request('GET', path); return r.status === 200 ? r.body as Obj : undefined; };
const list = async (path: string) => ((await server.request('GET', path)).body as { items: Obj[] }).items;
const livePods = async () => (await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Ddb`)).filter(p => !p.metadata.deletionTimestamp);

const stsYaml = (image: string, replicas: number) => `apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${ns}}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${ns}}
spec:
  serviceName: db
  replicas: ${replicas}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: c
        image: ${image}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;

describe('StatefulSet with local-path volumes', () => {
  it('ships a default local-path StorageClass as k3s does', async () => {
    const sc = await eventually('the local-path StorageClass', () => get('/apis/storage.k8s.io/v1/storageclasses/local-path'));
    expect(sc).toMatchObject({ provisioner: 'rancher.io/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' });
    const out = await server.kubectl(['get', 'storageclass']);
    expect(out.stdout).toMatch(/local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer/);
  });

  it('creates ordinal pods in order, each with its identity and a bound claim on its node', async () => {
    kubelets.holdNotReady.add('db-0');
    const r = await server.kubectl(['apply', '-f', '-'], { input: stsYaml('postgres:16', 3) });
    expect(r.stderr).toBe('');
    // OrderedReady: while db-0 is not Ready, db-1 is not created.
    await eventually('db-0 bound', async () => (await get(`/api/v1/namespaces/${ns}/pods/db-0`))?.spec?.nodeName);
    await new Promise(res => setTimeout(res, 1500));
    expect((await livePods()).map(p => p.metadata.name)).toEqual(['db-0']);
    kubelets.holdNotReady.delete('db-0');
    const rollout = await server.kubectl(['rollout', 'status', 'statefulset/db', '--timeout=90s'], { timeoutMs: 100_000 });
    // With the defaulted rollingUpdate.partition (0), kubectl reports a partitioned roll out, as upstream.
    expect(rollout.stdout).toContain('partitioned roll out complete: 3 new pods have been updated...');
    expect(rollout.exitCode).toBe(0);
    const pods = (await livePods()).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    expect(pods.map(p => p.metadata.name)).toEqual(['db-0', 'db-1', 'db-2']);
    // OrderedReady: each pod was created no earlier than the previous one.
    for (let i = 1; i < 3; i++) expect(pods[i]!.metadata.creationTimestamp! >= pods[i - 1]!.metadata.creationTimestamp!).toBe(true);
    for (const [i, p] of pods.entries()) {
      expect(p.spec).toMatchObject({ hostname: `db-${i}`, subdomain: 'db' });
      expect(p.metadata.labels).toMatchObject({ 'statefulset.kubernetes.io/pod-name': `db-${i}`, 'apps.kubernetes.io/pod-index': String(i) });
      expect(p.metadata.labels!['controller-revision-hash']).toMatch(/^db-/);
      expect(p.spec!.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: `data-db-${i}` } });
      const pvc = await eventually(`data-db-${i} bound`, async () => { const c = await get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-db-${i}`); return c?.status?.phase === 'Bound' ? c : undefined; });
      expect(pvc.spec).toMatchObject({ storageClassName: 'local-path' });
      expect(pvc.metadata.annotations).toMatchObject({ 'pv.kubernetes.io/bind-completed': 'yes', 'volume.kubernetes.io/selected-node': p.spec!.nodeName });
      const pv = (await get(`/api/v1/persistentvolumes/${pvc.spec!.volumeName as string}`))!;
      expect(pv.status!.phase).toBe('Bound');
      expect(pv.spec).toMatchObject({
        persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'local-path',
        hostPath: { path: `/var/lib/k8ts/storage/${pv.metadata.name}_${ns}_data-db-${i}`, type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [p.spec!.nodeName] }] }] } },
        claimRef: { name: `data-db-${i}`, namespace: ns },
      });
    }
    const sts = (await get(`/apis/apps/v1/namespaces/${ns}/statefulsets/db`))!;
    expect(sts.status).toMatchObject({ replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, observedGeneration: 1 });
    expect(sts.status!.currentRevision).toBe(sts.status!.updateRevision);
    const getSts = await server.kubectl(['get', 'sts', 'db']);
    expect(getSts.stdout).toMatch(/db\s+3\/3/);
    const getPvc = await server.kubectl(['get', 'pvc']);
    expect(getPvc.stdout).toMatch(/data-db-0\s+Bound\s+pvc-[0-9a-f-]+\s+1Gi\s+RWO\s+local-path/);
    const getPv = await server.kubectl(['get', 'pv']);
    expect(getPv.stdout).toMatch(/pvc-[0-9a-f-]+\s+1Gi\s+RWO\s+Delete\s+Bound\s+default\/data-db-1\s+local-path/);
    const describe = await server.kubectl(['describe', 'sts', 'db']);
    expect(describe.stdout).toContain('create Claim data-db-0 Pod db-0 in StatefulSet db success');
    expect(describe.stdout).toContain('create Pod db-2 in StatefulSet db successful');
  });

  it('brings a deleted pod back under its name, on the node that holds its volume, with the same claim', async () => {
    const before = (await get(`/api/v1/namespaces/${ns}/pods/db-1`))!;
    const node = before.spec!.nodeName;
    const pv = (await get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-db-1`))!.spec!.volumeName;
    // Make its node the scheduler's last choice by score: only the volume's node affinity keeps it there.
    expect((await server.kubectl(['taint', 'node', String(node), 'avoid=me:PreferNoSchedule'])).exitCode).toBe(0);
    expect((await server.kubectl(['delete', 'pod', 'db-1', '--wait=false'])).exitCode).toBe(0);
    const after = await eventually('db-1 recreated', async () => {
      const p = await get(`/api/v1/namespaces/${ns}/pods/db-1`);
      return p && p.metadata.uid !== before.metadata.uid && p.spec?.nodeName ? p : undefined;
    });
    expect(after.spec!.nodeName).toBe(node);
    expect((await server.kubectl(['taint', 'node', String(node), 'avoid=me:PreferNoSchedule-'])).exitCode).toBe(0);
    expect((await get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-db-1`))!.spec!.volumeName).toBe(pv);
    expect((await list('/api/v1/persistentvolumes')).length).toBe(3);
  });

  it('rolls out a new image down to the partition, then the rest, highest ordinal first', async () => {
    expect((await server.kubectl(['patch', 'sts', 'db', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}'])).exitCode).toBe(0);
    expect((await server.kubectl(['set', 'image', 'sts/db', 'c=postgres:17'])).exitCode).toBe(0);
    const partial = await server.kubectl(['rollout', 'status', 'sts/db', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(partial.stdout).toContain('partitioned roll out complete: 1 new pods have been updated...');
    const image = async (n: number) => ((await get(`/api/v1/namespaces/${ns}/pods/db-${n}`))!.spec!.containers as { image: string }[])[0]!.image;
    expect([await image(0), await image(1), await image(2)]).toEqual(['postgres:16', 'postgres:16', 'postgres:17']);
    let sts = (await get(`/apis/apps/v1/namespaces/${ns}/statefulsets/db`))!;
    expect(sts.status).toMatchObject({ replicas: 3, updatedReplicas: 1, currentReplicas: 2 });
    expect(sts.status!.currentRevision).not.toBe(sts.status!.updateRevision);

    expect((await server.kubectl(['patch', 'sts', 'db', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}'])).exitCode).toBe(0);
    const full = await server.kubectl(['rollout', 'status', 'sts/db', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(full.stdout).toContain('partitioned roll out complete: 3 new pods have been updated...');
    expect(full.exitCode).toBe(0);
    expect([await image(0), await image(1), await image(2)]).toEqual(['postgres:17', 'postgres:17', 'postgres:17']);
    // db-1 was replaced before db-0.
    const p0 = (await get(`/api/v1/namespaces/${ns}/pods/db-0`))!, p1 = (await get(`/api/v1/namespaces/${ns}/pods/db-1`))!;
    expect(p1.metadata.creationTimestamp! <= p0.metadata.creationTimestamp!).toBe(true);
    sts = (await get(`/apis/apps/v1/namespaces/${ns}/statefulsets/db`))!;
    expect(sts.status).toMatchObject({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentReplicas: 3 });
    expect(sts.status!.currentRevision).toBe(sts.status!.updateRevision);
    const revisions = await list(`/apis/apps/v1/namespaces/${ns}/controllerrevisions`);
    expect(revisions).toHaveLength(2);
    const hist = await server.kubectl(['rollout', 'history', 'sts/db']);
    expect(hist.stdout).toMatch(/REVISION[\s\S]*\n1\s[\s\S]*\n2\s/);
  });

  it('rolls back with kubectl rollout undo, reusing the old revision', async () => {
    const undo = await server.kubectl(['rollout', 'undo', 'sts/db']);
    expect(undo.stdout).toContain('statefulset.apps/db rolled back');
    const out = await server.kubectl(['rollout', 'status', 'sts/db', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(out.exitCode).toBe(0);
    await eventually('all pods back on postgres:16', async () => {
      const ps = await livePods();
      return ps.length === 3 && ps.every(p => (p.spec!.containers as { image: string }[])[0]!.image === 'postgres:16') ? true : undefined;
    });
    const revisions = await list(`/apis/apps/v1/namespaces/${ns}/controllerrevisions`);
    expect(revisions.map(r => (r as unknown as { revision: number }).revision).sort()).toEqual([2, 3]);
  });

  it('scales down from the highest ordinal and keeps the claims', async () => {
    expect((await server.kubectl(['scale', 'sts/db', '--replicas=1'])).exitCode).toBe(0);
    await eventually('one pod left', async () => { const ps = await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Ddb`); return ps.length === 1 ? ps : undefined; });
    expect((await livePods()).map(p => p.metadata.name)).toEqual(['db-0']);
    const claims = (await list(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)).map(c => c.metadata.name).sort();
    expect(claims).toEqual(['data-db-0', 'data-db-1', 'data-db-2']);
    const sts = await eventually('status replicas 1', async () => { const s = await get(`/apis/apps/v1/namespaces/${ns}/statefulsets/db`); return s?.status?.replicas === 1 ? s : undefined; });
    expect(sts.status).toMatchObject({ readyReplicas: 1, currentReplicas: 1, updatedReplicas: 1 });
  });

  it('leaves a pod whose claim does not exist unscheduled, saying why', async () => {
    const r = await server.request('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan' }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'nope' } }] } });
    expect(r.status).toBe(201);
    const p = await eventually('PodScheduled=False', async () => { const x = await get(`/api/v1/namespaces/${ns}/pods/orphan`); return (x?.status?.conditions as unknown[] | undefined)?.length ? x : undefined; });
    expect((p.status!.conditions as unknown[])[0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 persistentvolumeclaim "nope" not found.' });
    await server.request('DELETE', `/api/v1/namespaces/${ns}/pods/orphan`, { gracePeriodSeconds: 0 });
  });

  it('deletes the provisioned volumes with their claims (reclaimPolicy Delete)', async () => {
    expect((await server.kubectl(['delete', 'sts', 'db'])).exitCode).toBe(0);
    await eventually('pods gone', async () => ((await list(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Ddb`)).length === 0 ? true : undefined));
    expect((await list('/api/v1/persistentvolumes')).length).toBe(3); // claims outlive the set
    expect((await server.kubectl(['delete', 'pvc', '--all'])).exitCode).toBe(0);
    await eventually('volumes deleted', async () => ((await list('/api/v1/persistentvolumes')).length === 0 ? true : undefined));
  });
});
