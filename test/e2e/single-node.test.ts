// The whole single-node cluster the README's one command starts — apiserver, controllers,
// scheduler, the node's agent on containerd and its proxy — with the node's network in a
// namespace of its own: kubectl creates a Deployment and exposes it, and real HTTP to the
// ClusterIP reaches every replica through the nftables rules the proxy programmed.
//
// Isolation: the server runs in a private mount namespace (tmpfs over the CNI config and pod log
// folders) and the test's network namespace, so nothing on the host changes; everything it made
// is removed afterwards, also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { ensureBusyboxImage, testImageName } from '../images/build-busybox-image.js';
import { eventually, freePort, k8tsBin, kubectlPath } from './harness.js';
import { defaultRunDir } from '../../agent/cli.js';

jest.setTimeout(240_000);

const netns = `k8ts-e2e-node-${process.pid}`;
const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-node-'));
const cacheDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-node-kubectl-'));
const script = join(dataDir, 'run-server.sh');
const createdDirs: string[] = [];
let server: ChildProcess | undefined;
// The agent keeps containerd's state in /run/k8ts-<hash of its data dir>: what appears is ours.
let output = '';
/** Polling as the server's own checks do, with its log's tail on a timeout. */
const serverLog = { stepMs: 300, detail: () => output.slice(-3000) };

// Scrape and autoscale every 2 s (upstream: 15 s) and stabilise downscales over 10 s (5 min), so
// the autoscaling case runs in under a minute.
const fastAutoscaling = '--metric-resolution 2s --horizontal-pod-autoscaler-sync-period 2s --horizontal-pod-autoscaler-downscale-stabilization 10s';

