// The pure core of a pod worker, in the manner of kubelet's computePodActions + getPhase: from the
// pod spec and what the runtime holds for the pod (container records, newest attempt first) to
// (a) the containers to start now and when to look again (crash-loop back-off), and (b) the pod
// status to write back. No I/O here: the worker feeds in records and `now`, tests feed in fixtures.
//
// A container's attempt number is its restartCount: attempt 0 is the first start, and the record
// of the previous attempt gives `lastState`. Back-off before attempt n+1 is base·2ⁿ, capped (10 s
// doubling to 5 min upstream), counted from when attempt n finished.
import { containerProbeStatus } from './probes.js';
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';

export interface ContainerRecord {
  id: string;
  podUID: string;
  name: string;
  attempt: number;
  init: boolean;
  image: string;
  state: 'running' | 'exited';
  pid?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** `uid:gid` the container runs as (securityContext), for exec'd processes. */
  user?: string;
  /** Set for exits the runtime explains: OOMKilled, StartError. */
  reason?: string;
  message?: string;
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 10_000, maxMs: 300_000 };

export interface StartAction {
  container: Container;
  init: boolean;
  attempt: number;
}

export interface PodPlan {
  starts: StartAction[];
  /** Epoch ms at which a back-off ends and the worker should sync again. */
  recheckAt?: number;
  /** No container will ever run again (Succeeded or Failed): the sandbox may go. */
  terminal: boolean;
}

/** A container waiting for something other than back-off (image pulls), by container name. */
export type WaitingReasons = ReadonlyMap<string, { reason: string; message: string }>;

export function backoffDelay(restartCount: number, p: BackoffPolicy): number {
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(restartCount, 20));
}

/** Records grouped by container name, newest attempt first. */
export function groupRecords(records: readonly ContainerRecord[]): Map<string, ContainerRecord[]> {
  const m = new Map<string, ContainerRecord[]>();
  for (const r of records) {
    const key = `${r.init ? 'init:' : ''}${r.name}`;
    const list = m.get(key) ?? [];
    list.push(r);
    m.set(key, list);
  }
  for (const list of m.values()) list.sort((a, b) => b.attempt - a.attempt);
  return m;
}

function latest(groups: Map<string, ContainerRecord[]>, name: string, init: boolean): ContainerRecord[] {
  return groups.get(`${init ? 'init:' : ''}${name}`) ?? [];
}

function restartPolicy(pod: Pod): 'Always' | 'OnFailure' | 'Never' {
  const p = pod.spec?.restartPolicy;
  return p === 'Never' || p === 'OnFailure' ? p : 'Always';
}

