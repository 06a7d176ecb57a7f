// Runs the probes of running containers: one timer per probe per container (upstream: one
// goroutine per probe), results folded through the pure state machine of probes.ts. A change of
// result kicks the pod's worker (which writes `ready`/`started` and the Ready conditions); a
// liveness or startup failure asks the kubelet to kill the container, after which the probes of
// that container stay on hold until it is replaced (a new attempt gets fresh probes, as upstream's
// workers are keyed by container id).
//
// `sync` is level-triggered: it is given the pod and its records on every pod sync and starts or
// stops probe sets to match the running containers.
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerRecord } from './pod-plan.js';
import { grpcCheck, httpGet, tcpCheck, type CheckResult, type DialTarget, type GrpcTarget, type HttpTarget } from './probe-net.js';
import {
  containerProbeStatus, httpStatusOk, initialProbeState, nextProbeAt, probeKills, probeMayRun, probeOf, probeTarget,
  probeTimings, recordProbeOutcome, type ProbeKind, type ProbeState, type ProbeTarget, type ProbeTimings,
} from './probes.js';
import type { Runtime } from './runtime.js';

/** The checks a probe or hook handler can make; real ones in `realChecks`, scripted in tests. */
export interface ProbeChecks {
  exec(containerId: string, command: readonly string[], timeoutMs: number, user?: string): Promise<CheckResult>;
  http(t: HttpTarget, timeoutMs: number): Promise<CheckResult>;
  tcp(t: DialTarget, timeoutMs: number): Promise<CheckResult>;
  grpc(t: GrpcTarget, timeoutMs: number): Promise<CheckResult>;
}

export function realChecks(runtime: Runtime): ProbeChecks {
  return {
    async exec(id, command, timeoutMs, user) {
      const r = await runtime.execInContainer(id, command, timeoutMs, user);
      if (r.timedOut) return { ok: false, message: `command timed out after ${timeoutMs / 1000}s` };
      // Upstream's exec prober gives the command's output alone, which Unhealthy events quote.
      return { ok: r.exitCode === 0, message: r.output };
    },
    async http(t, timeoutMs) {
      const r = await httpGet(t, timeoutMs);
      if (r.status === undefined) return { ok: false, message: r.error ?? 'no response' };
      return { ok: httpStatusOk(r.status), message: httpStatusOk(r.status) ? '' : `HTTP probe failed with statuscode: ${r.status}` };
    },
    tcp: (t, timeoutMs) => tcpCheck(t, timeoutMs),
    grpc: (t, timeoutMs) => grpcCheck(t, timeoutMs),
  };
}

/** Runs one handler (probe or hook) against a container. */
export function runHandler(checks: ProbeChecks, target: ProbeTarget, containerId: string, netns: string | undefined, timeoutMs: number, user?: string): Promise<CheckResult> {
  const ns = netns ? { netns } : {};
  switch (target.type) {
    case 'exec': return checks.exec(containerId, target.command, timeoutMs, user);
    case 'http': return checks.http({ ...target, ...ns }, timeoutMs);
    case 'tcp': return checks.tcp({ host: target.host, port: target.port, ...ns }, timeoutMs);
    case 'grpc': return checks.grpc({ host: target.host, port: target.port, service: target.service, ...ns }, timeoutMs);
    default: return Promise.resolve({ ok: false, message: target.message });
  }
}

interface Watch {
  kind: ProbeKind;
  timings: ProbeTimings;
  state: ProbeState;
  lastRunAt?: number;
  timer?: ReturnType<typeof setTimeout>;
}

interface ContainerProbes {
  podUID: string;
  id: string;
  container: Container;
  startedAtMs: number;
  podIP: string;
  netns: string | undefined;
  user: string | undefined;
  watches: Map<ProbeKind, Watch>;
  /** Killed by a probe: no more probing until the container is replaced. */
  held: boolean;
  stopped: boolean;
}

export interface ProberOptions {
  checks: ProbeChecks;
  now: () => number;
  /** A result changed: the pod's status must be written again. */
  onChange(podUID: string): void;
  /** A liveness or startup probe failed: kill the container (restartPolicy decides what follows). */
  onKill(podUID: string, containerId: string, kind: ProbeKind, message: string): void;
  /** A probe run failed (every run, as upstream records an Unhealthy event for each). */
  onFailure?(podUID: string, container: Container, kind: ProbeKind, message: string): void;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

const kinds: ProbeKind[] = ['startup', 'liveness', 'readiness'];

export class Prober {
  private readonly byId = new Map<string, ContainerProbes>();

