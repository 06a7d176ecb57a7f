import { jest } from '@jest/globals';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerRecord } from './pod-plan.js';
import { Prober, type ProbeChecks } from './prober.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
let now = T0;

function setup(results: Record<string, boolean[]>) {
  const calls: string[] = [];
  const next = (key: string) => { calls.push(key); const list = results[key] ?? []; return list.length > 1 ? list.shift()! : list[0] ?? true; };
  const checks: ProbeChecks = {
    exec: async (_id, cmd) => ({ ok: next(cmd[0]!), message: '' }),
    http: async t => ({ ok: next(`http:${t.port}`), message: '' }),
    tcp: async t => ({ ok: next(`tcp:${t.port}`), message: '' }),
    grpc: async t => ({ ok: next(`grpc:${t.port}:${t.service}`), message: '' }),
  };
  const changes: string[] = [];
  const kills: string[] = [];
  const prober = new Prober({ checks, now: () => now, onChange: uid => changes.push(uid), onKill: (_uid, id, kind) => kills.push(`${id} ${kind}`) });
  return { prober, calls, changes, kills };
}

const rec: ContainerRecord = { id: 'c-0', podUID: 'u', name: 'app', attempt: 0, init: false, image: 'i', state: 'running', startedAt: new Date(T0).toISOString() };

async function advance(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    now += 100;
    await jest.advanceTimersByTimeAsync(100);
  }
}

beforeEach(() => { jest.useFakeTimers({ now: T0 }); now = T0; });
afterEach(() => jest.useRealTimers());

describe('Prober', () => {
  it('runs the startup probe alone until it succeeds, then liveness and readiness on their periods', async () => {
    const { prober, calls } = setup({ started: [false, false, true], alive: [true], ready: [true] });
    const pod: Pod = { metadata: { uid: 'u' }, spec: { containers: [{ name: 'app', startupProbe: { exec: { command: ['started'] }, periodSeconds: 1 }, livenessProbe: { exec: { command: ['alive'] }, periodSeconds: 2 }, readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 1 } }] } };
    prober.sync(pod, [rec], '10.0.0.5', 'ns1');
    expect(prober.statuses('u').get('c-0')).toEqual({ started: false, ready: false });
    await advance(1500);
    // Liveness and readiness ticked at 0 and 1 s too, but were held back.
    expect(calls).toEqual(['started', 'started']);
    await advance(3000);
    expect(calls.filter(c => c === 'started')).toHaveLength(3);
    expect(calls).toContain('alive');
    expect(prober.statuses('u').get('c-0')).toEqual({ started: true, ready: true });
    prober.stop();
  });

  it('asks for a kill after failureThreshold liveness failures, then holds the container\'s probes', async () => {
    const { prober, calls, kills } = setup({ 'tcp:8080': [true, false, false, false] });
    const pod: Pod = { metadata: { uid: 'u' }, spec: { containers: [{ name: 'app', livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 3, initialDelaySeconds: 1 } }] } };
    prober.sync(pod, [rec], '10.0.0.5', 'ns1');
    await advance(900);
    expect(calls).toEqual([]); // initialDelaySeconds
    await advance(4500);
    expect(kills).toEqual(['c-0 liveness']);
    expect(calls).toHaveLength(4);
    await advance(3000);
    expect(calls).toHaveLength(4);
    prober.stop();
  });

  it('stops probing containers that are no longer running and starts fresh for a new attempt', async () => {
    const { prober, changes } = setup({ 'http:80': [true] });
    const pod: Pod = { metadata: { uid: 'u' }, spec: { containers: [{ name: 'app', readinessProbe: { httpGet: { port: 80 }, periodSeconds: 1 } }] } };
    prober.sync(pod, [rec], '10.0.0.5', 'ns1');
    await advance(200);
    expect(prober.statuses('u').get('c-0')?.ready).toBe(true);
    expect(changes).toEqual(['u']);
    prober.sync(pod, [{ ...rec, state: 'exited' }, { ...rec, id: 'c-1', attempt: 1 }], '10.0.0.5', 'ns1');
    expect([...prober.statuses('u').keys()]).toEqual(['c-1']);
    expect(prober.statuses('u').get('c-1')?.ready).toBe(false);
    prober.forget('u');
    expect(prober.statuses('u').size).toBe(0);
  });
});
