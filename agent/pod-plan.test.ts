import type { Pod } from 'kubernetes-types/core/v1.js';
import { backoffDelay, computePodStatus, containersInBackoff, planPod, podPhase, type ContainerRecord } from './pod-plan.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const backoff = { baseMs: 10_000, maxMs: 300_000 };

function pod(spec: Partial<NonNullable<Pod['spec']>> = {}, status?: Pod['status']): Pod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'uid-1' },
    spec: { containers: [{ name: 'a', image: 'img' }], ...spec },
    ...(status ? { status } : {}),
  };
}

function rec(name: string, attempt: number, state: 'running' | 'exited', extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: `uid-1-${name}-${attempt}`, podUID: 'uid-1', name, attempt, init: false, image: 'img', state,
    startedAt: new Date(T0).toISOString(), ...(state === 'exited' ? { exitCode: 0, finishedAt: new Date(T0 + 1000).toISOString() } : {}), ...extra,
  };
}

describe('backoffDelay', () => {
  it('starts at the base, doubles per restart and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(n => backoffDelay(n, backoff))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });
});

describe('planPod', () => {
  it('starts every container of a new pod at attempt 0', () => {
    const p = pod({ containers: [{ name: 'a' }, { name: 'b' }] });
    expect(planPod(p, [], T0).starts.map(s => [s.container.name, s.attempt, s.init])).toEqual([['a', 0, false], ['b', 0, false]]);
  });

  it('runs init containers one at a time, in order, before any container', () => {
    const p = pod({ initContainers: [{ name: 'i1' }, { name: 'i2' }] });
    expect(planPod(p, [], T0).starts.map(s => s.container.name)).toEqual(['i1']);
    expect(planPod(p, [rec('i1', 0, 'running', { init: true })], T0).starts).toEqual([]);
    expect(planPod(p, [rec('i1', 0, 'exited', { init: true })], T0).starts.map(s => s.container.name)).toEqual(['i2']);
    const done = [rec('i1', 0, 'exited', { init: true }), rec('i2', 0, 'exited', { init: true })];
    expect(planPod(p, done, T0).starts.map(s => [s.container.name, s.init])).toEqual([['a', false]]);
  });

  it('a failed init container with restartPolicy Never makes the pod terminal', () => {
    const p = pod({ restartPolicy: 'Never', initContainers: [{ name: 'i1' }] });
    expect(planPod(p, [rec('i1', 0, 'exited', { init: true, exitCode: 1 })], T0)).toEqual({ starts: [], terminal: true });
  });

  it('restartPolicy Always restarts after the back-off, with the next attempt number', () => {
    const p = pod();
    const dead = [rec('a', 0, 'exited', { exitCode: 0 })];
    expect(planPod(p, dead, T0 + 5000, backoff)).toEqual({ starts: [], recheckAt: T0 + 1000 + 10_000, terminal: false });
    expect(planPod(p, dead, T0 + 11_000, backoff).starts.map(s => s.attempt)).toEqual([1]);
    const twice = [rec('a', 1, 'exited', { exitCode: 1 })];
    expect(planPod(p, twice, T0 + 11_000, backoff).recheckAt).toBe(T0 + 1000 + 20_000);
  });

  it('restartPolicy OnFailure restarts only non-zero exits', () => {
    const p = pod({ restartPolicy: 'OnFailure' });
    expect(planPod(p, [rec('a', 0, 'exited', { exitCode: 0 })], T0 + 60_000, backoff)).toEqual({ starts: [], terminal: true });
    expect(planPod(p, [rec('a', 0, 'exited', { exitCode: 2 })], T0 + 60_000, backoff).starts.map(s => s.attempt)).toEqual([1]);
  });

  it('restartPolicy Never never restarts', () => {
    const p = pod({ restartPolicy: 'Never' });
    expect(planPod(p, [rec('a', 0, 'exited', { exitCode: 2 })], T0 + 600_000, backoff)).toEqual({ starts: [], terminal: true });
  });
});

describe('computePodStatus', () => {
  it('a new pod is Pending with its containers ContainerCreating', () => {
    const s = computePodStatus({ pod: pod(), records: [], now: T0 });
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses![0]!.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    expect(s.conditions!.find(c => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [a]' });
    expect(s.startTime).toBe('2026-01-01T00:00:00Z');
  });

  it('running containers make the pod Running and Ready, with podIP and hostIP', () => {
    const s = computePodStatus({ pod: pod(), records: [rec('a', 0, 'running')], now: T0 + 5000, podIP: '10.244.0.5', hostIP: '192.0.2.1' });
    expect(s.phase).toBe('Running');
    expect(s.podIP).toBe('10.244.0.5');
    expect(s.podIPs).toEqual([{ ip: '10.244.0.5' }]);
    expect(s.hostIP).toBe('192.0.2.1');
    expect(s.containerStatuses![0]).toMatchObject({ name: 'a', ready: true, started: true, restartCount: 0, containerID: 'containerd://uid-1-a-0', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } });
    expect(s.conditions!.map(c => [c.type, c.status])).toEqual([['Initialized', 'True'], ['Ready', 'True'], ['ContainersReady', 'True'], ['PodScheduled', 'True']]);
  });

  it('a crashed container in back-off shows CrashLoopBackOff, the restart count and the last exit', () => {
    const s = computePodStatus({ pod: pod(), records: [rec('a', 2, 'exited', { exitCode: 1 }), rec('a', 1, 'exited', { exitCode: 1 })], now: T0 + 2000, backoff });
    const cs = s.containerStatuses![0]!;
    expect(cs.restartCount).toBe(2);
    expect(cs.state!.waiting).toEqual({ reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=a pod=p_ns(uid-1)' });
    expect(cs.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(s.phase).toBe('Running');
  });

  it('restartPolicy Never: a non-zero exit makes the pod Failed, a zero one Succeeded', () => {
    expect(computePodStatus({ pod: pod({ restartPolicy: 'Never' }), records: [rec('a', 0, 'exited', { exitCode: 3 })], now: T0 }).phase).toBe('Failed');
    const ok = computePodStatus({ pod: pod({ restartPolicy: 'Never' }), records: [rec('a', 0, 'exited', { exitCode: 0 })], now: T0 });
    expect(ok.phase).toBe('Succeeded');
    expect(ok.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(ok.conditions!.find(c => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('reports StartError and OOMKilled as the runtime explained them', () => {
    const s = computePodStatus({ pod: pod({ restartPolicy: 'Never' }), records: [rec('a', 0, 'exited', { exitCode: 128, reason: 'StartError', message: 'exec: "x": not found' })], now: T0 });
    expect(s.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 128, reason: 'StartError', message: 'exec: "x": not found' });
    const o = computePodStatus({ pod: pod({ restartPolicy: 'Never' }), records: [rec('a', 0, 'exited', { exitCode: 137, reason: 'OOMKilled' })], now: T0 });
    expect(o.containerStatuses![0]!.state!.terminated!.reason).toBe('OOMKilled');
  });

  it('while init containers run the pod is Pending with PodInitializing containers', () => {
    const p = pod({ initContainers: [{ name: 'i', image: 'img' }] });
    const s = computePodStatus({ pod: p, records: [rec('i', 0, 'running', { init: true })], now: T0 });
    expect(s.phase).toBe('Pending');
    expect(s.initContainerStatuses![0]!.state!.running).toBeDefined();
    expect(s.containerStatuses![0]!.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(s.conditions!.find(c => c.type === 'Initialized')).toMatchObject({ status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i]' });
  });

  it('shows image pull reasons the worker passes in', () => {
    const s = computePodStatus({ pod: pod(), records: [], now: T0, waiting: new Map([['a', { reason: 'ErrImagePull', message: 'no network' }]]) });
    expect(s.containerStatuses![0]!.state).toEqual({ waiting: { reason: 'ErrImagePull', message: 'no network' } });
  });

  it('keeps a terminal phase and unchanged transition times', () => {
    const before = computePodStatus({ pod: pod(), records: [rec('a', 0, 'running')], now: T0 });
    const later = computePodStatus({ pod: pod({}, before), records: [rec('a', 0, 'running')], now: T0 + 60_000 });
    expect(later.conditions!.map(c => c.lastTransitionTime)).toEqual(before.conditions!.map(c => c.lastTransitionTime));
    const failed = computePodStatus({ pod: pod({}, { phase: 'Failed' }), records: [rec('a', 0, 'running')], now: T0 });
    expect(failed.phase).toBe('Failed');
  });
});

describe('podPhase', () => {
  it('is Pending with no statuses and Running when OnFailure restarts a failure', () => {
    expect(podPhase(pod(), [], [])).toBe('Pending');
    expect(podPhase(pod({ restartPolicy: 'OnFailure' }), [], [{ name: 'a', image: '', imageID: '', ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } }])).toBe('Running');
  });
});

describe('containersInBackoff', () => {
  it('lists exited containers the policy restarts while their back-off runs, and no others', () => {
    const p = pod({ containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    const records = [rec('a', 0, 'exited', { exitCode: 1 }), rec('b', 0, 'running'), rec('c', 1, 'exited', { exitCode: 2 })];
    // a finished at T0+1s with back-off 10 s; c (attempt 1) with 20 s.
    expect(containersInBackoff(p, records, T0 + 5_000, backoff)).toEqual([{ name: 'a', init: false }, { name: 'c', init: false }]);
    expect(containersInBackoff(p, records, T0 + 15_000, backoff)).toEqual([{ name: 'c', init: false }]);
    expect(containersInBackoff(p, records, T0 + 30_000, backoff)).toEqual([]);
  });

  it('follows restartPolicy, and names failed init containers', () => {
    const never = pod({ restartPolicy: 'Never' });
    expect(containersInBackoff(never, [rec('a', 0, 'exited', { exitCode: 1 })], T0 + 2_000, backoff)).toEqual([]);
    const onFailure = pod({ restartPolicy: 'OnFailure', initContainers: [{ name: 'init' }] });
    expect(containersInBackoff(onFailure, [rec('init', 0, 'exited', { exitCode: 1, init: true })], T0 + 2_000, backoff)).toEqual([{ name: 'init', init: true }]);
    expect(containersInBackoff(onFailure, [rec('a', 0, 'exited', { exitCode: 0 })], T0 + 2_000, backoff)).toEqual([]);
  });
});