  constructor(private readonly o: ProberOptions) {}

  /** Starts probes for the pod's running containers and stops those of containers that are gone. */
  sync(pod: Pod, records: readonly ContainerRecord[], podIP: string | undefined, netns: string | undefined): void {
    const uid = pod.metadata?.uid ?? '';
    const specs = new Map((pod.spec?.containers ?? []).map(c => [c.name, c]));
    const want = new Set<string>();
    for (const r of records) {
      const c = specs.get(r.name);
      if (r.init || r.state !== 'running' || !c || !podIP) continue;
      if (!kinds.some(k => probeOf(c, k))) continue;
      want.add(r.id);
      if (this.byId.has(r.id)) continue;
      const cp: ContainerProbes = {
        podUID: uid, id: r.id, container: c, startedAtMs: r.startedAt ? Date.parse(r.startedAt) : this.o.now(), podIP, netns, user: r.user,
        watches: new Map(), held: false, stopped: false,
      };
      for (const k of kinds) {
        const p = probeOf(c, k);
        if (p) cp.watches.set(k, { kind: k, timings: probeTimings(p, k), state: initialProbeState(k) });
      }
      this.byId.set(r.id, cp);
      for (const w of cp.watches.values()) this.schedule(cp, w);
    }
    for (const [id, cp] of this.byId) if (cp.podUID === uid && !want.has(id)) this.drop(id);
  }

  /** `started`/`ready` of the pod's probed containers, by container id. */
  statuses(podUID: string): Map<string, { started: boolean; ready: boolean }> {
    const out = new Map<string, { started: boolean; ready: boolean }>();
    for (const cp of this.byId.values()) {
      if (cp.podUID !== podUID) continue;
      const states: Partial<Record<ProbeKind, ProbeState>> = {};
      for (const [k, w] of cp.watches) states[k] = w.state;
      out.set(cp.id, containerProbeStatus(cp.container, states));
    }
    return out;
  }

  /** The state of one probe (tests, debugging). */
  state(containerId: string, kind: ProbeKind): ProbeState | undefined {
    return this.byId.get(containerId)?.watches.get(kind)?.state;
  }

  forget(podUID: string): void {
    for (const [id, cp] of this.byId) if (cp.podUID === podUID) this.drop(id);
  }

  stop(): void {
    for (const id of [...this.byId.keys()]) this.drop(id);
  }

  private drop(id: string): void {
    const cp = this.byId.get(id);
    if (!cp) return;
    cp.stopped = true;
    for (const w of cp.watches.values()) if (w.timer) clearTimeout(w.timer);
    this.byId.delete(id);
  }

  private schedule(cp: ContainerProbes, w: Watch): void {
    if (cp.stopped || cp.held) return;
    const at = nextProbeAt(w.timings, cp.startedAtMs, w.lastRunAt);
    w.timer = setTimeout(() => { delete w.timer; void this.tick(cp, w); }, Math.max(0, at - this.o.now()));
  }

  private async tick(cp: ContainerProbes, w: Watch): Promise<void> {
    if (cp.stopped || cp.held) return;
    w.lastRunAt = this.o.now();
    if (probeMayRun(w.kind, cp.container, cp.watches.get('startup')?.state)) {
      const p = probeOf(cp.container, w.kind)!;
      let r: CheckResult;
      try {
        r = await runHandler(this.o.checks, probeTarget(p, cp.container, cp.podIP), cp.id, cp.netns, w.timings.timeoutMs, cp.user);
      } catch (err) {
        r = { ok: false, message: String(err) };
      }
      if (cp.stopped) return;
      const { state, changed } = recordProbeOutcome(w.state, w.timings, r.ok, r.message);
      w.state = state;
      if (!r.ok) {
        this.o.log?.('probe failed', { container: cp.container.name, id: cp.id, probe: w.kind, failures: state.failures, message: r.message });
        this.o.onFailure?.(cp.podUID, cp.container, w.kind, r.message);
      }
      if (changed) {
        if (probeKills(w.kind, state)) {
          cp.held = true;
          this.o.onKill(cp.podUID, cp.id, w.kind, r.message);
        }
        this.o.onChange(cp.podUID);
      }
      // A startup probe is done once it succeeded; the others start on their own timers.
      if (w.kind === 'startup' && state.result === 'success') return;
    }
    this.schedule(cp, w);
  }
}
