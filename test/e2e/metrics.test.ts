// /metrics on every component, scraped as Prometheus would: a real server (controllers and
// scheduler on) and a real agent whose kube-proxy programs its node's namespace. The apiserver's
// /metrics carries request latency, stored objects, workqueues and scheduling attempts; the
// kubelet's (10250, client certificates only, and through `kubectl get --raw
// /api/v1/nodes/N/proxy/metrics`) counts the pods it runs; the node network's (kube-proxy's plain
// HTTP address) times the proxy's syncs and the network programming latency of an annotated
// EndpointSlice. `k8ts status` reads the last syncs and heartbeats from the same places.
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { createNetns, deleteNetns } from '../../kernel/netns.js';
import { eventually, freePort, repoRoot, TestServer } from './harness.js';
import { podHelpers, startNodeWithAgent, stopNodeWithAgent, testImageName, type TestAgent } from './agent-harness.js';

jest.setTimeout(180_000);

const server = new TestServer([], undefined, { controlPlane: true, logLevel: 'info' });
let agent: TestAgent | undefined;
let proxyMetricsPort = 0;
const { createPod, waitStatus } = podHelpers(server, () => agent!.nodeName);

beforeAll(async () => {
  proxyMetricsPort = await freePort();
  agent = await startNodeWithAgent(server, ['--proxy-mode', 'nftables', '--proxy-metrics-bind-address', `127.0.0.1:${proxyMetricsPort}`]);
}, 150_000);
afterAll(async () => { await stopNodeWithAgent(server, agent); });

/** Samples by `name{labels}` as the exposition writes them. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const get = (m: Map<string, number>, k: string): number => {
  const v = m.get(k);
  if (v === undefined) throw new Error(`no sample ${k} in the scrape`);
  return v;
};

/** HTTPS GET with a client identity (or none), accepting the kubelet's self-signed serving certificate. */
function httpsGet(port: number, path: string, identity?: { cert: Buffer; key: Buffer }): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: new Agent({ rejectUnauthorized: false, ...(identity ?? {}) }) }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function adminIdentity(): { cert: Buffer; key: Buffer } {
  const kc = YAML.parse(readFileSync(server.kubeconfig, 'utf8')) as { users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[] };
  const u = kc.users[0]!.user;
  return { cert: Buffer.from(u['client-certificate-data'], 'base64'), key: Buffer.from(u['client-key-data'], 'base64') };
}

