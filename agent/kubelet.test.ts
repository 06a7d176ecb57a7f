import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/object.js';
import type { ClusterClient, ObjectList, ResourceType, WatchEvent } from '../api/client/types.js';
import { StatusError } from '../api/errors.js';
import { FakeExec } from '../kernel/exec.js';
import { NetnsCli } from '../kernel/netns-cli.js';
import { CniClient } from './cni.js';
import { FakeRuntime } from './fake-runtime.js';
import { cpuSharesOf, Kubelet } from './kubelet.js';
import type { ProbeChecks } from './prober.js';
import type { EventRecorder } from '../api/client/events.js';

/** Just enough of the API for the kubelet: pods by node (list + watch), status patches, deletes. */
class FakeCluster {
  pods = new Map<string, Pod>();
  patches: { name: string; status: Pod['status'] }[] = [];
  deletes: { name: string; opts: unknown }[] = [];
  private watchers = new Set<(e: WatchEvent) => void>();
  private rv = 1;

  add(pod: Pod): void {
    const p = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(++this.rv) } };
    this.pods.set(p.metadata.name!, p);
    for (const w of this.watchers) w({ type: 'ADDED', object: p as KubeObject });
  }

  modify(name: string, f: (p: Pod) => Pod): void {
    const p = f(this.pods.get(name)!);
    p.metadata = { ...p.metadata, resourceVersion: String(++this.rv) };
    this.pods.set(name, p);
    for (const w of this.watchers) w({ type: 'MODIFIED', object: p as KubeObject });
  }

  client(): ClusterClient {
    const notFound = () => new StatusError(404, 'NotFound', 'not found');
    const c = {
      get: async () => { throw notFound(); },
      list: async <T extends KubeObject>() => ({ metadata: { resourceVersion: String(this.rv) }, items: [...this.pods.values()] as unknown as T[] }) as ObjectList<T>,
      watch: <T extends KubeObject>(_t: ResourceType, _ns: string | undefined, _o: unknown, onEvent: (e: WatchEvent<T>) => void) => {
        const h = onEvent as (e: WatchEvent) => void;
        this.watchers.add(h);
        let stop = () => {};
        const done = new Promise<void>(r => { stop = () => { this.watchers.delete(h); r(); }; });
        return { stop: () => stop(), done };
      },
      create: async <T extends KubeObject>(_t: ResourceType, _ns: string | undefined, o: T) => o,
      update: async <T extends KubeObject>(_t: ResourceType, o: T) => o,
      patch: async <T extends KubeObject>(_t: ResourceType, _ns: string | undefined, name: string, _pt: unknown, patch: unknown) => {
        const p = this.pods.get(name);
        if (!p) throw notFound();
        const status = (patch as { status: Pod['status'] }).status;
        this.patches.push({ name, status });
        const next: Pod = { ...p, ...(status ? { status } : {}) };
        this.pods.set(name, next);
        return next as unknown as T;
      },
      delete: async (_t: ResourceType, _ns: string | undefined, name: string, opts?: unknown) => {
        this.deletes.push({ name, opts });
        const p = this.pods.get(name);
        this.pods.delete(name);
        if (p) for (const w of this.watchers) w({ type: 'DELETED', object: p as KubeObject });
        return undefined;
      },
      createSubresource: async () => ({}),
    };
    return c as unknown as ClusterClient;
  }
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 10));
  }
}

let dir: string;
let cluster: FakeCluster;
let runtime: FakeRuntime;
let exec: FakeExec;
const kubelets: Kubelet[] = [];

