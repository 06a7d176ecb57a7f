// The kubelet's Events end to end: a real agent on a real containerd, a server with the scheduler,
// and what the real kubectl shows — `kubectl describe pod` and `kubectl get events` list the
// upstream reasons and texts from source `kubelet` on this node, pointing at the container
// (`spec.containers{NAME}`): Scheduled…Pulled/Created/Started for a pod, Unhealthy and Killing for
// a failing liveness probe, one BackOff Event whose count grows for a crash loop, Failed with
// ErrImagePull for an image that cannot be pulled, MissingClusterDNS for ClusterFirst pods on an
// agent without cluster DNS, and the node's own events (Starting, NodeReady).
import { jest } from '@jest/globals';
import type { Event } from 'kubernetes-types/core/v1.js';
import { eventually, TestServer } from './harness.js';
import { podHelpers, startNodeWithAgent, stopNodeWithAgent, testImageName, type TestAgent } from './agent-harness.js';

jest.setTimeout(120_000);

// The scheduler (for Scheduled) and only the namespace controller beside it.
const server = new TestServer(['--controllers=namespace'], undefined, { controlPlane: true });
let agent: TestAgent;
const { createPod, waitStatus } = podHelpers(server, () => agent.nodeName);
const sh = (script: string) => ({ image: testImageName, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] });

beforeAll(async () => {
  // No --cluster-dns, and the server runs no DNS add-on (no kube-system/kube-dns): ClusterFirst
  // pods fall back to the node's resolver.
  agent = await startNodeWithAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s']);
}, 120_000);
afterAll(async () => { await stopNodeWithAgent(server, agent); }, 120_000);

