// The controllers end to end on a real multi-node `k8ts lab` (issue 6): real kubelets on real
// containerds in node network namespaces, the real test image, real kubectl. One 3-node lab is
// shared by the cases (CI time); the slow-to-observe objects (the Jobs with back-off, the CronJob
// waiting for its minute) are created first and checked later, so their waits overlap the others.
// - StatefulSet: a file written into the volumeClaimTemplate's volume (a local-path hostPath PV)
//   survives deleting the pod; the new pod comes back on the same node and reads it; with
//   whenDeleted: Delete the claim and its volume go with the set, and the agent removes the
//   volume's folder from the node's disk.
// - DaemonSet: a node that joins the running lab (`k8ts lab add-node`) gets its daemon pod; a node
//   that leaves (agent stopped, Node deleted) loses it, and the status counts follow; PodGC then
//   force-deletes that pod, left Terminating with no kubelet to finish it.
// - Job: a pod that fails twice, then succeeds, with the exponential back-off between the tries
//   (10 s, then 20 s); another that always fails passes its backoffLimit → Failed condition.
// - CronJob: `* * * * *` makes a Job for the scheduled minute, which completes; status records it.
// - Deployment: a rollout (`kubectl set env`) and `kubectl rollout undo`, followed with `kubectl
//   rollout status|history`, the variable read back from the running containers.
// - Node stopped (`k8ts lab stop-node`): the node lifecycle controller (server started with a 15 s
//   --node-monitor-grace-period) marks it Unknown with the unreachable NoExecute taint, its
//   Deployment pod (tolerating that for 2 s) is evicted, and the Deployment runs again elsewhere.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { testImageName } from '../images/build-busybox-image.js';
import { eventually, k8tsBin, kubectlPath } from './harness.js';

jest.setTimeout(180_000);

const name = `ctl${randomBytes(2).toString('hex')}`;
const labDir = `/var/lib/k8ts-lab/${name}`;
const ns = 'ctl';
const kubectlBin = kubectlPath(32);
// Above the kubelet's 10 s Lease renewal (upstream: 40 s), so healthy nodes never flap Unknown.
const GRACE = '15s';
let kubeconfig = '';
let up = false;

interface Obj {
  metadata: { name: string; uid?: string; creationTimestamp?: string; deletionTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
  spec?: Record<string, unknown> & { nodeName?: string; taints?: { key: string; effect: string }[] };
  status?: Record<string, unknown> & {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { state?: { terminated?: { finishedAt?: string; exitCode?: number } } }[];
  };
}

const kubectl = (args: string[], input?: string, timeout = 60_000) =>
  execa(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout, ...(input !== undefined ? { input } : {}) });
