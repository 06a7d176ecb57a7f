// The pure core of container probes, after upstream's prober (pkg/kubelet/prober/worker.go): the
// timing fields of a Probe with their defaults, the per-probe result state machine with its
// success/failure thresholds, which probes may run (a startup probe gates liveness and readiness),
// what a result means for the container (started, ready, kill), and where an httpGet/tcpSocket
// probe connects. No I/O: agent/prober.ts owns the timers and runs the checks.
//
// Semantics kept from upstream:
// - Initial results: liveness Success (a container is alive until proven otherwise), readiness
//   Failure (not ready until a probe passes), startup Unknown (not started).
// - A result flips only after `successThreshold` consecutive successes or `failureThreshold`
//   consecutive failures; liveness and startup must use successThreshold 1 (validation enforces
//   it upstream; we clamp).
// - Probing begins `initialDelaySeconds` after the container started, then every `periodSeconds`.
// - While a startup probe has not succeeded, liveness and readiness do not run; once it succeeded
//   it is not run again for that container.
// - A liveness or startup result of Failure kills the container; restartPolicy then decides.
import type { Container, Probe } from 'kubernetes-types/core/v1.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

export interface ProbeTimings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ProbeState {
  result: ProbeResult;
  /** Consecutive outcomes of the same kind, counted towards the thresholds. */
  successes: number;
  failures: number;
  /** The last outcome's explanation (an HTTP status, an exit code, a connect error). */
  message?: string;
}

/** The probe of `kind` on a container, if it has one. */
export function probeOf(c: Container, kind: ProbeKind): Probe | undefined {
  return kind === 'liveness' ? c.livenessProbe : kind === 'readiness' ? c.readinessProbe : c.startupProbe;
}

/** The timing fields with upstream's defaults (period 10 s, timeout 1 s, thresholds 1 and 3). */
export function probeTimings(p: Probe, kind: ProbeKind): ProbeTimings {
  const pos = (v: number | undefined, d: number) => (v !== undefined && v > 0 ? v : d);
  return {
    initialDelayMs: Math.max(0, p.initialDelaySeconds ?? 0) * 1000,
    periodMs: pos(p.periodSeconds, 10) * 1000,
    timeoutMs: pos(p.timeoutSeconds, 1) * 1000,
    successThreshold: kind === 'readiness' ? pos(p.successThreshold, 1) : 1,
    failureThreshold: pos(p.failureThreshold, 3),
  };
}

export function initialProbeState(kind: ProbeKind): ProbeState {
  return { result: kind === 'liveness' ? 'success' : kind === 'readiness' ? 'failure' : 'unknown', successes: 0, failures: 0 };
}

/** Folds one probe outcome into the state; `changed` when the result flipped. */
export function recordProbeOutcome(s: ProbeState, t: ProbeTimings, ok: boolean, message?: string): { state: ProbeState; changed: boolean } {
  const successes = ok ? s.successes + 1 : 0;
  const failures = ok ? 0 : s.failures + 1;
  let result = s.result;
  if (ok && successes >= t.successThreshold) result = 'success';
  if (!ok && failures >= t.failureThreshold) result = 'failure';
  return { state: { result, successes, failures, ...(message !== undefined ? { message } : {}) }, changed: result !== s.result };
}

/** When a probe runs next: `initialDelay` after the start, then every period after the last run. */
export function nextProbeAt(t: ProbeTimings, startedAtMs: number, lastRunAt: number | undefined): number {
  return lastRunAt === undefined ? startedAtMs + t.initialDelayMs : lastRunAt + t.periodMs;
}

/** Whether a probe of `kind` runs now: a pending startup probe holds back the other two. */
export function probeMayRun(kind: ProbeKind, c: Container, startup: ProbeState | undefined): boolean {
  const started = !c.startupProbe || startup?.result === 'success';
  return kind === 'startup' ? !started : started;
}

/** The container's `started` and `ready` from its probe states (absent: initial states). */
export function containerProbeStatus(c: Container, states: Partial<Record<ProbeKind, ProbeState>>): { started: boolean; ready: boolean } {
  const started = !c.startupProbe || (states.startup ?? initialProbeState('startup')).result === 'success';
  const ready = started && (!c.readinessProbe || (states.readiness ?? initialProbeState('readiness')).result === 'success');
  return { started, ready };
}

/** A failed liveness or startup probe kills the container; readiness only marks it unready. */
export function probeKills(kind: ProbeKind, s: ProbeState): boolean {
  return kind !== 'readiness' && s.result === 'failure';
}

/** What a probe (or a lifecycle hook's handler) does, resolved against the container and pod IP. */
export type ProbeTarget =
  | { type: 'exec'; command: string[] }
  | { type: 'http'; scheme: 'HTTP' | 'HTTPS'; host: string; port: number; path: string; headers: [string, string][] }
  | { type: 'tcp'; host: string; port: number }
  | { type: 'grpc'; host: string; port: number; service: string }
  | { type: 'unsupported'; message: string };

/** A named or numbered port of the container (`http` → its containerPort). */
export function resolvePort(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port > 0 && port < 65536 ? port : undefined;
  if (port === undefined || port === '') return undefined;
  if (/^\d+$/.test(port)) return resolvePort(c, Number(port));
  return c.ports?.find(p => p.name === port)?.containerPort;
}

type Handler = Pick<Probe, 'exec' | 'httpGet' | 'tcpSocket' | 'grpc'>;

export function probeTarget(h: Handler, c: Container, podIP: string): ProbeTarget {
  if (h.exec) {
    if (!h.exec.command?.length) return { type: 'unsupported', message: 'exec handler has no command' };
    return { type: 'exec', command: h.exec.command };
  }
  if (h.httpGet) {
    const port = resolvePort(c, h.httpGet.port);
    if (port === undefined) return { type: 'unsupported', message: `port "${String(h.httpGet.port)}" is not a port of container "${c.name}"` };
    const path = h.httpGet.path ? (h.httpGet.path.startsWith('/') ? h.httpGet.path : `/${h.httpGet.path}`) : '/';
    return {
      type: 'http', scheme: h.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP', host: h.httpGet.host || podIP, port, path,
      headers: (h.httpGet.httpHeaders ?? []).map(x => [x.name, x.value] as [string, string]),
    };
  }
  if (h.tcpSocket) {
    const port = resolvePort(c, h.tcpSocket.port);
    if (port === undefined) return { type: 'unsupported', message: `port "${String(h.tcpSocket.port)}" is not a port of container "${c.name}"` };
    return { type: 'tcp', host: h.tcpSocket.host || podIP, port };
  }
  if (h.grpc) {
    // Upstream: grpc.port is a number only (no named ports), the host is always the pod IP.
    const port = h.grpc.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { type: 'unsupported', message: `grpc port ${String(port)} is not a valid port` };
    return { type: 'grpc', host: podIP, port, service: h.grpc.service ?? '' };
  }
  return { type: 'unsupported', message: 'the probe has no handler' };
}

/** Upstream's rule for HTTP probes: 200 ≤ status < 400 is a success. */
export function httpStatusOk(status: number): boolean {
  return status >= 200 && status < 400;
}