function newKubelet(extra: Partial<ConstructorParameters<typeof Kubelet>[0]> = {}): Kubelet {
  const bin = join(dir, 'bin');
  const netns = new NetnsCli(exec, join(dir, 'netns'));
  const cni = new CniClient({ confDir: join(dir, 'conf'), binDirs: [bin], exec });
  const k = new Kubelet({
    nodeName: 'n1', client: cluster.client(), runtime, cni, netns, dataDir: join(dir, 'data'), logDir: join(dir, 'logs'),
    hostIP: '192.0.2.1', backoff: { baseMs: 50, maxMs: 1000 }, relistMs: 100_000, ...extra,
  });
  kubelets.push(k);
  return k;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-kubelet-test-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'conf'));
  for (const p of ['bridge', 'loopback']) writeFileSync(join(dir, 'bin', p), '');
  writeFileSync(join(dir, 'conf', '10-net.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'bridge' }] }));
  cluster = new FakeCluster();
  runtime = new FakeRuntime();
  exec = new FakeExec((file, _args, opts) => ({
    exitCode: 0, stderr: '',
    stdout: opts.env?.CNI_COMMAND === 'ADD' && file.endsWith('bridge') ? JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.244.0.9/24' }] }) : opts.env?.CNI_COMMAND === 'ADD' ? '{}' : '',
  }));
});

afterEach(async () => {
  for (const k of kubelets.splice(0)) await k.stop();
  rmSync(dir, { recursive: true, force: true });
});

const image = 'docker.io/k8ts/busybox:test';
function pod(name: string, spec: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return { metadata: { name, namespace: 'default', uid: `0000000${name.length}-0000-4000-8000-00000000000${name.length}` }, spec: { nodeName: 'n1', containers: [{ name: 'c', image, command: ['sleep', '1000'] }], ...spec } };
}