async function getJSON<T = Obj>(args: string[]): Promise<T | undefined> {
  const r = await kubectl(['get', '-o', 'json', ...args]);
  return r.exitCode === 0 ? JSON.parse(r.stdout) as T : undefined;
}
const list = async (args: string[]) => (await getJSON<{ items: Obj[] }>(args))?.items ?? [];
async function apply(yaml: string): Promise<void> {
  const r = await kubectl(['apply', '-f', '-'], yaml);
  if (r.exitCode !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}
const lab = (args: string[], timeout = 150_000) => execa(k8tsBin, ['lab', ...args, '--name', name], { reject: false, timeout });
const cond = (o: Obj | undefined, type: string) => o?.status?.conditions?.find(c => c.type === type);
const ready = (p: Obj) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && cond(p, 'Ready')?.status === 'True';
const nodeName = (i: number) => `${name}-n${i}`;

const jobYaml = (job: string, backoffLimit: number, script: string) => `apiVersion: batch/v1
kind: Job
metadata: {name: ${job}, namespace: ${ns}}
spec:
  backoffLimit: ${backoffLimit}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      nodeSelector: {kubernetes.io/hostname: ${nodeName(1)}}
      volumes: [{name: state, hostPath: {path: ${labDir}/job-state/${job}, type: DirectoryOrCreate}}]
      containers:
      - name: main
        image: ${testImageName}
        command: [sh, -c, '${script}']
        volumeMounts: [{name: state, mountPath: /s}]
`;

beforeAll(async () => {
  const t0 = Date.now();
  const r = await lab(['up', '--nodes', '3', '--network', 'vxlan', `--server-arg=--node-monitor-grace-period=${GRACE}`, '--server-arg=--node-monitor-period=1s']);
  process.stderr.write(`k8ts lab up (3 nodes): ${Date.now() - t0} ms\n`);
  if (r.exitCode !== 0) throw new Error(`lab up failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  up = true;
  kubeconfig = (JSON.parse(readFileSync(`${labDir}/lab.json`, 'utf8')) as { kubeconfig: string }).kubeconfig;
  expect((await kubectl(['create', 'namespace', ns])).exitCode).toBe(0);
  // The slow ones first: their waits overlap the other cases.
  await apply(`apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: ${ns}}
spec:
  schedule: '* * * * *'
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          # (node 1: never on the node the DaemonSet case adds and removes meanwhile)
          nodeSelector: {kubernetes.io/hostname: ${nodeName(1)}}
          containers: [{name: tick, image: ${testImageName}, command: [sh, -c, 'echo tick']}]
`);
  // Fails on its first two runs, succeeds on the third (the count lives on node 1's disk).
  await apply(jobYaml('flaky', 4, 'n=$(cat /s/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /s/n; echo run $n; [ $n -ge 3 ]'));
  await apply(jobYaml('doomed', 1, 'echo failing; exit 3'));
}, 240_000);

afterAll(async () => {
  if (!up && !existsSync(labDir)) return;
  if (process.env.K8TS_LAB_E2E_KEEP) { process.stderr.write(`K8TS_LAB_E2E_KEEP: lab ${name} left up\n`); return; }
  const r = await lab(['down'], 120_000);
  if (r.exitCode !== 0) process.stderr.write(`lab down: ${r.stdout}\n${r.stderr}\n`);
}, 150_000);

test('StatefulSet: data in the claim survives deleting the pod, which comes back to the same node', async () => {
  // A local-path class of the lab's own (nodePath under the lab's folder: `lab down` removes it).
  await apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: lab-${name}}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
parameters: {nodePath: ${labDir}/storage}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${ns}}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${ns}}
spec:
  serviceName: db
  replicas: 1
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: ${testImageName}
        command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: lab-${name}, resources: {requests: {storage: 16Mi}}}
`);
  const first = await eventually('db-0 Ready', async () => { const p = await getJSON(['-n', ns, 'pod', 'db-0']); return p && ready(p) ? p : undefined; }, 90_000);
  const node = first.spec!.nodeName!;
  const token = randomBytes(8).toString('hex');
  const w = await kubectl(['-n', ns, 'exec', 'db-0', '--', 'sh', '-c', `echo ${token} > /data/token && hostname > /data/writer`]);
  expect(w.exitCode).toBe(0);

  // The claim is bound to a hostPath PV pinned to that node, and the file is on that volume.
  const pvc = await getJSON(['-n', ns, 'pvc', 'data-db-0']);
  expect(pvc?.status?.phase).toBe('Bound');
  const pv = await getJSON<{ spec: { hostPath: { path: string }; nodeAffinity: { required: { nodeSelectorTerms: { matchExpressions?: { values: string[] }[] }[] } } } }>(['pv', String(pvc?.spec?.['volumeName'])]);
  expect(JSON.stringify(pv?.spec.nodeAffinity)).toContain(node);
  expect(pv?.spec.hostPath.path.startsWith(`${labDir}/storage/`)).toBe(true);
  expect(readFileSync(`${pv!.spec.hostPath.path}/token`, 'utf8').trim()).toBe(token);

  expect((await kubectl(['-n', ns, 'delete', 'pod', 'db-0', '--wait=true'])).exitCode).toBe(0);
  const second = await eventually('a new db-0 Ready', async () => {
    const p = await getJSON(['-n', ns, 'pod', 'db-0']);
    return p && p.metadata.uid !== first.metadata.uid && ready(p) ? p : undefined;
  }, 90_000);
  expect(second.spec!.nodeName).toBe(node);
  const r = await kubectl(['-n', ns, 'exec', 'db-0', '--', 'cat', '/data/token']);
  expect(r.stdout.trim()).toBe(token);

  // whenDeleted: Delete — the claim (owned by the set) goes with it, and its volume after it.
  expect((await kubectl(['-n', ns, 'delete', 'statefulset', 'db'])).exitCode).toBe(0);
  await eventually('the claim and its volume deleted with the set', async () => {
    const gone = (await kubectl(['-n', ns, 'get', 'pvc', 'data-db-0'])).exitCode !== 0 && (await kubectl(['get', 'pv', String(pvc?.spec?.['volumeName'])])).exitCode !== 0;
    return gone ? true : undefined;
  }, 60_000);
  // … and the agent of that node removes the volume's folder from its disk (k3s: a helper pod).
  await eventually('the volume folder removed from the node', async () => (existsSync(pv!.spec.hostPath.path) ? undefined : true), 30_000);
});

