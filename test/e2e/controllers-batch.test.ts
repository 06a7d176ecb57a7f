// Job, CronJob, DaemonSet and namespace deletion, run by the control plane inside a real
// `k8ts server` (leader election, HTTPS, scheduler), observed with the pinned kubectl. There is no
// kubelet: Nodes are API objects, and a fake kubelet below plays the pods' lifecycle through
// `/status` as a kubelet would — bound pods start Running and Ready; a container whose command is
// `exit N` terminates after ~300 ms with that code (the pod Succeeded or Failed, restartPolicy
// Never); terminating pods are removed.
import { jest } from '@jest/globals';
import { TestServer, eventually } from './harness.js';

jest.setTimeout(240_000);

const server = new TestServer([], undefined, { controlPlane: true, logLevel: 'info' });
let kubelet = true;
let kubeletLoop: Promise<void> | undefined;
const ns = 'default';

interface Cond { type: string; status: string; reason?: string; message?: string }
interface Obj {
  metadata: { name: string; namespace?: string; uid?: string; creationTimestamp?: string; deletionTimestamp?: string; annotations?: Record<string, string>; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec?: Record<string, unknown> & { nodeName?: string };
  status?: Record<string, unknown> & { conditions?: Cond[]; phase?: string };
}
interface List { items: Obj[] }

const list = async (path: string) => (await server.request('GET', path)).body as List;
const get = async (path: string) => { const r = await server.request('GET', path); return r.status === 200 ? r.body as Obj : undefined; };
const podsOf = async (selector: string) => (await list(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
const kubectl = async (args: string[], input?: string) => {
  const r = await server.kubectl(args, { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const condition = (o: Obj | undefined, type: string) => o?.status?.conditions?.find(c => c.type === type && c.status === 'True');
const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The fake kubelet's loop. */
async function fakeKubelet(): Promise<void> {
  const started = new Map<string, number>();
  while (kubelet) {
    try {
      for (const p of (await list('/api/v1/pods')).items) {
        const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
        if (p.metadata.deletionTimestamp) { await server.request('DELETE', path, { gracePeriodSeconds: 0 }); continue; }
        if (!p.spec?.nodeName) continue;
        const containers = p.spec.containers as { name: string; image: string; command?: string[] }[];
        const phase = p.status?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') continue;
        const status = (state: Record<string, unknown>, ready: boolean) => containers.map(c => ({ name: c.name, image: c.image, imageID: '', ready, restartCount: 0, started: ready, state }));
        if (phase !== 'Running') {
          started.set(p.metadata.uid!, Date.now());
          const now = stamp();
          await server.raw('PATCH', `${path}/status`, {
            headers: { 'Content-Type': 'application/merge-patch+json' },
            body: JSON.stringify({ status: { phase: 'Running', startTime: now, podIP: '10.42.0.9', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'True', lastTransitionTime: now }, { type: 'Ready', status: 'True', lastTransitionTime: now }], containerStatuses: status({ running: { startedAt: now } }, true) } }),
          });
          continue;
        }
        const exit = /exit (\d+)/.exec((containers[0]?.command ?? []).join(' '));
        if (!exit || Date.now() - (started.get(p.metadata.uid!) ?? Date.now()) < 300) continue;
        const code = Number(exit[1]);
        const now = stamp();
        await server.raw('PATCH', `${path}/status`, {
          headers: { 'Content-Type': 'application/merge-patch+json' },
          body: JSON.stringify({ status: { phase: code === 0 ? 'Succeeded' : 'Failed', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'False', lastTransitionTime: now }, { type: 'Ready', status: 'False', lastTransitionTime: now }], containerStatuses: status({ terminated: { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now } }, false) } }),
        });
      }
    } catch { /* the server is going away */ }
    await new Promise(r => setTimeout(r, 100));
  }
}

const addNode = async (name: string, extra: { labels?: Record<string, string>; taints?: unknown[] } = {}) => {
  const r = await server.request('POST', '/api/v1/nodes', {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) } },
    ...(extra.taints ? { spec: { taints: extra.taints } } : {}),
    status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  expect(r.status).toBe(201);
};

const jobYaml = (name: string, spec: string, command = 'exit 0') => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: [sh, -c, "${command}"]}]
`;

let cronCreatedAt = 0;

beforeAll(async () => {
  await server.start();
  await addNode('node-0');
  await addNode('node-1');
  kubeletLoop = fakeKubelet();
  // The CronJob goes in first: its first run is at the next minute boundary, which the other
  // tests wait through.
  await kubectl(['apply', '-f', '-'], `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: ${ns}}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3 # so history clean-up never picks the manual Job below
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [sh, -c, "exit 0"]}]
`);
  cronCreatedAt = Date.now();
});

afterAll(async () => {
  kubelet = false;
  await kubeletLoop;
  await server.stop();
});

describe('Jobs', () => {
  it('runs completions with parallelism, and kubectl shows it Complete', async () => {
    await kubectl(['apply', '-f', '-'], jobYaml('pi', '  completions: 3\n  parallelism: 2'));
    const job = await eventually('job pi complete', async () => { const j = await get(`/apis/batch/v1/namespaces/${ns}/jobs/pi`); return condition(j, 'Complete') ? j : undefined; });
    expect(job.status).toMatchObject({ succeeded: 3, ready: 0 });
    expect(job.status!.startTime).toBeDefined();
    expect(job.status!.completionTime).toBeDefined();
    const pods = await podsOf('batch.kubernetes.io/job-name=pi');
    expect(pods).toHaveLength(3);
    expect(pods.every(p => p.metadata.labels!['batch.kubernetes.io/controller-uid'] === job.metadata.uid && p.metadata.labels!['job-name'] === 'pi')).toBe(true);
    expect(pods[0]!.metadata.ownerReferences![0]).toMatchObject({ kind: 'Job', name: 'pi', controller: true });
    const table = await kubectl(['get', 'jobs', 'pi']);
    expect(table).toMatch(/^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE$/m);
    expect(table).toMatch(/^pi\s+Complete\s+3\/3\s+\d+s\s+\d+s$/m);
    expect(await kubectl(['wait', '--for=condition=complete', 'job/pi', '--timeout=5s'])).toContain('condition met');
    expect(await kubectl(['describe', 'job', 'pi'])).toMatch(/SuccessfulCreate\s.*Created pod: pi-/);
  });

  it('retries failed pods with back-off and fails with BackoffLimitExceeded', async () => {
    await kubectl(['apply', '-f', '-'], jobYaml('flaky', '  backoffLimit: 1', 'exit 3'));
    const job = await eventually('job flaky failed', async () => { const j = await get(`/apis/batch/v1/namespaces/${ns}/jobs/flaky`); return condition(j, 'Failed') ? j : undefined; }, 60_000);
    expect(condition(job, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' });
    expect(job.status).toMatchObject({ failed: 2 });
    const pods = (await podsOf('batch.kubernetes.io/job-name=flaky')).sort((a, b) => a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!));
    expect(pods.map(p => p.status!.phase)).toEqual(['Failed', 'Failed']);
    // The replacement waited out the 10 s back-off after the first failure.
    const gap = Date.parse(pods[1]!.metadata.creationTimestamp!) - Date.parse(pods[0]!.metadata.creationTimestamp!);
    expect(gap).toBeGreaterThanOrEqual(9_000);
    expect(await kubectl(['get', 'job', 'flaky'])).toMatch(/^flaky\s+Failed\s+0\/1\s/m);
    expect(await kubectl(['describe', 'job', 'flaky'])).toMatch(/Warning\s+BackoffLimitExceeded\s.*Job has reached the specified backoff limit/);
  });

  it('gives Indexed pods their completion index', async () => {
    await kubectl(['apply', '-f', '-'], jobYaml('idx', '  completions: 3\n  parallelism: 3\n  completionMode: Indexed'));
    const job = await eventually('job idx complete', async () => { const j = await get(`/apis/batch/v1/namespaces/${ns}/jobs/idx`); return condition(j, 'Complete') ? j : undefined; });
    expect(job.status!.completedIndexes).toBe('0-2');
    const pods = await podsOf('batch.kubernetes.io/job-name=idx');
    expect(pods.map(p => p.metadata.annotations!['batch.kubernetes.io/job-completion-index']).sort()).toEqual(['0', '1', '2']);
    for (const p of pods) {
      const i = p.metadata.annotations!['batch.kubernetes.io/job-completion-index'];
      expect(p.metadata.name.startsWith(`idx-${i}-`)).toBe(true);
      expect(p.spec!.hostname).toBe(`idx-${i}`);
      expect((p.spec!.containers as { env: unknown[] }[])[0]!.env).toContainEqual({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } });
    }
  });

  it('stops a Job past activeDeadlineSeconds, and deletes a finished one after its TTL', async () => {
    await kubectl(['apply', '-f', '-'], jobYaml('slow', '  activeDeadlineSeconds: 2', 'sleep 3600'));
    const job = await eventually('job slow failed', async () => { const j = await get(`/apis/batch/v1/namespaces/${ns}/jobs/slow`); return condition(j, 'Failed') ? j : undefined; });
    expect(condition(job, 'Failed')).toMatchObject({ reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
    await eventually('the slow pod gone', async () => ((await podsOf('batch.kubernetes.io/job-name=slow')).length === 0 ? true : undefined));
    await kubectl(['apply', '-f', '-'], jobYaml('short', '  ttlSecondsAfterFinished: 1'));
    await eventually('job short complete', async () => condition(await get(`/apis/batch/v1/namespaces/${ns}/jobs/short`), 'Complete'));
    await eventually('job short deleted', async () => ((await get(`/apis/batch/v1/namespaces/${ns}/jobs/short`)) === undefined ? true : undefined));
    await eventually('its pods collected', async () => ((await podsOf('batch.kubernetes.io/job-name=short')).length === 0 ? true : undefined));
  });

  it('holds a suspended Job and runs it on resume', async () => {
    await kubectl(['apply', '-f', '-'], jobYaml('later', '  suspend: true'));
    const j = await eventually('Suspended condition', async () => { const x = await get(`/apis/batch/v1/namespaces/${ns}/jobs/later`); return condition(x, 'Suspended') ? x : undefined; });
    expect(condition(j, 'Suspended')).toMatchObject({ reason: 'JobSuspended' });
    expect(await podsOf('batch.kubernetes.io/job-name=later')).toHaveLength(0);
    expect(await kubectl(['get', 'job', 'later'])).toMatch(/^later\s+Suspended\s/m);
    await kubectl(['patch', 'job', 'later', '--type=merge', '-p', '{"spec":{"suspend":false}}']);
    const done = await eventually('job later complete', async () => { const x = await get(`/apis/batch/v1/namespaces/${ns}/jobs/later`); return condition(x, 'Complete') ? x : undefined; });
    expect(done.status!.conditions!.find(c => c.type === 'Suspended')).toMatchObject({ status: 'False', reason: 'JobResumed' });
  });
});

describe('DaemonSets', () => {
  const dsYaml = (image: string) => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {role: worker}
      containers: [{name: c, image: ${image}}]
`;
  const live = async () => (await podsOf('app=agent')).filter(p => !p.metadata.deletionTimestamp);

  it('runs one pod on every eligible node, pinned by node affinity and bound by the scheduler', async () => {
    for (const n of ['node-0', 'node-1']) await kubectl(['label', 'node', n, 'role=worker']);
    await addNode('node-other');
    await kubectl(['apply', '-f', '-'], dsYaml('agent:1'));
    const pods = await eventually('two bound daemon pods', async () => { const ps = await live(); return ps.length === 2 && ps.every(p => p.spec!.nodeName) ? ps : undefined; });
    expect(pods.map(p => p.spec!.nodeName).sort()).toEqual(['node-0', 'node-1']);
    for (const p of pods) {
      const terms = (p.spec!.affinity as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } } }).nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      expect(terms).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec!.nodeName] }] }]);
      expect((p.spec!.tolerations as { key: string }[]).map(t => t.key)).toContain('node.kubernetes.io/unreachable');
      expect(p.metadata.labels!['controller-revision-hash']).toBeTruthy();
    }
    const status = await kubectl(['rollout', 'status', 'ds/agent', '--timeout=60s']);
    expect(status).toContain('daemon set "agent" successfully rolled out');
    expect(await kubectl(['get', 'ds', 'agent'])).toMatch(/^agent\s+2\s+2\s+2\s+2\s+2\s+role=worker\s+\d+s$/m);
  });

  it('follows a node joining and leaving, and skips a tainted one', async () => {
    await addNode('node-2', { labels: { role: 'worker' } });
    await addNode('node-tainted', { labels: { role: 'worker' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
    await eventually('a pod on node-2', async () => ((await live()).some(p => p.spec!.nodeName === 'node-2') ? true : undefined));
    await kubectl(['rollout', 'status', 'ds/agent', '--timeout=60s']);
    expect((await live()).map(p => p.spec!.nodeName).sort()).toEqual(['node-0', 'node-1', 'node-2']);
    await kubectl(['delete', 'node', 'node-2']);
    await eventually('node-2 pod gone', async () => ((await live()).every(p => p.spec!.nodeName !== 'node-2') ? true : undefined));
    await eventually('desired 2', async () => ((await get(`/apis/apps/v1/namespaces/${ns}/daemonsets/agent`))!.status!.desiredNumberScheduled === 2 ? true : undefined));
  });

  it('rolls out a new template with kubectl rollout status, keeping ControllerRevisions', async () => {
    const before = (await live()).map(p => p.metadata.uid).sort();
    await kubectl(['set', 'image', 'ds/agent', 'c=agent:2']);
    const out = await kubectl(['rollout', 'status', 'ds/agent', '--timeout=90s']);
    expect(out).toContain('daemon set "agent" successfully rolled out');
    const after = await live();
    expect(after).toHaveLength(2);
    expect(after.every(p => (p.spec!.containers as { image: string }[])[0]!.image === 'agent:2')).toBe(true);
    expect(after.some(p => before.includes(p.metadata.uid))).toBe(false);
    const revs = (await list(`/apis/apps/v1/namespaces/${ns}/controllerrevisions`)).items as (Obj & { revision: number })[];
    expect(revs.map(r => r.revision).sort()).toEqual([1, 2]);
    expect(await kubectl(['get', 'controllerrevisions'])).toMatch(/^agent-\S+\s+daemonset\.apps\/agent\s+2\s/m);
    const hist = await kubectl(['rollout', 'history', 'ds/agent']);
    expect(hist).toMatch(/^1\s/m);
    expect(hist).toMatch(/^2\s/m);
    const ds = await get(`/apis/apps/v1/namespaces/${ns}/daemonsets/agent`);
    expect(ds!.status).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2, numberMisscheduled: 0, observedGeneration: 2 });
  });

  it('rolls back with kubectl rollout undo, reusing the old revision as the newest', async () => {
    expect(await kubectl(['rollout', 'undo', 'ds/agent'])).toContain('daemonset.apps/agent rolled back');
    await kubectl(['rollout', 'status', 'ds/agent', '--timeout=90s']);
    const after = await live();
    expect(after.map(p => (p.spec!.containers as { image: string }[])[0]!.image)).toEqual(['agent:1', 'agent:1']);
    const revs = (await list(`/apis/apps/v1/namespaces/${ns}/controllerrevisions`)).items as (Obj & { revision: number; data: { spec: { template: { spec: { containers: { image: string }[] } } } } })[];
    expect(revs.map(r => `${r.revision}:${r.data.spec.template.spec.containers[0]!.image}`).sort()).toEqual(['2:agent:2', '3:agent:1']);
  });

  it('rolls out with maxSurge, a new pod starting beside each old one', async () => {
    await kubectl(['patch', 'ds', 'agent', '--type=merge', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}']);
    // Watch availability through the rollout: with maxUnavailable 0 it never drops.
    let sampling = true;
    const available: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const ready = (await live()).filter(p => p.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True'));
        available.push(new Set(ready.map(p => p.spec!.nodeName)).size);
        await new Promise(r => setTimeout(r, 20));
      }
    })();
    await kubectl(['set', 'image', 'ds/agent', 'c=agent:3']);
    const out = await kubectl(['rollout', 'status', 'ds/agent', '--timeout=90s']);
    sampling = false;
    await sampler;
    expect(out).toContain('successfully rolled out');
    const after = await live();
    expect(after.map(p => (p.spec!.containers as { image: string }[])[0]!.image)).toEqual(['agent:3', 'agent:3']);
    expect(available.length).toBeGreaterThan(3);
    expect(Math.min(...available)).toBe(2);
  });
});