function wantsRestart(policy: 'Always' | 'OnFailure' | 'Never', exitCode: number | undefined, init: boolean): boolean {
  if (init) return policy !== 'Never' && exitCode !== 0;
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

function restartAt(r: ContainerRecord, p: BackoffPolicy): number {
  const finished = r.finishedAt ? Date.parse(r.finishedAt) : 0;
  return finished + backoffDelay(r.attempt, p);
}

/** What to start now, given the spec and the records. */
export function planPod(pod: Pod, records: readonly ContainerRecord[], now: number, backoff: BackoffPolicy = defaultBackoff): PodPlan {
  const policy = restartPolicy(pod);
  const groups = groupRecords(records);
  const starts: StartAction[] = [];
  let recheckAt: number | undefined;
  const later = (t: number) => { recheckAt = recheckAt === undefined ? t : Math.min(recheckAt, t); };

  for (const c of pod.spec?.initContainers ?? []) {
    const [last] = latest(groups, c.name, true);
    if (!last) return { starts: [{ container: c, init: true, attempt: 0 }], terminal: false };
    if (last.state === 'running') return { starts: [], terminal: false };
    if (last.exitCode === 0) continue;
    if (!wantsRestart(policy, last.exitCode, true)) return { starts: [], terminal: true };
    const at = restartAt(last, backoff);
    if (at <= now) return { starts: [{ container: c, init: true, attempt: last.attempt + 1 }], terminal: false };
    return { starts: [], recheckAt: at, terminal: false };
  }

  let finished = 0;
  const containers = pod.spec?.containers ?? [];
  for (const c of containers) {
    const [last] = latest(groups, c.name, false);
    if (!last) { starts.push({ container: c, init: false, attempt: 0 }); continue; }
    if (last.state === 'running') continue;
    if (!wantsRestart(policy, last.exitCode, false)) { finished++; continue; }
    const at = restartAt(last, backoff);
    if (at <= now) starts.push({ container: c, init: false, attempt: last.attempt + 1 });
    else later(at);
  }
  return { starts, ...(recheckAt !== undefined ? { recheckAt } : {}), terminal: containers.length > 0 && finished === containers.length };
}

/**
 * Containers waiting out a crash-loop back-off now (upstream records a BackOff event for each
 * at every sync): the last attempt exited, the policy restarts it, and its back-off is not over.
 */
export function containersInBackoff(pod: Pod, records: readonly ContainerRecord[], now: number, backoff: BackoffPolicy = defaultBackoff): { name: string; init: boolean }[] {
  const policy = restartPolicy(pod);
  const groups = groupRecords(records);
  const out: { name: string; init: boolean }[] = [];
  const check = (name: string, init: boolean) => {
    const [last] = latest(groups, name, init);
    if (!last || last.state !== 'exited' || (init && last.exitCode === 0)) return;
    if (wantsRestart(policy, last.exitCode, init) && restartAt(last, backoff) > now) out.push({ name, init });
  };
  for (const c of pod.spec?.initContainers ?? []) check(c.name, true);
  for (const c of pod.spec?.containers ?? []) check(c.name, false);
  return out;
}

// ───────────────────────────── status ─────────────────────────────

export interface StatusInput {
  pod: Pod;
  records: readonly ContainerRecord[];
  podIP?: string;
  hostIP?: string;
  now: number;
  backoff?: BackoffPolicy;
  waiting?: WaitingReasons;
  /** Probe verdicts by container id (agent/prober.ts); a probed container without one is unready. */
  probes?: ReadonlyMap<string, { started: boolean; ready: boolean }>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with whole seconds, as the API's metav1.Time. */
function apiTime(t: string): string {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? t : iso(ms);
}

function terminatedState(r: ContainerRecord): ContainerState {
  const exitCode = r.exitCode ?? 0;
  const reason = r.reason ?? (exitCode === 0 ? 'Completed' : 'Error');
  return {
    terminated: {
      exitCode, reason, containerID: `containerd://${r.id}`,
      ...(r.message ? { message: r.message } : {}),
      ...(r.startedAt ? { startedAt: apiTime(r.startedAt) } : {}),
      ...(r.finishedAt ? { finishedAt: apiTime(r.finishedAt) } : {}),
    },
  };
}

function containerStatus(pod: Pod, c: Container, recs: ContainerRecord[], init: boolean, input: StatusInput, initDone: boolean): ContainerStatus {
  const policy = restartPolicy(pod);
  const backoff = input.backoff ?? defaultBackoff;
  const [last, prev] = recs;
  const base = { name: c.name, image: c.image ?? '', imageID: '', restartCount: last?.attempt ?? 0 };
  if (!last) {
    const w = input.waiting?.get(c.name);
    const reason = w?.reason ?? (init || !initDone ? 'PodInitializing' : 'ContainerCreating');
    return { ...base, ready: false, started: false, state: { waiting: { reason, ...(w ? { message: w.message } : {}) } }, lastState: {} };
  }
  const lastState = prev && prev.state === 'exited' ? terminatedState(prev) : {};
  const containerID = `containerd://${last.id}`;
  if (last.state === 'running') {
    const probed = init ? { started: true, ready: false } : input.probes?.get(last.id) ?? containerProbeStatus(c, {});
    return { ...base, containerID, ready: probed.ready, started: probed.started, state: { running: { startedAt: apiTime(last.startedAt ?? iso(input.now)) } }, lastState };
  }
  if (wantsRestart(policy, last.exitCode, init) && !(init && last.exitCode === 0)) {
    const delay = backoffDelay(last.attempt, backoff);
    if (restartAt(last, backoff) > input.now) {
      const podRef = `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
      return {
        ...base, containerID, ready: false, started: false,
        state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.name} pod=${podRef}` } },
        lastState: terminatedState(last),
      };
    }
  }
  return { ...base, containerID, ready: false, started: false, state: terminatedState(last), lastState };
}