test('DaemonSet: follows a node that joins the running lab and one that leaves', async () => {
  await apply(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agentd, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: agentd}}
  template:
    metadata: {labels: {app: agentd}}
    spec:
      terminationGracePeriodSeconds: 5
      containers: [{name: d, image: ${testImageName}, command: [sleep, '3600']}]
`);
  const onNodes = async () => (await list(['-n', ns, 'pods', '-l', 'app=agentd'])).filter(ready).map(p => p.spec!.nodeName!).sort();
  const n4Pod = async () => (await list(['-n', ns, 'pods', '-l', 'app=agentd'])).find(p => p.spec?.nodeName === nodeName(4));
  const status = async () => (await getJSON(['-n', ns, 'ds', 'agentd']))?.status ?? {};
  await eventually('a ready daemon on each of the 3 nodes', async () => {
    const s = await status();
    return JSON.stringify(await onNodes()) === JSON.stringify([1, 2, 3].map(nodeName)) && s['numberReady'] === 3 ? true : undefined;
  }, 60_000);

  const t0 = Date.now();
  const add = await lab(['add-node']);
  expect(`${add.stdout}${add.stderr}`).toContain(`${nodeName(4)} joined`);
  expect(add.exitCode).toBe(0);
  await eventually(`a ready daemon on ${nodeName(4)}`, async () => {
    const s = await status();
    return (await onNodes()).includes(nodeName(4)) && s['desiredNumberScheduled'] === 4 && s['numberReady'] === 4 ? true : undefined;
  }, 60_000);
  process.stderr.write(`add-node → daemon pod ready on it: ${Date.now() - t0} ms\n`);
  orphan = (await n4Pod())!.metadata.uid!;

  // The node leaves: its agent is gone and an administrator deletes the Node.
  expect((await lab(['stop-node', 'n4'])).exitCode).toBe(0);
  expect((await kubectl(['delete', 'node', nodeName(4), '--wait=true'])).exitCode).toBe(0);
  await eventually(`no daemon left for ${nodeName(4)}`, async () => {
    const s = await status();
    const pods = (await list(['-n', ns, 'pods', '-l', 'app=agentd'])).filter(p => !p.metadata.deletionTimestamp);
    return s['desiredNumberScheduled'] === 3 && s['currentNumberScheduled'] === 3 && s['numberReady'] === 3 && pods.length === 3 && !pods.some(p => p.spec?.nodeName === nodeName(4)) ? true : undefined;
  }, 60_000);
});

// Checked last, so the wait overlaps the other cases: PodGC quarantines a missing node for 40 s.
let orphan = '';

test('Job: retries a failing pod with exponential back-off until it succeeds; a hopeless one fails at its backoffLimit', async () => {
  const flaky = await eventually('Job flaky Complete', async () => {
    const j = await getJSON(['-n', ns, 'job', 'flaky']);
    return cond(j, 'Complete')?.status === 'True' ? j : undefined;
  }, 120_000);
  expect(flaky.status?.['succeeded']).toBe(1);
  expect(flaky.status?.['failed']).toBe(2);
  const pods = (await list(['-n', ns, 'pods', '-l', 'job-name=flaky'])).sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  expect(pods.map(p => p.status?.phase)).toEqual(['Failed', 'Failed', 'Succeeded']);
  // Each retry waits 10 s × 2^(failures − 1) from the last failure (whole-second timestamps).
  const finished = (p: Obj) => Date.parse(p.status!.containerStatuses![0]!.state!.terminated!.finishedAt!);
  const created = (p: Obj) => Date.parse(p.metadata.creationTimestamp!);
  const gaps = [created(pods[1]!) - finished(pods[0]!), created(pods[2]!) - finished(pods[1]!)];
  process.stderr.write(`Job back-off gaps: ${gaps.join(' ms, ')} ms\n`);
  expect(gaps[0]).toBeGreaterThanOrEqual(9_000);
  expect(gaps[0]).toBeLessThan(18_000);
  expect(gaps[1]).toBeGreaterThanOrEqual(19_000);
  expect(gaps[1]).toBeLessThan(35_000);
  const logs = await kubectl(['-n', ns, 'logs', pods[2]!.metadata.name]);
  expect(logs.stdout.trim()).toBe('run 3');

  const doomed = await eventually('Job doomed Failed', async () => {
    const j = await getJSON(['-n', ns, 'job', 'doomed']);
    return cond(j, 'Failed')?.status === 'True' ? j : undefined;
  }, 60_000);
  expect(cond(doomed, 'Failed')?.reason).toBe('BackoffLimitExceeded');
  expect(doomed.status?.['failed']).toBe(2);
  expect(cond(doomed, 'Complete')).toBeUndefined();
  const describe = await kubectl(['-n', ns, 'describe', 'job', 'doomed']);
  expect(describe.stdout).toMatch(/BackoffLimitExceeded/);
});

test('CronJob: makes a Job for its scheduled minute, which completes', async () => {
  const job = await eventually('a Job of CronJob tick completed', async () => {
    const jobs = (await list(['-n', ns, 'jobs'])).filter(j => j.metadata.ownerReferences?.some(r => r.kind === 'CronJob' && r.name === 'tick'));
    return jobs.find(j => cond(j, 'Complete')?.status === 'True');
  }, 100_000);
  // Upstream's naming: <cronjob>-<scheduled time in minutes since the epoch>; the time is on a minute.
  const minutes = Number(job.metadata.name.slice('tick-'.length));
  expect(Number.isInteger(minutes)).toBe(true);
  const scheduled = job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'];
  expect(Date.parse(scheduled!)).toBe(minutes * 60_000);
  const cj = await eventually('CronJob status', async () => {
    const c = await getJSON(['-n', ns, 'cronjob', 'tick']);
    return c?.status?.['lastSuccessfulTime'] ? c : undefined;
  }, 20_000);
  expect(Date.parse(String(cj.status?.['lastScheduleTime']))).toBeGreaterThanOrEqual(minutes * 60_000);
  const podLogs = await kubectl(['-n', ns, 'logs', `job/${job.metadata.name}`]);
  expect(podLogs.stdout.trim()).toBe('tick');
}, 150_000);

test('Deployment: a rollout and its undo, observed with kubectl rollout, reach the containers', async () => {
  // Two replicas that may not share a node, tolerating an unreachable node for 2 s only (the next case).
  await apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: ${testImageName}, command: [sleep, '3600'], env: [{name: V, value: '1'}]}]
`);
  const rollout = (args: string[]) => kubectl(['-n', ns, 'rollout', ...args, 'deployment/web'], undefined, 120_000);
  const envInPods = async () => Promise.all((await list(['-n', ns, 'pods', '-l', 'app=web'])).filter(ready).map(async p => (await kubectl(['-n', ns, 'exec', p.metadata.name, '--', 'sh', '-c', 'echo "$V"'])).stdout.trim()));
  expect((await rollout(['status', '--timeout=90s'])).stdout).toContain('successfully rolled out');
  expect(await envInPods()).toEqual(['1', '1']);

  expect((await kubectl(['-n', ns, 'set', 'env', 'deployment/web', 'V=2'])).exitCode).toBe(0);
  const st = await rollout(['status', '--timeout=90s']);
  expect(st.stdout).toContain('successfully rolled out');
  await eventually('2 ready pods with V=2', async () => { const e = await envInPods(); return e.length === 2 && e.every(v => v === '2') ? true : undefined; }, 30_000);
  const history = await rollout(['history']);
  expect(history.stdout).toMatch(/^1\s/m);
  expect(history.stdout).toMatch(/^2\s/m);

  expect((await rollout(['undo'])).stdout).toContain('rolled back');
  expect((await rollout(['status', '--timeout=90s'])).stdout).toContain('successfully rolled out');
  await eventually('2 ready pods with V=1 again', async () => { const e = await envInPods(); return e.length === 2 && e.every(v => v === '1') ? true : undefined; }, 30_000);
  // The undo made revision 1 the newest (3); the ReplicaSet of revision 2 is scaled to 0 and kept.
  expect((await rollout(['history'])).stdout).toMatch(/^3\s/m);
  const rses = await list(['-n', ns, 'rs', '-l', 'app=web']);
  expect(rses.map(r => r.spec?.['replicas']).sort()).toEqual([0, 2]);
});