describe('CronJobs', () => {
  it('fires on schedule, records it in status, and kubectl create job --from works', async () => {
    const job = await eventually('a scheduled job', async () => {
      const jobs = (await list(`/apis/batch/v1/namespaces/${ns}/jobs`)).items.filter(j => j.metadata.ownerReferences?.[0]?.kind === 'CronJob' && /^tick-\d+$/.test(j.metadata.name));
      return jobs[0];
    }, 75_000 - Math.min(60_000, Date.now() - cronCreatedAt));
    const minutes = Number(job.metadata.name.slice('tick-'.length));
    expect(minutes * 60_000).toBeGreaterThan(cronCreatedAt - 60_000);
    expect(job.metadata.annotations!['batch.kubernetes.io/cronjob-scheduled-timestamp']).toBe(new Date(minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const cj = await eventually('lastSuccessfulTime', async () => { const c = await get(`/apis/batch/v1/namespaces/${ns}/cronjobs/tick`); return c?.status?.lastSuccessfulTime ? c : undefined; }, 30_000);
    expect(cj.status!.lastScheduleTime).toBe(new Date(minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(await kubectl(['get', 'cronjob', 'tick'])).toMatch(/^tick\s+\* \* \* \* \*\s+<none>\s+False\s+\d\s+\d+s\s+\d+[sm]/m);
    expect(await kubectl(['describe', 'cronjob', 'tick'])).toMatch(/SuccessfulCreate\s.*Created job tick-/);
    expect(await kubectl(['create', 'job', 'by-hand', '--from=cronjob/tick'])).toContain('job.batch/by-hand created');
    const manual = await eventually('by-hand complete', async () => { const j = await get(`/apis/batch/v1/namespaces/${ns}/jobs/by-hand`); return condition(j, 'Complete') ? j : undefined; });
    expect(manual.metadata.annotations!['cronjob.kubernetes.io/instantiate']).toBe('manual');
    expect(manual.metadata.ownerReferences![0]).toMatchObject({ kind: 'CronJob', name: 'tick' });
  });
});

describe('namespace deletion', () => {
  it('deletes everything inside a namespace before the namespace', async () => {
    await kubectl(['create', 'namespace', 'doomed']);
    await kubectl(['-n', 'doomed', 'create', 'configmap', 'cm', '--from-literal=a=b']);
    await kubectl(['-n', 'doomed', 'create', 'deployment', 'web', '--image=busybox', '--replicas=2']);
    await kubectl(['-n', 'doomed', 'create', 'job', 'j', '--image=busybox', '--', 'sh', '-c', 'sleep 3600']);
    await eventually('pods in doomed', async () => ((await list('/api/v1/namespaces/doomed/pods')).items.length === 3 ? true : undefined));
    expect(await kubectl(['delete', 'namespace', 'doomed', '--timeout=60s'])).toContain('namespace "doomed" deleted');
    expect((await server.request('GET', '/api/v1/namespaces/doomed')).status).toBe(404);
    expect((await list('/api/v1/namespaces/doomed/pods')).items).toEqual([]);
    expect((await list('/api/v1/namespaces/doomed/configmaps')).items).toEqual([]);
    expect((await list('/apis/apps/v1/namespaces/doomed/replicasets')).items).toEqual([]);
  });
});