test('every component serves /metrics: pods, proxy syncs, network programming, requests, storage, workqueues, scheduling', async () => {
  // Two pods: one bound by hand, one left to the scheduler.
  await createPod('m-bound', { containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] });
  const scheduled = await server.request('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'm-scheduled' },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] },
  });
  expect(scheduled.status).toBe(201);
  await waitStatus('m-bound', s => s.phase === 'Running', 60_000);
  await waitStatus('m-scheduled', s => s.phase === 'Running', 60_000);

  // A Service without selector and its EndpointSlice, stamped as the EndpointSlice controller does.
  const svc = await server.request('POST', '/api/v1/namespaces/default/services', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'm-web' }, spec: { ports: [{ port: 8080, targetPort: 80 }] },
  });
  expect(svc.status).toBe(201);
  const slice = await server.request('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'm-web-1', labels: { 'kubernetes.io/service-name': 'm-web', 'endpointslice.kubernetes.io/managed-by': 'test' }, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.200.7'], conditions: { ready: true } }], ports: [{ name: '', port: 80, protocol: 'TCP' }],
  });
  expect(slice.status).toBe(201);

  // The node network's metrics, over plain HTTP on the loopback, as Prometheus scrapes kube-proxy.
  const proxyUrl = `http://127.0.0.1:${proxyMetricsPort}/metrics`;
  const proxy = await eventually('a programming latency sample from the annotated slice', async () => {
    const m = parse(await (await fetch(proxyUrl)).text());
    return (m.get('kubeproxy_network_programming_duration_seconds_count') ?? 0) >= 1 ? m : undefined;
  });
  expect(get(proxy, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBeGreaterThan(0);
  expect(get(proxy, 'kubeproxy_sync_proxy_rules_duration_seconds_sum')).toBeLessThan(get(proxy, 'kubeproxy_sync_proxy_rules_duration_seconds_count') * 5);
  expect(Math.abs(get(proxy, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds') - Date.now() / 1000)).toBeLessThan(60);
  // From the annotation to the rules in the kernel: positive, and well under the test's own span.
  const programming = get(proxy, 'kubeproxy_network_programming_duration_seconds_sum') / get(proxy, 'kubeproxy_network_programming_duration_seconds_count');
  expect(programming).toBeGreaterThan(0);
  expect(programming).toBeLessThan(30);
  expect(get(proxy, 'kubeproxy_sync_proxy_rules_nftables_objects{type="rule"}')).toBeGreaterThan(0);
  // The rule count is the kernel's: as many rules as `nft` lists in the node's table.
  const listed = await execa('ip', ['netns', 'exec', agent!.nodeNetns, 'nft', '-a', 'list', 'table', 'ip', 'k8ts-proxy']);
  const kernelRules = listed.stdout.split('\n').filter(l => /# handle \d+$/.test(l) && !/^\s*(table|chain|set|map) /.test(l)).length;
  expect(get(proxy, 'kubeproxy_sync_proxy_rules_nftables_objects{type="rule"}')).toBe(kernelRules);
  expect(get(proxy, 'k8ts_netplugin_sync_last_timestamp_seconds{plugin="netpol"}')).toBeGreaterThan(0);

  // The kubelet's, on its API port: the apiserver's kind of client only.
  const node = (await server.request('GET', `/api/v1/nodes/${agent!.nodeName}`)).body as Node;
  const kubeletPort = node.status!.daemonEndpoints!.kubeletEndpoint!.Port;
  expect((await httpsGet(kubeletPort, '/metrics')).status).toBe(401);
  const direct = await httpsGet(kubeletPort, '/metrics', adminIdentity());
  expect(direct.status).toBe(200);
  expect(direct.type).toContain('text/plain');
  const kubelet = parse(direct.body);
  const pods = ((await server.request('GET', '/api/v1/namespaces/default/pods')).body as { items: Pod[] }).items;
  expect(pods.filter(p => p.status?.phase === 'Running')).toHaveLength(2);
  expect(get(kubelet, 'kubelet_running_pods')).toBe(2);
  expect(get(kubelet, 'kubelet_running_containers{container_state="running"}')).toBe(2);
  expect(get(kubelet, 'kubelet_pod_start_duration_seconds_count')).toBe(2);
  expect(get(kubelet, 'kubelet_pleg_relist_duration_seconds_count')).toBeGreaterThan(0);

  // The same through the apiserver's node proxy, with the real kubectl.
  const raw = await server.kubectl(['get', '--raw', `/api/v1/nodes/${agent!.nodeName}/proxy/metrics`]);
  expect(raw.exitCode).toBe(0);
  expect(get(parse(raw.stdout), 'kubelet_running_pods')).toBe(2);
  expect(raw.stdout).toContain(`kubelet_node_name{node="${agent!.nodeName}"} 1`);

  // The apiserver's, with the controllers' and the scheduler's.
  const apiRaw = await server.kubectl(['get', '--raw', '/metrics']);
  expect(apiRaw.exitCode).toBe(0);
  const api = parse(apiRaw.stdout);
  expect(get(api, 'apiserver_storage_objects{resource="pods"}')).toBe(2);
  expect(get(api, 'apiserver_storage_objects{resource="endpointslices.discovery.k8s.io"}')).toBeGreaterThanOrEqual(2); // kubernetes' and ours
  expect(get(api, 'apiserver_storage_size_bytes')).toBeGreaterThan(0);
  expect(get(api, 'apiserver_request_duration_seconds_count{verb="create",resource="pods"}')).toBeGreaterThanOrEqual(2);
  expect(get(api, 'workqueue_adds_total{name="EndpointSlice"}')).toBeGreaterThan(0);
  expect(api.has('workqueue_depth{name="Deployment"}')).toBe(true);
  expect(get(api, 'scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"}')).toBeGreaterThanOrEqual(1);
  expect(get(api, 'scheduler_e2e_scheduling_duration_seconds_count{result="scheduled",profile="default-scheduler"}')).toBeGreaterThanOrEqual(1);
});

test('k8ts status shows when the proxy and the netplugins last synced and when the node last reported', async () => {
  const config = join(agent!.dataDir, 'status-config.yaml');
  writeFileSync(config, `proxy-metrics-bind-address: 127.0.0.1:${proxyMetricsPort}\n`);
  try {
    const r = await execa(process.execPath, [join(repoRoot, 'dist/cli/main.js'), 'status', '--config', config, '--kubeconfig', server.kubeconfig, '--node-name', agent!.nodeName, '--netns', agent!.nodeNetns], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^heartbeat lease renewed \d+s ago, status posted \d+s ago$/m);
    expect(r.stdout).toMatch(new RegExp(`^synced {4}proxy \\d+s ago, netpol \\d+s ago \\(127\\.0\\.0\\.1:${proxyMetricsPort}\\)$`, 'm'));
    expect(r.stdout).toMatch(/^nftables {2}table ip k8ts-proxy: \d+ chains, \d+ rules/m);
  } finally {
    rmSync(config, { force: true });
  }
});

test('`k8ts proxy` on its own serves its metrics on --metrics-bind-address, over plain HTTP', async () => {
  const ns = `k8ts-t-mp${Math.random().toString(16).slice(2, 8)}`;
  const port = await freePort();
  await createNetns(ns);
  const proc = spawn(process.execPath, [join(repoRoot, 'dist/cli/main.js'), 'proxy', '--kubeconfig', server.kubeconfig, '--node-name', 'm-proxy-only', '--netns', ns, '--metrics-bind-address', `127.0.0.1:${port}`, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  try {
    const m = await eventually(`a first sync in the proxy's metrics (output: ${out.slice(-500)})`, async () => {
      const s = parse(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return (s.get('kubeproxy_sync_proxy_rules_duration_seconds_count') ?? 0) >= 1 ? s : undefined;
    });
    expect(get(m, 'kubeproxy_sync_proxy_rules_nftables_objects{type="chain"}')).toBeGreaterThan(0);
    expect(m.has('kubelet_running_pods')).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);
    expect(out).toContain(`"metrics":"127.0.0.1:${port}"`);
  } finally {
    await new Promise<void>(resolve => { if (proc.exitCode !== null) resolve(); else { proc.once('exit', () => resolve()); proc.kill('SIGTERM'); } });
    await deleteNetns(ns).catch(() => undefined);
  }
});