test('a stopped node goes Unknown and tainted; its Deployment pod is evicted and runs again elsewhere', async () => {
  const webPods = async () => (await list(['-n', ns, 'pods', '-l', 'app=web']));
  const before = await eventually('2 ready web pods', async () => { const ps = (await webPods()).filter(ready); return ps.length === 2 ? ps : undefined; }, 60_000);
  const victim = before.find(p => p.spec!.nodeName !== nodeName(1))!;
  const stopped = victim.spec!.nodeName!;
  const t0 = Date.now();
  expect((await lab(['stop-node', stopped.slice(name.length + 1)])).exitCode).toBe(0);

  const node = await eventually(`${stopped} Unknown and tainted`, async () => {
    const n = await getJSON(['node', stopped]);
    return cond(n, 'Ready')?.status === 'Unknown' && n?.spec?.taints?.some(t => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute') ? n : undefined;
  }, 40_000);
  const unknownMs = Date.now() - t0;
  expect(cond(node, 'Ready')?.reason).toBe('NodeStatusUnknown');
  expect((await kubectl(['get', 'node', stopped])).stdout).toMatch(/NotReady/);

  const after = await eventually('web running again on the healthy nodes', async () => {
    const ps = await webPods();
    const live = ps.filter(ready);
    const old = ps.find(p => p.metadata.uid === victim.metadata.uid);
    return live.length === 2 && live.every(p => p.spec!.nodeName !== stopped) && (!old || old.metadata.deletionTimestamp) ? { live, old } : undefined;
  }, 60_000);
  process.stderr.write(`node stopped → Unknown+tainted ${unknownMs} ms, → Deployment whole again elsewhere ${Date.now() - t0} ms\n`);
  // The evicted pod was marked as upstream's taint manager marks it.
  if (after.old) expect(cond(after.old, 'DisruptionTarget')?.reason).toBe('DeletionByTaintManager');
  const dep = await getJSON(['-n', ns, 'deployment', 'web']);
  expect(dep?.status?.['availableReplicas']).toBe(2);
});

test('PodGC: the daemon pod left Terminating on the removed node is force-deleted', async () => {
  expect(orphan).not.toBe('');
  await eventually('the pod of the removed node gone', async () => {
    const pods = await list(['-n', ns, 'pods', '-l', 'app=agentd']);
    return pods.some(p => p.metadata.uid === orphan) ? undefined : true;
  }, 90_000);
}, 120_000);
