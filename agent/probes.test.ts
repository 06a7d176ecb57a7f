import type { Container } from 'kubernetes-types/core/v1.js';
import {
  containerProbeStatus, httpStatusOk, initialProbeState, nextProbeAt, probeKills, probeMayRun, probeTarget, probeTimings,
  recordProbeOutcome, type ProbeState,
} from './probes.js';

const c = (extra: Partial<Container> = {}): Container => ({ name: 'app', image: 'img', ports: [{ name: 'http', containerPort: 8080 }], ...extra });

function run(s: ProbeState, outcomes: boolean[], t = probeTimings({ successThreshold: 2, failureThreshold: 3 }, 'readiness')): ProbeState[] {
  const out: ProbeState[] = [];
  for (const ok of outcomes) { s = recordProbeOutcome(s, t, ok).state; out.push(s); }
  return out;
}

describe('probeTimings', () => {
  it('applies upstream defaults: no delay, period 10 s, timeout 1 s, thresholds 1 and 3', () => {
    expect(probeTimings({}, 'readiness')).toEqual({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  });
  it('takes the given fields, and forces successThreshold 1 on liveness and startup probes', () => {
    const p = { initialDelaySeconds: 2, periodSeconds: 3, timeoutSeconds: 4, successThreshold: 5, failureThreshold: 6 };
    expect(probeTimings(p, 'readiness')).toEqual({ initialDelayMs: 2000, periodMs: 3000, timeoutMs: 4000, successThreshold: 5, failureThreshold: 6 });
    expect(probeTimings(p, 'liveness').successThreshold).toBe(1);
    expect(probeTimings(p, 'startup').successThreshold).toBe(1);
  });
});

describe('the probe state machine', () => {
  it('starts alive, unready and not started', () => {
    expect(initialProbeState('liveness').result).toBe('success');
    expect(initialProbeState('readiness').result).toBe('failure');
    expect(initialProbeState('startup').result).toBe('unknown');
  });
  it('flips to success only after successThreshold consecutive successes', () => {
    const states = run(initialProbeState('readiness'), [true, false, true, true]);
    expect(states.map(s => s.result)).toEqual(['failure', 'failure', 'failure', 'success']);
  });
  it('flips to failure only after failureThreshold consecutive failures; a success resets the count', () => {
    const ok = { result: 'success' as const, successes: 5, failures: 0 };
    expect(run(ok, [false, false, true, false, false, false]).map(s => s.result)).toEqual(['success', 'success', 'success', 'success', 'success', 'failure']);
  });
  it('reports a change only when the result flips', () => {
    const t = probeTimings({ failureThreshold: 1 }, 'liveness');
    const a = recordProbeOutcome(initialProbeState('liveness'), t, true);
    expect(a.changed).toBe(false);
    const b = recordProbeOutcome(a.state, t, false, 'HTTP probe failed with statuscode: 500');
    expect(b).toEqual({ state: { result: 'failure', successes: 0, failures: 1, message: 'HTTP probe failed with statuscode: 500' }, changed: true });
  });
  it('kills on liveness and startup failures, never on readiness', () => {
    const failed = { result: 'failure' as const, successes: 0, failures: 3 };
    expect([probeKills('liveness', failed), probeKills('startup', failed), probeKills('readiness', failed)]).toEqual([true, true, false]);
  });
});

describe('scheduling', () => {
  it('first runs initialDelaySeconds after the start, then every periodSeconds after the last run', () => {
    const t = probeTimings({ initialDelaySeconds: 5, periodSeconds: 2 }, 'liveness');
    expect(nextProbeAt(t, 1000, undefined)).toBe(6000);
    expect(nextProbeAt(t, 1000, 6100)).toBe(8100);
  });
  it('holds back liveness and readiness until the startup probe succeeded, and stops startup after', () => {
    const withStartup = c({ startupProbe: { exec: { command: ['true'] } } });
    expect(probeMayRun('liveness', withStartup, initialProbeState('startup'))).toBe(false);
    expect(probeMayRun('startup', withStartup, initialProbeState('startup'))).toBe(true);
    const done = { result: 'success' as const, successes: 1, failures: 0 };
    expect(probeMayRun('readiness', withStartup, done)).toBe(true);
    expect(probeMayRun('startup', withStartup, done)).toBe(false);
    expect(probeMayRun('liveness', c(), undefined)).toBe(true);
  });
});

describe('containerProbeStatus', () => {
  it('is started and ready without probes', () => {
    expect(containerProbeStatus(c(), {})).toEqual({ started: true, ready: true });
  });
  it('is unready until the readiness probe passes, and not started until the startup probe passes', () => {
    const probed = c({ readinessProbe: { tcpSocket: { port: 8080 } }, startupProbe: { tcpSocket: { port: 8080 } } });
    expect(containerProbeStatus(probed, {})).toEqual({ started: false, ready: false });
    const ok = { result: 'success' as const, successes: 1, failures: 0 };
    expect(containerProbeStatus(probed, { startup: ok })).toEqual({ started: true, ready: false });
    expect(containerProbeStatus(probed, { startup: ok, readiness: ok })).toEqual({ started: true, ready: true });
  });
});

describe('probeTarget', () => {
  it('resolves a named httpGet port, defaults host to the pod IP and path to /', () => {
    expect(probeTarget({ httpGet: { port: 'http', httpHeaders: [{ name: 'X-A', value: 'b' }] } }, c(), '10.0.0.5')).toEqual({
      type: 'http', scheme: 'HTTP', host: '10.0.0.5', port: 8080, path: '/', headers: [['X-A', 'b']],
    });
    expect(probeTarget({ httpGet: { port: 443, scheme: 'HTTPS', path: 'healthz', host: '10.1.1.1' } }, c(), '10.0.0.5')).toMatchObject({ scheme: 'HTTPS', host: '10.1.1.1', port: 443, path: '/healthz' });
  });
  it('resolves tcpSocket and exec handlers', () => {
    expect(probeTarget({ tcpSocket: { port: '8080' } }, c(), '10.0.0.5')).toEqual({ type: 'tcp', host: '10.0.0.5', port: 8080 });
    expect(probeTarget({ exec: { command: ['cat', '/tmp/ok'] } }, c(), '10.0.0.5')).toEqual({ type: 'exec', command: ['cat', '/tmp/ok'] });
  });
  it('resolves grpc handlers against the pod IP, with the default service ""', () => {
    expect(probeTarget({ grpc: { port: 9000 } }, c(), '10.0.0.5')).toEqual({ type: 'grpc', host: '10.0.0.5', port: 9000, service: '' });
    expect(probeTarget({ grpc: { port: 9000, service: 'liveness' } }, c(), '10.0.0.5')).toEqual({ type: 'grpc', host: '10.0.0.5', port: 9000, service: 'liveness' });
  });
  it('names an unknown port, an empty command and a bad grpc port as unsupported', () => {
    expect(probeTarget({ tcpSocket: { port: 'metrics' } }, c(), 'x')).toEqual({ type: 'unsupported', message: 'port "metrics" is not a port of container "app"' });
    expect(probeTarget({ exec: {} }, c(), 'x').type).toBe('unsupported');
    expect(probeTarget({ grpc: { port: 0 } }, c(), 'x').type).toBe('unsupported');
  });
  it('counts 2xx and 3xx as HTTP success', () => {
    expect([199, 200, 302, 399, 400, 500].map(httpStatusOk)).toEqual([false, true, true, true, false, false]);
  });
});
