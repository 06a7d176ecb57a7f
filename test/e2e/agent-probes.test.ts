// Probes, lifecycle hooks and the pod resolver, end to end on a real containerd: liveness
// failures restart containers (restartCount grows), readiness drives `ready` and the Ready
// condition both ways, a startup probe holds back liveness and kills a container that never
// starts, preStop runs before SIGTERM, postStart after the start, and /etc/resolv.conf follows
// dnsPolicy with the agent's --cluster-dns/--cluster-domain/--resolv-conf.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { PodStatus } from 'kubernetes-types/core/v1.js';
import { eventually, TestServer } from './harness.js';
import { podHelpers, startGrpcHealthServer, startNodeWithAgent, stopNodeWithAgent, type TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let agent: TestAgent;
const scratch = mkdtempSync(join(tmpdir(), 'k8ts-probes-'));
const nodeResolv = join(scratch, 'node-resolv.conf');
writeFileSync(nodeResolv, 'nameserver 192.0.2.53\nsearch node.example\noptions timeout:2\n');

const { getPod, createPod, waitStatus } = podHelpers(server, () => agent.nodeName);

const sh = (script: string) => ({ image: testImageName, command: ['sh', '-c', script] });
const cond = (s: PodStatus, type: string) => s.conditions?.find(c => c.type === type)?.status;

beforeAll(async () => {
  agent = await startNodeWithAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s',
    '--cluster-dns', '10.43.0.10', '--cluster-domain', 'cluster.local', '--resolv-conf', nodeResolv]);
}, 120_000);
afterAll(async () => {
  await stopNodeWithAgent(server, agent);
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('probes', () => {
  it('a failing httpGet liveness probe restarts the container and counts the restart', async () => {
    await createPod('live-http', {
      containers: [{
        name: 'web', ...sh('mkdir -p /w && echo ok > /w/healthz && httpd -p 8080 -h /w && sleep 2 && rm /w/healthz && sleep 3600'),
        ports: [{ name: 'http', containerPort: 8080 }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 2 },
      }],
    });
    const p = await waitStatus('live-http', s => (s.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000);
    const cs = p.status!.containerStatuses![0]!;
    // sh as PID 1 ignores SIGTERM: the kill comes after the grace period, as SIGKILL.
    expect(cs.lastState?.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    expect(p.status!.phase).toBe('Running');
    expect(agent.logs).toMatch(/Container web failed liveness probe, will be restarted/);
  });

  it('an exec readiness probe drives ready and the Ready conditions both ways, without restarts', async () => {
    await createPod('ready-exec', {
      containers: [{
        name: 'app', ...sh('sleep 2; touch /tmp/ready; sleep 4; rm /tmp/ready; sleep 3600'),
        readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
      }],
    });
    const early = await waitStatus('ready-exec', s => s.phase === 'Running');
    expect(early.status!.containerStatuses![0]!.ready).toBe(false);
    expect(cond(early.status!, 'Ready')).toBe('False');
    const ready = await waitStatus('ready-exec', s => s.containerStatuses?.[0]?.ready === true);
    expect(cond(ready.status!, 'Ready')).toBe('True');
    expect(cond(ready.status!, 'ContainersReady')).toBe('True');
    const unready = await waitStatus('ready-exec', s => s.containerStatuses?.[0]?.ready === false && cond(s, 'Ready') === 'False');
    expect(unready.status!.conditions!.find(c => c.type === 'Ready')!.reason).toBe('ContainersNotReady');
    expect(unready.status!.containerStatuses![0]!.restartCount).toBe(0);
  });

  it('a tcpSocket startup probe holds back liveness until the port opens, then marks the container started', async () => {
    await createPod('startup-tcp', {
      containers: [{
        name: 'slow', ...sh('sleep 4; httpd -p 9000 -h /; sleep 3600'),
        // Without the startup gate this liveness probe would kill the container within 2 s.
        livenessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1, failureThreshold: 1 },
        startupProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1, failureThreshold: 15 },
      }],
    });
    const early = await waitStatus('startup-tcp', s => s.phase === 'Running');
    expect(early.status!.containerStatuses![0]!.started).toBe(false);
    const started = await waitStatus('startup-tcp', s => s.containerStatuses?.[0]?.started === true && s.containerStatuses[0].ready === true);
    expect(started.status!.containerStatuses![0]!.restartCount).toBe(0);
    await new Promise(r => setTimeout(r, 2500));
    expect((await getPod('startup-tcp'))!.status!.containerStatuses![0]!.restartCount).toBe(0);
  });

  it('grpc probes speak grpc.health.v1 to a real health server in the pod: readiness follows its status, liveness restarts', async () => {
    const created = await createPod('grpc', {
      containers: [{
        name: 'app', ...sh('sleep 3600'),
        readinessProbe: { grpc: { port: 9555 }, periodSeconds: 1 },
        livenessProbe: { grpc: { port: 9555, service: 'live' }, initialDelaySeconds: 4, periodSeconds: 1, failureThreshold: 2 },
      }],
    });
    // The health server runs in the test process, listening inside the pod's network namespace.
    const netns = `${agent.netnsPrefix}${created.metadata!.uid!}`;
    await eventually('the pod network namespace', async () => (existsSync(`/run/netns/${netns}`) ? true : undefined));
    const statuses = new Map([['', 2], ['live', 1]]);
    const health = await startGrpcHealthServer(netns, 9555, statuses);
    try {
      const running = await waitStatus('grpc', s => s.phase === 'Running');
      expect(running.status!.containerStatuses![0]!.ready).toBe(false);
      statuses.set('', 1);
      const ready = await waitStatus('grpc', s => s.containerStatuses?.[0]?.ready === true && cond(s, 'Ready') === 'True');
      expect(ready.status!.containerStatuses![0]!.restartCount).toBe(0);
      statuses.set('', 2);
      await waitStatus('grpc', s => s.containerStatuses?.[0]?.ready === false && cond(s, 'Ready') === 'False');
      statuses.set('live', 2);
      const restarted = await waitStatus('grpc', s => (s.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000);
      expect(restarted.status!.containerStatuses![0]!.lastState?.terminated).toBeDefined();
      expect(agent.logs).toMatch(/Container app failed liveness probe, will be restarted/);
      expect(agent.logs).toMatch(/service unhealthy \(responded with \\?"NOT_SERVING\\?"\)/);
    } finally {
      await new Promise(r => health.close(r));
    }
  });

  it('a startup probe that never succeeds kills the container; restartPolicy Never leaves the pod Failed', async () => {
    await createPod('startup-never', {
      restartPolicy: 'Never',
      containers: [{ name: 'stuck', ...sh('sleep 3600'), startupProbe: { tcpSocket: { port: 9001 }, periodSeconds: 1, failureThreshold: 2 } }],
    });
    const p = await waitStatus('startup-never', s => s.phase === 'Failed', 60_000);
    const t = p.status!.containerStatuses![0]!.state!.terminated!;
    expect(t.exitCode).toBeGreaterThan(128);
    expect(p.status!.containerStatuses![0]!.restartCount).toBe(0);
  });
});

describe('lifecycle hooks', () => {
  it('runs postStart after the start, and preStop (exec and httpGet) before SIGTERM on deletion', async () => {
    const shared = join(scratch, 'hooks');
    await createPod('hooks', {
      terminationGracePeriodSeconds: 10,
      containers: [
        {
          name: 'main', ...sh('trap "echo TERM >> /shared/log; exit 0" TERM; while true; do sleep 0.2; done'),
          volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
          lifecycle: {
            postStart: { exec: { command: ['sh', '-c', 'echo poststart >> /shared/log'] } },
            preStop: { exec: { command: ['sh', '-c', 'sleep 1; echo prestop >> /shared/log'] } },
          },
        },
        {
          name: 'listener', ...sh(`trap "exit 0" TERM; printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n' | nc -l -p 8081 > /shared/request; while true; do sleep 0.2; done`),
          volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
          lifecycle: { preStop: { httpGet: { path: '/shutdown', port: 8081 } } },
        },
      ],
      volumes: [{ name: 'shared', hostPath: { path: shared, type: 'DirectoryOrCreate' } }],
    });
    await waitStatus('hooks', s => s.phase === 'Running' && (s.containerStatuses ?? []).every(c => c.ready));
    await eventually('postStart to have run', async () => (existsSync(join(shared, 'log')) && readFileSync(join(shared, 'log'), 'utf8').includes('poststart') ? true : undefined));
    const t0 = Date.now();
    await server.request('DELETE', '/api/v1/namespaces/default/pods/hooks');
    await eventually('pod hooks to be gone', async () => ((await getPod('hooks')) ? undefined : true), 60_000);
    // The whole deletion took the preStop's second, not the 10 s grace period: TERM ended it.
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(readFileSync(join(shared, 'log'), 'utf8')).toBe('poststart\nprestop\nTERM\n');
    expect(readFileSync(join(shared, 'request'), 'utf8')).toMatch(/^GET \/shutdown HTTP\/1\.1\r\n/);
  });
});

describe('the pod resolver', () => {
  async function resolvOf(name: string, spec: Record<string, unknown>): Promise<string> {
    const pod = await createPod(name, { restartPolicy: 'Never', containers: [{ name: 'c', ...sh('cat /etc/resolv.conf') }], ...spec });
    await waitStatus(name, s => s.phase === 'Succeeded');
    return agent.containerLog('default', name, pod.metadata!.uid!, 'c');
  }

  it('ClusterFirst: the cluster DNS, the namespace search path before the node\'s, ndots:5', async () => {
    expect(await resolvOf('dns-cluster', {})).toBe(
      'search default.svc.cluster.local svc.cluster.local cluster.local node.example\nnameserver 10.43.0.10\noptions ndots:5\n');
  });

  it('Default: the node resolver; None: exactly dnsConfig; dnsConfig merges into ClusterFirst', async () => {
    expect(await resolvOf('dns-default', { dnsPolicy: 'Default' })).toBe('search node.example\nnameserver 192.0.2.53\noptions timeout:2\n');
    expect(await resolvOf('dns-none', { dnsPolicy: 'None', dnsConfig: { nameservers: ['198.51.100.1'], searches: ['only.example'], options: [{ name: 'ndots', value: '2' }] } }))
      .toBe('search only.example\nnameserver 198.51.100.1\noptions ndots:2\n');
    expect(await resolvOf('dns-merged', { dnsConfig: { nameservers: ['198.51.100.1'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } }))
      .toBe('search default.svc.cluster.local svc.cluster.local cluster.local node.example\nnameserver 10.43.0.10\nnameserver 198.51.100.1\noptions ndots:1 edns0\n');
  });
});