const inNode = (cmd: string, args: string[], opts: { input?: string; timeout?: number } = {}) =>
  execa('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], { reject: false, timeout: opts.timeout ?? 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
const kubectl = (args: string[]) => inNode(kubectlPath(32), ['--kubeconfig', join(dataDir, 'kubeconfig.yaml'), '--cache-dir', cacheDir, ...args]);

beforeAll(async () => {
  await execa('ip', ['netns', 'add', netns]);
  await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await execa('ip', ['-n', netns, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'uplink-peer']);
  await execa('ip', ['-n', netns, 'addr', 'add', '192.0.2.10/24', 'dev', 'uplink']);
  await execa('ip', ['-n', netns, 'link', 'set', 'uplink', 'up']);
  await execa('ip', ['-n', netns, 'link', 'set', 'uplink-peer', 'up']);
  await execa('ip', ['-n', netns, 'route', 'add', 'default', 'dev', 'uplink']);
  for (const dir of ['/etc/cni/net.d', '/var/log/pods']) {
    if (!existsSync(dir)) { mkdirSync(dir, { recursive: true }); createdDirs.push(dir); }
  }
  const port = await freePort();
  writeFileSync(script, [
    '#!/bin/sh',
    'mount -t tmpfs none /etc/cni/net.d && mount -t tmpfs none /var/log/pods || exit 1',
    `exec nsenter --net=/run/netns/${netns} ${k8tsBin} server --data-dir ${dataDir} --https-port ${port} --log-format json ${fastAutoscaling}`,
  ].join('\n'), { mode: 0o755 });
  server = spawn('unshare', ['-m', '--propagation', 'private', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (c: Buffer) => { output += c.toString(); });
  server.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
  await eventually('the server and its agent', async () => (output.includes('"msg":"k8ts agent is ready"') ? true : undefined), 60_000, serverLog);
  const archive = join(tmpdir(), 'k8ts-busybox-test-image.tar');
  await ensureBusyboxImage(archive);
  const imported = await inNode(k8tsBin, ['images', 'import', archive, '--data-dir', join(dataDir, 'agent')]);
  expect(imported.exitCode).toBe(0);
});

afterAll(async () => {
  try {
    // Pods first, so the agent removes containers, network namespaces and IPs itself.
    await kubectl(['delete', 'deployments', '--all', '--wait=true']);
    await kubectl(['wait', '--for=delete', 'pods', '--all', '--timeout=60s']);
  } finally {
    if (server && server.exitCode === null) {
      await new Promise<void>(resolve => {
        const hard = setTimeout(() => server!.kill('SIGKILL'), 20_000);
        server!.once('exit', () => { clearTimeout(hard); resolve(); });
        server!.kill('SIGTERM');
      });
    }
    await execa('ip', ['netns', 'del', netns], { reject: false });
    // Only this server's own run folder: other clusters (a lab, another test) may be running.
    rmSync(defaultRunDir(join(dataDir, 'agent')), { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
    for (const dir of createdDirs.reverse()) { try { rmdirSync(dir); } catch { /* not empty: leave it */ } }
  }
});

describe('a single-node k8ts cluster', () => {
  it('registers its node Ready with a podCIDR', async () => {
    const node = await eventually('a Ready node with a podCIDR', async () => {
      const r = await kubectl(['get', 'nodes', '-o', 'json']);
      const items = (JSON.parse(r.stdout || '{"items":[]}') as { items: { spec: { podCIDR?: string }; status: { conditions: { type: string; status: string }[] } }[] }).items;
      const n = items[0];
      return n && n.spec.podCIDR && n.status.conditions.some(c => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    }, 60_000, serverLog);
    expect(node.spec.podCIDR).toMatch(/^10\.42\.\d+\.0\/24$/);
  });

  it('serves a Deployment through its ClusterIP, balanced over every replica', async () => {
    const create = await kubectl(['create', 'deployment', 'echo', `--image=${testImageName}`, '--replicas=3', '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']);
    expect(create.exitCode).toBe(0);
    expect((await kubectl(['expose', 'deployment', 'echo', '--port', '80', '--target-port', '8080'])).exitCode).toBe(0);
    const ready = await eventually('three ready endpoints', async () => {
      const r = await kubectl(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo', '-o', 'json']);
      const eps = (JSON.parse(r.stdout || '{"items":[]}') as { items: { endpoints?: { conditions: { ready?: boolean } }[] }[] }).items.flatMap(s => s.endpoints ?? []);
      return eps.filter(e => e.conditions.ready).length === 3 ? eps : undefined;
    }, 60_000, serverLog);
    expect(ready).toHaveLength(3);
    const ip = (await kubectl(['get', 'service', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    const pods = (await kubectl(['get', 'pods', '-l', 'app=echo', '-o', 'jsonpath={.items[*].metadata.name}'])).stdout.split(' ').sort();
    const answers = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      // (busybox 1.35's wget crashes with -T; the command's own timeout bounds it instead)
      const r = await inNode('busybox', ['wget', '-qO-', `http://${ip}/`], { timeout: 10_000 });
      const who = r.stdout.trim() || `error (${ip}, exit ${r.exitCode}): ${r.stderr.trim()} ${String(r.message ?? "")}`.slice(0, 300);
      answers.set(who, (answers.get(who) ?? 0) + 1);
    }
    expect([...answers.keys()].sort()).toEqual(pods);
  });

  it('answers the Service name from the cluster DNS at its Service IP', async () => {
    const ip = (await kubectl(['get', 'service', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    const dnsIP = (await kubectl(['-n', 'kube-system', 'get', 'service', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    expect(dnsIP).toBe('10.43.0.10');
    const answer = await eventually('a DNS answer through the kube-dns Service', async () => {
      const r = await inNode('dig', ['+short', '+time=2', '+tries=1', `@${dnsIP}`, 'echo.default.svc.cluster.local']);
      return r.stdout.trim() === ip ? r.stdout.trim() : undefined;
    }, 30_000, serverLog);
    expect(answer).toBe(ip);
  });

  it('autoscales a CPU-burning Deployment up and back down from kubelet metrics, and kubectl top shows them', async () => {
    const manifest = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'burn' },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'burn' } },
        template: {
          metadata: { labels: { app: 'burn' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            // A busy loop capped at 200m by its CPU limit: 200 % of its 100m request.
            containers: [{ name: 'burn', image: testImageName, command: ['sh', '-c', 'while :; do :; done'], resources: { requests: { cpu: '100m' }, limits: { cpu: '200m' } } }],
          },
        },
      },
    };
    expect((await inNode(kubectlPath(32), ['--kubeconfig', join(dataDir, 'kubeconfig.yaml'), '--cache-dir', cacheDir, 'apply', '-f', '-'], { input: JSON.stringify(manifest) })).exitCode).toBe(0);
    expect((await kubectl(['autoscale', 'deployment', 'burn', '--cpu-percent=50', '--min=1', '--max=3'])).exitCode).toBe(0);
    const replicas = async () => Number((await kubectl(['get', 'deployment', 'burn', '-o', 'jsonpath={.spec.replicas}'])).stdout);
    await eventually('the HPA to scale burn to its maximum of 3', async () => ((await replicas()) === 3 ? true : undefined), 120_000, serverLog);
    const hpa = JSON.parse((await kubectl(['get', 'hpa', 'burn', '-o', 'json'])).stdout) as { status: { currentMetrics?: { resource?: { current?: { averageUtilization?: number } } }[]; conditions: { type: string; status: string; reason: string }[] } };
    expect(hpa.status.currentMetrics?.[0]?.resource?.current?.averageUtilization).toBeGreaterThan(100);
    expect(hpa.status.conditions.find(c => c.type === 'ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
    const top = await eventually('kubectl top pods to list the three replicas', async () => {
      const r = await kubectl(['top', 'pods', '-l', 'app=burn', '--no-headers']);
      return r.exitCode === 0 && r.stdout.trim().split('\n').length === 3 ? r.stdout : undefined;
    }, 60_000, serverLog);
    for (const line of top.trim().split('\n')) {
      const milli = Number(/\s(\d+)m\s/.exec(line)?.[1] ?? '0');
      // Each burns up to its 200m limit (less when the machine is busy), never past it.
      expect(milli).toBeGreaterThan(20);
      expect(milli).toBeLessThan(300);
    }
    const nodes = await kubectl(['top', 'nodes', '--no-headers']);
    expect(nodes.exitCode).toBe(0);
    expect(nodes.stdout).toMatch(/\d+m\s+\d+%\s+\d+Mi\s+\d+%/);
    // The load goes away: a rollout replaces the busy loop with a sleep.
    const idle = [{ op: 'replace', path: '/spec/template/spec/containers/0/command', value: ['sleep', '100000'] }];
    expect((await kubectl(['patch', 'deployment', 'burn', '--type=json', '-p', JSON.stringify(idle)])).exitCode).toBe(0);
    await eventually('the HPA to scale burn back down to 1', async () => ((await replicas()) === 1 ? true : undefined), 150_000, serverLog);
    await kubectl(['delete', 'hpa', 'burn']);
  });
});