describe('Kubelet', () => {
  it('starts a pod\'s containers in its network namespace with identity labels and reports Running with the CNI IP', async () => {
    const k = newKubelet();
    await k.start();
    cluster.add(pod('web', { containers: [{ name: 'a', image, command: ['sleep', '1'] }, { name: 'b', image }] }));
    const status = await until('Running', () => cluster.pods.get('web')?.status?.phase === 'Running' && cluster.pods.get('web')!.status);
    expect(status.podIP).toBe('10.244.0.9');
    const runs = [...runtime.containers.values()].map(c => c.config);
    expect(runs.map(c => c.labels['io.k8ts.container.name']).sort()).toEqual(['a', 'b']);
    expect(runs[0]!.netnsPath).toBe(join(dir, 'netns', 'k8ts-00000003-0000-4000-8000-000000000003'));
    expect(runs[0]!.labels).toMatchObject({ 'io.k8ts.pod.uid': '00000003-0000-4000-8000-000000000003', 'io.k8ts.pod.name': 'web', 'io.k8ts.pod.namespace': 'default', 'io.k8ts.container.attempt': '0' });
    expect(exec.calls.map(c => c.env?.CNI_COMMAND ?? `${c.file} ${c.args.slice(-2).join(' ')}`)).toEqual(['unshare hostname web', 'ip add k8ts-00000003-0000-4000-8000-000000000003', 'ADD', 'ADD']);
    expect(runs[0]!.utsPath).toBe(join(dir, 'data', 'pods', '00000003-0000-4000-8000-000000000003', 'uts'));
  });

  it('restarts an exited container after the back-off as the next attempt, and counts it', async () => {
    const k = newKubelet();
    await k.start();
    cluster.add(pod('crash'));
    const first = await until('first start', () => runtime.runningIds()[0]);
    runtime.exit(first, 1);
    const second = await until('a restart', () => runtime.runningIds()[0]);
    expect(second).toMatch(/-1$/);
    const cs = await until('restartCount 1', () => cluster.pods.get('crash')?.status?.containerStatuses?.[0]?.restartCount === 1 && cluster.pods.get('crash')!.status!.containerStatuses![0]!);
    expect(cs.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(runtime.containers.has(first)).toBe(true); // the previous attempt is kept for lastState
  });

  /** Runs a restartPolicy Never pod, ends its container with `end`, and returns its terminated state. */
  async function terminatedAfter(name: string, end: (id: string, k: Kubelet) => unknown) {
    const k = newKubelet();
    await k.start();
    cluster.add(pod(name, { restartPolicy: 'Never' }));
    const id = await until('the start', () => runtime.runningIds()[0]);
    await end(id, k);
    const cs = await until('Failed', () => cluster.pods.get(name)?.status?.phase === 'Failed' && cluster.pods.get(name)!.status!.containerStatuses![0]!);
    return cs.state!.terminated;
  }

  it('an OOM kill is OOMKilled even when containerd\'s oom event comes after the exit', async () => {
    expect(await terminatedAfter('hog', id => runtime.oomKill(id))).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it('an OOM kill the event stream missed is OOMKilled when a relist finds the exit', async () => {
    expect(await terminatedAfter('hogs', (id, k) => { runtime.oomKill(id, false); return k.relist(); })).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it('a container SIGKILLed without an OOM kill ends with reason Error', async () => {
    expect(await terminatedAfter('killed', id => runtime.exit(id, 137))).toMatchObject({ exitCode: 137, reason: 'Error' });
  });

  it('a new kubelet adopts running containers from their labels without starting anything', async () => {
    const k1 = newKubelet();
    await k1.start();
    cluster.add(pod('keep'));
    await until('Running', () => cluster.pods.get('keep')?.status?.phase === 'Running');
    await k1.stop();
    const runsBefore = runtime.calls.filter(c => c.startsWith('run ')).length;
    const k2 = newKubelet();
    await k2.start();
    await new Promise(r => setTimeout(r, 200));
    expect(runtime.calls.filter(c => c.startsWith('run ')).length).toBe(runsBefore);
    expect(k2.recordsOf('00000004-0000-4000-8000-000000000004').map(r => r.state)).toEqual(['running']);
  });

  it('deleting a pod sends SIGTERM, removes its containers, runs CNI DEL and deletes the pod with grace 0', async () => {
    const k = newKubelet();
    await k.start();
    cluster.add(pod('gone'));
    await until('Running', () => cluster.pods.get('gone')?.status?.phase === 'Running');
    const id = runtime.runningIds()[0]!;
    cluster.modify('gone', p => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 5 } }));
    await until('the final delete', () => cluster.deletes.length > 0);
    expect(cluster.deletes[0]).toEqual({ name: 'gone', opts: { gracePeriodSeconds: 0, preconditions: { uid: '00000004-0000-4000-8000-000000000004' } } });
    expect(runtime.calls).toContain(`kill ${id} SIGTERM`);
    expect(runtime.containers.size).toBe(0);
    expect(exec.calls.some(c => c.env?.CNI_COMMAND === 'DEL')).toBe(true);
  });

  it('a command that cannot start is a StartError with exit code 128, and the pod fails under Never', async () => {
    runtime.missingBinaries.add('nope');
    const k = newKubelet();
    await k.start();
    cluster.add(pod('bad', { restartPolicy: 'Never', containers: [{ name: 'c', image, command: ['nope'] }] }));
    const s = await until('Failed', () => cluster.pods.get('bad')?.status?.phase === 'Failed' && cluster.pods.get('bad')!.status!);
    expect(s.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 128, reason: 'StartError' });
    expect(s.containerStatuses![0]!.state!.terminated!.message).toContain('executable file not found');
  });

  it('replaces a leftover snapshot of the same id and starts the container on the second try', async () => {
    runtime.runFailures.push('snapshot "x": already exists');
    const k = newKubelet();
    await k.start();
    cluster.add(pod('retry'));
    await until('Running', () => cluster.pods.get('retry')?.status?.phase === 'Running');
    const id = runtime.runningIds()[0]!;
    expect(runtime.calls.filter(c => c.includes(id))).toEqual([`run ${id}`, `kill ${id} SIGKILL`, `delete-task ${id}`, `delete ${id}`, `remove-snapshot ${id}`, `run ${id}`]);
  });

  it('a relist taken while a container is being started does not forget it (no second start)', async () => {
    let release = () => {};
    const gate = new Promise<void>(r => { release = r; });
    runtime.beforeRun = () => gate;
    const k = newKubelet();
    await k.start();
    cluster.add(pod('race'));
    await until('the run call', () => runtime.calls.some(c => c.startsWith('run ')));
    const relist = k.relist();
    release();
    await relist;
    await k.relist();
    await until('Running', () => cluster.pods.get('race')?.status?.phase === 'Running');
    await new Promise(r => setTimeout(r, 50));
    expect(runtime.calls.filter(c => c.startsWith('run '))).toHaveLength(1);
  });

  it('a missing image that cannot be pulled shows ErrImagePull', async () => {
    const k = newKubelet();
    await k.start();
    cluster.add(pod('img', { containers: [{ name: 'c', image: 'example.invalid/none:1' }] }));
    const s = await until('ErrImagePull', () => cluster.pods.get('img')?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull' && cluster.pods.get('img')!.status!);
    expect(s.phase).toBe('Pending');
    expect(runtime.calls).toContain('pull example.invalid/none:1');
  });
});

describe('Kubelet probes and hooks', () => {
  const scripted = (exec: ProbeChecks['exec']): ProbeChecks => ({ exec, http: async () => ({ ok: true, message: '' }), tcp: async () => ({ ok: true, message: '' }), grpc: async () => ({ ok: true, message: '' }) });

  it('kills a container whose liveness probe fails and starts the next attempt; readiness gates ready', async () => {
    const seen: string[] = [];
    const k = newKubelet({ probeChecks: scripted(async (id, cmd) => {
      seen.push(`${id.slice(-1)} ${cmd.join(' ')}`);
      // Attempt 0 is dead; attempt 1 lives, and is ready.
      return { ok: !(id.endsWith('-0') && cmd[0] === 'alive'), message: 'exit 1' };
    }) });
    await k.start();
    cluster.add(pod('probed', { terminationGracePeriodSeconds: 1, containers: [{
      name: 'c', image, command: ['sleep', '1000'],
      livenessProbe: { exec: { command: ['alive'] }, failureThreshold: 1 },
      readinessProbe: { exec: { command: ['ready'] } },
    }] }));
    const s = await until('a restart, then ready', () => {
      const cs = cluster.pods.get('probed')?.status?.containerStatuses?.[0];
      return cs?.restartCount === 1 && cs.ready && cs;
    });
    expect(s.lastState?.terminated).toMatchObject({ exitCode: 143, reason: 'Error' });
    expect(runtime.calls).toContain(`kill ${s.lastState!.terminated!.containerID!.replace('containerd://', '')} SIGTERM`);
    expect(cluster.pods.get('probed')!.status!.conditions!.find(c => c.type === 'Ready')!.status).toBe('True');
    // The liveness probe of attempt 0 ran (and failed).
    expect(seen).toContain('0 alive');
  });

  it('runs the preStop hook before SIGTERM on graceful deletion', async () => {
    const k = newKubelet({ probeChecks: scripted(async (id, cmd) => { runtime.calls.push(`hook ${id} ${cmd.join(' ')}`); return { ok: true, message: '' }; }) });
    await k.start();
    cluster.add(pod('hooked', { containers: [{ name: 'c', image, command: ['sleep', '1000'], lifecycle: { preStop: { exec: { command: ['drain'] } } } }] }));
    await until('Running', () => cluster.pods.get('hooked')?.status?.phase === 'Running');
    cluster.modify('hooked', p => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 5 } }));
    await until('deleted', () => cluster.deletes.some(d => d.name === 'hooked'));
    const id = [...runtime.containers.keys()][0] ?? runtime.calls.find(c => c.startsWith('run '))!.slice(4);
    const hook = runtime.calls.indexOf(`hook ${id} drain`);
    const term = runtime.calls.indexOf(`kill ${id} SIGTERM`);
    expect(hook).toBeGreaterThanOrEqual(0);
    expect(term).toBeGreaterThan(hook);
  });

  it('mounts the pod\'s resolv.conf with the cluster DNS into every container', async () => {
    const k = newKubelet({ clusterDNS: ['10.43.0.10'], clusterDomain: 'cluster.local', resolvConf: join(dir, 'none') });
    await k.start();
    cluster.add(pod('dns'));
    await until('Running', () => cluster.pods.get('dns')?.status?.phase === 'Running');
    const m = [...runtime.containers.values()][0]!.config.mounts.find(x => x.destination === '/etc/resolv.conf')!;
    expect(readFileSync(m.source, 'utf8')).toBe('search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n');
  });
});