async function kubectl(...args: string[]): Promise<string> {
  const r = await server.kubectl(args);
  if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The Events of one object, as `kubectl get events` lists them. */
async function eventsOf(kind: string, name: string, namespace = 'default'): Promise<Event[]> {
  const out = await kubectl('get', 'events', '-n', namespace, '-o', 'json', '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`);
  return (JSON.parse(out) as { items: Event[] }).items;
}

function waitEvent(kind: string, name: string, pred: (e: Event) => boolean, what: string, timeoutMs = 45_000): Promise<Event> {
  return eventually(`${what} on ${kind} ${name}`, async () => (await eventsOf(kind, name)).find(pred), timeoutMs);
}

describe('kubelet events', () => {
  it('a scheduled pod shows Scheduled, Pulled, Created and Started from the kubelet of its node in kubectl describe', async () => {
    // No nodeName: the scheduler binds it.
    const r = await server.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello' },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'app', ...sh('sleep 3600') }] },
    });
    expect(r.status).toBe(201);
    await waitStatus('hello', s => s.phase === 'Running', 60_000);
    const started = await waitEvent('Pod', 'hello', e => e.reason === 'Started', 'Started');
    expect(started).toMatchObject({
      type: 'Normal', message: 'Started container app', count: 1,
      source: { component: 'kubelet', host: agent.nodeName },
      involvedObject: { kind: 'Pod', name: 'hello', namespace: 'default', fieldPath: 'spec.containers{app}' },
    });
    expect(started.metadata!.name).toMatch(/^hello\.[0-9a-f]+$/);
    // Events of different reasons are written side by side: wait for all four.
    const events = await eventually('Scheduled, Pulled, Created and Started', async () => {
      const list = await eventsOf('Pod', 'hello');
      return ['Scheduled', 'Pulled', 'Created', 'Started'].every(r => list.some(e => e.reason === r)) ? list : undefined;
    });
    const byReason = new Map(events.map(e => [e.reason, e]));
    expect(byReason.get('Scheduled')).toMatchObject({ source: { component: 'default-scheduler' }, message: `Successfully assigned default/hello to ${agent.nodeName}` });
    expect(byReason.get('Pulled')).toMatchObject({ type: 'Normal', message: `Container image "${testImageName}" already present on machine`, involvedObject: { fieldPath: 'spec.containers{app}' } });
    expect(byReason.get('Created')).toMatchObject({ type: 'Normal', message: 'Created container app', involvedObject: { fieldPath: 'spec.containers{app}' } });

    // In that order (times have whole seconds, so equal ones are allowed).
    const times = ['Scheduled', 'Pulled', 'Created', 'Started'].map(reason => Date.parse(byReason.get(reason)?.firstTimestamp ?? ''));
    expect(times.every(t => !Number.isNaN(t))).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const describe = await kubectl('describe', 'pod', 'hello');
    const section = describe.slice(describe.indexOf('Events:'));
    for (const reason of ['Scheduled', 'Pulled', 'Created', 'Started']) expect(section).toMatch(new RegExp(`Normal\\s+${reason}\\s`));
    expect(section).toMatch(/Normal\s+Started\s+\S+\s+kubelet\s+Started container app/);
    expect(section).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/hello/);
  });

  it('a failing liveness probe shows Unhealthy (Warning) and Killing with the upstream texts', async () => {
    await createPod('live', {
      containers: [{
        name: 'app', ...sh('touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600'),
        livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
      }],
    });
    const unhealthy = await waitEvent('Pod', 'live', e => e.reason === 'Unhealthy', 'Unhealthy');
    expect(unhealthy.type).toBe('Warning');
    expect(unhealthy.message).toMatch(/^Liveness probe failed: cat: can't open '\/tmp\/healthy': No such file or directory/);
    expect(unhealthy.involvedObject.fieldPath).toBe('spec.containers{app}');
    const killing = await waitEvent('Pod', 'live', e => e.reason === 'Killing', 'Killing');
    expect(killing).toMatchObject({ type: 'Normal', message: 'Container app failed liveness probe, will be restarted', involvedObject: { fieldPath: 'spec.containers{app}' } });
    await waitStatus('live', s => (s.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 30_000);
  });

  it('a crash loop is one BackOff Event whose count grows, shown as (xN over …) by kubectl describe', async () => {
    const pod = await createPod('crash', { containers: [{ name: 'app', ...sh('exit 1') }] });
    const backoff = await waitEvent('Pod', 'crash', e => e.reason === 'BackOff' && (e.count ?? 0) >= 2, 'BackOff with count >= 2');
    expect(backoff).toMatchObject({
      type: 'Warning', message: `Back-off restarting failed container app in pod crash_default(${pod.metadata!.uid})`,
      source: { component: 'kubelet', host: agent.nodeName }, involvedObject: { fieldPath: 'spec.containers{app}' },
    });
    expect(Date.parse(backoff.lastTimestamp!)).toBeGreaterThan(Date.parse(backoff.firstTimestamp!));
    // Repeats patch the one object; they never create a second.
    expect((await eventsOf('Pod', 'crash')).filter(e => e.reason === 'BackOff')).toHaveLength(1);
    const started = (await eventsOf('Pod', 'crash')).filter(e => e.reason === 'Started');
    expect(started).toHaveLength(1);
    expect(started[0]!.count).toBeGreaterThanOrEqual(2);
    expect(await kubectl('describe', 'pod', 'crash')).toMatch(/Warning\s+BackOff\s+\S+ \(x\d+ over \S+\)\s+kubelet\s+Back-off restarting failed container app in pod crash_default\(/);
  });

  it('an image that cannot be pulled shows Pulling, Failed with the reason and Error: ErrImagePull, then Back-off pulling', async () => {
    // Nothing listens on port 1: the pull fails at once with connection refused.
    const image = '127.0.0.1:1/k8ts/nothing:v1';
    await createPod('nopull', { containers: [{ name: 'app', image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '1'] }] });
    await waitEvent('Pod', 'nopull', e => e.reason === 'Failed' && e.message === 'Error: ErrImagePull', 'Error: ErrImagePull');
    const events = await eventsOf('Pod', 'nopull');
    expect(events.find(e => e.reason === 'Pulling')).toMatchObject({ type: 'Normal', message: `Pulling image "${image}"`, involvedObject: { fieldPath: 'spec.containers{app}' } });
    const failed = events.find(e => e.reason === 'Failed' && e.message!.startsWith('Failed to pull image'))!;
    expect(failed.type).toBe('Warning');
    expect(failed.message).toMatch(new RegExp(`^Failed to pull image "${image.replace(/[.]/g, '\\.')}": .*connection refused`));
    await waitEvent('Pod', 'nopull', e => e.reason === 'BackOff' && e.message === `Back-off pulling image "${image}"`, 'Back-off pulling image');
    await waitEvent('Pod', 'nopull', e => e.reason === 'Failed' && e.message === 'Error: ImagePullBackOff', 'Error: ImagePullBackOff');
  });

  it('a ClusterFirst pod on an agent without cluster DNS gets MissingClusterDNS, on the pod and on the node', async () => {
    const uid = (await eventually('pod hello', async () => (await server.request('GET', '/api/v1/namespaces/default/pods/hello')).body as { metadata?: { uid?: string } })).metadata!.uid!;
    const text = 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';
    const onPod = await waitEvent('Pod', 'hello', e => e.reason === 'MissingClusterDNS', 'MissingClusterDNS');
    expect(onPod).toMatchObject({ type: 'Warning', message: `pod: "hello_default(${uid})". ${text}`, source: { component: 'kubelet', host: agent.nodeName } });
    const onNode = await waitEvent('Node', agent.nodeName, e => e.reason === 'MissingClusterDNS', 'MissingClusterDNS');
    expect(onNode).toMatchObject({ type: 'Warning', message: text, metadata: { namespace: 'default' }, involvedObject: { kind: 'Node', name: agent.nodeName, uid: agent.nodeName } });
  });

  it('the node shows Starting and NodeReady in kubectl describe node; deleting a pod shows Killing', async () => {
    const describe = await kubectl('describe', 'node', agent.nodeName);
    const section = describe.slice(describe.indexOf('Events:'));
    expect(section).toMatch(/Normal\s+Starting\s+\S+\s+kubelet\s+Starting kubelet\./);
    expect(section).toMatch(new RegExp(`Normal\\s+NodeReady\\s+\\S+\\s+kubelet\\s+Node ${agent.nodeName} status is now: NodeReady`));
    expect(section).toMatch(/Normal\s+NodeHasSufficientMemory\s/);
    await kubectl('delete', 'pod', 'hello', '--wait=false');
    await waitEvent('Pod', 'hello', e => e.reason === 'Killing' && e.message === 'Stopping container app', 'Killing');
  });
});