function condition(type: string, ok: boolean, old: readonly PodCondition[], now: number, reason?: string, message?: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = old.find(c => c.type === type);
  return {
    type, status,
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : iso(now),
    ...(reason ? { reason } : {}), ...(message ? { message } : {}),
  };
}

/** The pod's phase from its container statuses, as upstream's getPhase. */
export function podPhase(pod: Pod, initStatuses: ContainerStatus[], statuses: ContainerStatus[]): NonNullable<PodStatus['phase']> {
  const policy = restartPolicy(pod);
  for (const s of initStatuses) {
    if (s.state?.terminated && s.state.terminated.exitCode !== 0 && policy === 'Never') return 'Failed';
  }
  if (initStatuses.some(s => !(s.state?.terminated?.exitCode === 0))) return 'Pending';
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) { stopped++; if (s.state.terminated.exitCode === 0) succeeded++; }
    else if (s.state?.waiting) { if (s.lastState?.terminated) stopped++; else waiting++; }
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** The status the agent owns, merged over what the pod already has (scheduler's condition, qosClass). */
export function computePodStatus(input: StatusInput): PodStatus {
  const { pod, now } = input;
  const old = pod.status ?? {};
  const oldConds = old.conditions ?? [];
  const groups = groupRecords(input.records);
  const inits = pod.spec?.initContainers ?? [];
  const initStatuses = inits.map(c => containerStatus(pod, c, latest(groups, c.name, true), true, input, false));
  const initDone = initStatuses.every(s => s.state?.terminated?.exitCode === 0);
  const statuses = (pod.spec?.containers ?? []).map(c => containerStatus(pod, c, latest(groups, c.name, false), false, input, initDone));
  let phase = podPhase(pod, initStatuses, statuses);
  // Terminal phases are final, as upstream: a pod never leaves Succeeded or Failed.
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  const incompleteInit = initStatuses.filter(s => s.state?.terminated?.exitCode !== 0).map(s => s.name);
  const unready = statuses.filter(s => !s.ready).map(s => s.name);
  const ready = !terminal && unready.length === 0;
  const readyReason = terminal ? 'PodCompleted' : ready ? undefined : 'ContainersNotReady';
  const readyMsg = !terminal && !ready ? `containers with unready status: [${unready.join(' ')}]` : undefined;
  const conditions: PodCondition[] = [
    condition('Initialized', incompleteInit.length === 0, oldConds, now, incompleteInit.length ? 'ContainersNotInitialized' : (terminal ? 'PodCompleted' : undefined), incompleteInit.length ? `containers with incomplete status: [${incompleteInit.join(' ')}]` : undefined),
    condition('Ready', ready, oldConds, now, readyReason, readyMsg),
    condition('ContainersReady', ready, oldConds, now, readyReason, readyMsg),
    condition('PodScheduled', true, oldConds, now),
  ];
  const status: PodStatus = {
    ...old,
    phase,
    conditions,
    ...(input.hostIP ? { hostIP: input.hostIP, hostIPs: [{ ip: input.hostIP }] } : {}),
    ...(input.podIP ? { podIP: input.podIP, podIPs: [{ ip: input.podIP }] } : {}),
    startTime: old.startTime ?? iso(now),
    containerStatuses: statuses,
    ...(inits.length ? { initContainerStatuses: initStatuses } : {}),
  };
  return status;
}