describe('cpuSharesOf', () => {
  it('follows upstream\'s MilliCPUToShares from the request, else the limit, at least 2', () => {
    expect(cpuSharesOf({ name: 'c', resources: { requests: { cpu: '250m' }, limits: { cpu: '1' } } })).toEqual({ cpuShares: 256 });
    expect(cpuSharesOf({ name: 'c', resources: { requests: { cpu: '100m' } } })).toEqual({ cpuShares: 102 });
    expect(cpuSharesOf({ name: 'c', resources: { limits: { cpu: '2' } } })).toEqual({ cpuShares: 2048 });
    expect(cpuSharesOf({ name: 'c', resources: { requests: { cpu: '1m' } } })).toEqual({ cpuShares: 2 });
    expect(cpuSharesOf({ name: 'c' })).toEqual({});
  });
});

describe('Kubelet events', () => {
  /** Records what the kubelet reports, as `kubectl get events` would list it. */
  const recording = () => {
    const events: { object: string; type: string; reason: string; message: string; fieldPath?: string | undefined }[] = [];
    const recorder: EventRecorder = { event: (obj, type, reason, message, fieldPath) => { events.push({ object: `${obj.kind}/${obj.metadata?.name}`, type, reason, message, fieldPath }); } };
    return { events, recorder };
  };

  it('a pod started from a present image: Pulled (already present), Created, Started on its container; deletion: Killing', async () => {
    const { events, recorder } = recording();
    const k = newKubelet({ recorder, clusterDNS: ['10.43.0.10'] });
    await k.start();
    cluster.add(pod('web'));
    await until('Running', () => cluster.pods.get('web')?.status?.phase === 'Running');
    expect(events).toEqual([
      { object: 'Pod/web', type: 'Normal', reason: 'Pulled', message: `Container image "${image}" already present on machine`, fieldPath: 'spec.containers{c}' },
      { object: 'Pod/web', type: 'Normal', reason: 'Created', message: 'Created container c', fieldPath: 'spec.containers{c}' },
      { object: 'Pod/web', type: 'Normal', reason: 'Started', message: 'Started container c', fieldPath: 'spec.containers{c}' },
    ]);
    cluster.modify('web', p => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 0 } }));
    await until('Killing', () => events.find(e => e.reason === 'Killing'));
    expect(events.at(-1)).toEqual({ object: 'Pod/web', type: 'Normal', reason: 'Killing', message: 'Stopping container c', fieldPath: 'spec.containers{c}' });
  });

  it('a failed pull: Pulling, Failed with the reason, Error: ErrImagePull; within the back-off no pull, Back-off pulling image', async () => {
    const { events, recorder } = recording();
    const k = newKubelet({ recorder, clusterDNS: ['10.43.0.10'], backoff: { baseMs: 300, maxMs: 1000 } });
    await k.start();
    cluster.add(pod('nopull', { containers: [{ name: 'c', image: 'example.com/nothing:v1', imagePullPolicy: 'IfNotPresent' }] }));
    await until('ErrImagePull', () => events.some(e => e.message === 'Error: ErrImagePull'));
    expect(events.slice(0, 3)).toEqual([
      { object: 'Pod/nopull', type: 'Normal', reason: 'Pulling', message: 'Pulling image "example.com/nothing:v1"', fieldPath: 'spec.containers{c}' },
      { object: 'Pod/nopull', type: 'Warning', reason: 'Failed', message: 'Failed to pull image "example.com/nothing:v1": pulling "example.com/nothing:v1" failed: no network', fieldPath: 'spec.containers{c}' },
      { object: 'Pod/nopull', type: 'Warning', reason: 'Failed', message: 'Error: ErrImagePull', fieldPath: 'spec.containers{c}' },
    ]);
    const pulls = runtime.calls.filter(c => c.startsWith('pull')).length;
    // A sync inside the back-off (the status write comes back through the watch) does not pull.
    cluster.modify('nopull', p => ({ ...p, metadata: { ...p.metadata, labels: { touched: 'yes' } } }));
    await until('Back-off pulling', () => events.some(e => e.reason === 'BackOff'));
    expect(runtime.calls.filter(c => c.startsWith('pull')).length).toBe(pulls);
    expect(events.filter(e => e.reason === 'BackOff' || e.message === 'Error: ImagePullBackOff').slice(0, 2).map(e => `${e.type} ${e.reason}: ${e.message}`))
      .toEqual(['Normal BackOff: Back-off pulling image "example.com/nothing:v1"', 'Warning Failed: Error: ImagePullBackOff']);
    expect(cluster.pods.get('nopull')!.status!.containerStatuses![0]!.state!.waiting).toEqual({ reason: 'ImagePullBackOff', message: 'Back-off pulling image "example.com/nothing:v1"' });
    // After the back-off it pulls again.
    await until('a second pull', () => runtime.calls.filter(c => c.startsWith('pull')).length > pulls, 3000);
  });

  it('a missing ConfigMap: FailedMount on the pod for a volume, "Error: …" on the container for an env reference', async () => {
    const { events, recorder } = recording();
    const k = newKubelet({ recorder, clusterDNS: ['10.43.0.10'] });
    await k.start();
    cluster.add(pod('vol', {
      volumes: [{ name: 'cfg', configMap: { name: 'missing' } }],
      containers: [{ name: 'c', image, volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }],
    }));
    cluster.add(pod('envref', { containers: [{ name: 'c', image, env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'missing', key: 'k' } } }] }] }));
    const mount = await until('FailedMount', () => events.find(e => e.reason === 'FailedMount'));
    expect(mount).toEqual({ object: 'Pod/vol', type: 'Warning', reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found', fieldPath: undefined });
    const config = await until('Error', () => events.find(e => e.object === 'Pod/envref' && e.reason === 'Failed'));
    // The same text as the CreateContainerConfigError status, after "Error: ".
    const waiting = await until('CreateContainerConfigError', () => cluster.pods.get('envref')?.status?.containerStatuses?.[0]?.state?.waiting);
    expect(waiting.reason).toBe('CreateContainerConfigError');
    expect(config.message).toBe(`Error: ${waiting.message}`);
    expect(config.fieldPath).toBe('spec.containers{c}');
  });

  it('a crash loop records BackOff once per wait, and a pod without cluster DNS records MissingClusterDNS on the pod and the node', async () => {
    const { events, recorder } = recording();
    const k = newKubelet({ recorder });
    await k.start();
    cluster.add(pod('crash'));
    for (let attempt = 0; attempt < 3; attempt++) {
      const id = await until(`attempt ${attempt}`, () => runtime.runningIds().find(x => x.endsWith(`-${attempt}`)));
      runtime.exit(id, 1);
    }
    await until('BackOff for each of the 3 exits', () => events.filter(e => e.reason === 'BackOff').length >= 3, 5000);
    const uid = cluster.pods.get('crash')!.metadata!.uid!;
    const backoffs = events.filter(e => e.reason === 'BackOff');
    expect(backoffs[0]).toEqual({ object: 'Pod/crash', type: 'Warning', reason: 'BackOff', message: `Back-off restarting failed container c in pod crash_default(${uid})`, fieldPath: 'spec.containers{c}' });
    // One per restart: never more BackOff events than starts.
    expect(backoffs.length).toBeLessThanOrEqual(events.filter(e => e.reason === 'Started').length);
    const dns = events.filter(e => e.reason === 'MissingClusterDNS');
    expect(dns.map(e => e.object)).toEqual(['Node/n1', 'Pod/crash']);
    expect(dns[1]!.message).toBe(`pod: "crash_default(${uid})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`);
  });
});
