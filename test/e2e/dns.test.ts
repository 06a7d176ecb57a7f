// Cluster DNS end to end: a real `k8ts server`, the DNS add-on watching it over HTTPS (as the
// server runs it), queries over loopback UDP/TCP. Measures API write → name answered, and
// API delete → NXDOMAIN, against the 1 s budget of issue 7. Outside names go to a fake upstream
// resolver on 127.0.0.2.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { resources } from '../../api/client/types.js';
import { ensureKubeDnsService, startClusterDns, type ClusterDns } from '../../addons/dns/index.js';
import { ClusterDnsDiscovery, discoverClusterDNS } from '../../agent/cluster-dns.js';
import { FakeUpstream, rcodeOf, tcpQuery, udpQuery } from '../../addons/dns/testing.js';
import { TestServer } from './harness.js';
import { within } from '../poll.js';

let server: TestServer;
let conn: ReturnType<typeof clientFromKubeconfig>;
let dns: ClusterDns;
let upstream: FakeUpstream;
const H = '127.0.0.1';

beforeAll(async () => {
  server = new TestServer([], undefined, { logLevel: 'info' });
  await server.start();
  conn = clientFromKubeconfig(server.kubeconfig, { userAgent: 'k8ts-dns-e2e' });
  upstream = new FakeUpstream('127.0.0.2', { 'example.com': [{ name: 'example.com', type: 'A', ttl: 60, class: 'IN', data: '93.184.216.34' }] });
  await upstream.start();
  const resolvConf = join(mkdtempSync(join(tmpdir(), 'k8ts-dns-')), 'resolv.conf');
  writeFileSync(resolvConf, 'search example\nnameserver 127.0.0.2\noptions ndots:1\n');
  dns = await startClusterDns({ client: conn.client, host: H, port: 0, resolvConf, upstreamPort: upstream.port });
}, 90_000);

afterAll(async () => {
  await dns?.stop();
  await upstream?.stop();
  conn?.transport.close();
  await server?.stop();
}, 60_000);

const aOf = (p: Awaited<ReturnType<typeof udpQuery>>) => (p.answers ?? []).filter(a => a.type === 'A').map(a => String((a as { data?: unknown }).data));

describe('cluster DNS against a real k8ts server', () => {
  test('a new Service answers by name within 1 s and is NXDOMAIN within 1 s of its deletion', async () => {
    const name = 'dns-e2e-web.default.svc.cluster.local';
    expect(rcodeOf(await udpQuery(H, dns.port, name))).toBe('NXDOMAIN');
    const t0 = performance.now();
    const created = await conn.client.create<Service>(resources.services, 'default', {
      metadata: { name: 'dns-e2e-web' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    const ip = created.spec?.clusterIP;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await within(1000, "the new Service's A record", async () => aOf(await udpQuery(H, dns.port, name)).includes(ip!));
    const addMs = performance.now() - t0;
    const srv = await tcpQuery(H, dns.port, `_http._tcp.${name}`, 'SRV');
    expect(srv.answers?.map(a => ((a as { data?: unknown }).data as { target: string; port: number })).map(d => `${d.port} ${d.target}`)).toEqual([`80 ${name}`]);
    const rev = ip!.split('.').reverse().join('.') + '.in-addr.arpa';
    expect((await udpQuery(H, dns.port, rev, 'PTR')).answers?.map(a => String((a as { data?: unknown }).data))).toEqual([name]);

    const t1 = performance.now();
    await conn.client.delete(resources.services, 'default', 'dns-e2e-web');
    await within(1000, 'NXDOMAIN after the deletion', async () => rcodeOf(await udpQuery(H, dns.port, name)) === 'NXDOMAIN');
    const delMs = performance.now() - t1;
    process.stdout.write(`dns e2e: API create → answered in ${addMs.toFixed(0)} ms; API delete → NXDOMAIN in ${delMs.toFixed(0)} ms\n`);
  });

  test('a headless Service with an EndpointSlice answers its ready endpoints and hostname records', async () => {
    await conn.client.create<Service>(resources.services, 'default', { metadata: { name: 'nginx' }, spec: { clusterIP: 'None', ports: [{ name: 'web', port: 80 }] } });
    await conn.client.create<EndpointSlice>(resources.endpointslices, 'default', {
      metadata: { name: 'nginx-abc', labels: { 'kubernetes.io/service-name': 'nginx' } }, addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.42.0.5'], hostname: 'web-0', conditions: { ready: true } },
        { addresses: ['10.42.0.6'], hostname: 'web-1', conditions: { ready: false } },
      ],
      ports: [{ name: 'web', port: 80, protocol: 'TCP' }],
    });
    await within(1000, "the headless Service's ready endpoint", async () => aOf(await udpQuery(H, dns.port, 'nginx.default.svc.cluster.local')).length === 1);
    expect(aOf(await udpQuery(H, dns.port, 'nginx.default.svc.cluster.local'))).toEqual(['10.42.0.5']);
    expect(aOf(await udpQuery(H, dns.port, 'web-0.nginx.default.svc.cluster.local'))).toEqual(['10.42.0.5']);
    expect(rcodeOf(await udpQuery(H, dns.port, 'web-1.nginx.default.svc.cluster.local'))).toBe('NXDOMAIN');
    // The endpoint becomes ready: its record follows within 1 s.
    const slice = await conn.client.get<EndpointSlice>(resources.endpointslices, 'default', 'nginx-abc');
    slice.endpoints[1]!.conditions = { ready: true };
    await conn.client.update(resources.endpointslices, slice);
    await within(1000, "the newly ready endpoint's hostname record", async () => aOf(await udpQuery(H, dns.port, 'web-1.nginx.default.svc.cluster.local')).includes('10.42.0.6'));
  });

  test('an ExternalName Service answers a CNAME and the target’s address from upstream', async () => {
    await conn.client.create<Service>(resources.services, 'default', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
    await within(1000, "the CNAME and the target's address", async () => (await udpQuery(H, dns.port, 'ext.default.svc.cluster.local')).answers?.length === 2);
    const r = await udpQuery(H, dns.port, 'ext.default.svc.cluster.local');
    expect(r.answers?.map(a => `${a.type} ${String((a as { data?: unknown }).data)}`)).toEqual(['CNAME example.com', 'A 93.184.216.34']);
  });

  test('a pod with an IP gets its a-b-c-d.ns.pod record', async () => {
    const p = await conn.client.create<Pod>(resources.pods, 'default', { metadata: { name: 'dns-pod' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await conn.client.update(resources.pods, { ...p, status: { phase: 'Running', podIP: '10.42.3.4', podIPs: [{ ip: '10.42.3.4' }] } }, { subresource: 'status' });
    await within(1000, "the pod's a-b-c-d record", async () => aOf(await udpQuery(H, dns.port, '10-42-3-4.default.pod.cluster.local')).includes('10.42.3.4'));
  });

  test('names outside the zone are forwarded to the resolv.conf upstream', async () => {
    expect(aOf(await udpQuery(H, dns.port, 'example.com'))).toEqual(['93.184.216.34']);
    expect(rcodeOf(await udpQuery(H, dns.port, 'nowhere.example'))).toBe('NXDOMAIN');
  });

  test('ensureKubeDnsService publishes kube-system/kube-dns at the cluster DNS IP, idempotently; agents find it there', async () => {
    // An agent without --cluster-dns reads it from this Service (agent/cluster-dns.ts), also when
    // the agent asks before the server has published it.
    expect(await discoverClusterDNS(conn.client)).toEqual([]);
    const logged: string[] = [];
    const discovery = new ClusterDnsDiscovery(conn.client, { info: (_f, m) => logged.push(m), warn: (_f, m) => logged.push(m) }, { retryMs: 100 });
    await discovery.start();
    expect(discovery.ips).toEqual([]);
    await ensureKubeDnsService(conn.client, { clusterIP: '10.43.0.10', endpointIPs: ['192.0.2.53'], port: 53 });
    await ensureKubeDnsService(conn.client, { clusterIP: '10.43.0.10', endpointIPs: ['192.0.2.54'], port: 53 });
    const slice = await conn.client.get<EndpointSlice>(resources.endpointslices, 'kube-system', 'kube-dns-k8ts');
    expect(slice.endpoints.map(e => e.addresses[0])).toEqual(['192.0.2.54']);
    expect(await discoverClusterDNS(conn.client)).toEqual(['10.43.0.10']);
    await within(2000, 'agents to discover the cluster DNS IP', async () => discovery.ips.length > 0);
    discovery.stop();
    expect(discovery.ips).toEqual(['10.43.0.10']);
    expect(logged).toEqual([expect.stringContaining('no kube-system/kube-dns Service yet'), 'cluster DNS from the kube-system/kube-dns Service']);
    await within(1000, "kube-dns's own A record", async () => aOf(await udpQuery(H, dns.port, 'kube-dns.kube-system.svc.cluster.local')).includes('10.43.0.10'));
    const srv = await udpQuery(H, dns.port, '_dns._udp.kube-dns.kube-system.svc.cluster.local', 'SRV');
    expect(srv.answers?.length).toBe(1);
  });

  test('dig (when installed) agrees', async () => {
    // Asynchronously: the DNS server runs in this process and must keep answering meanwhile.
    const run = async (file: string, args: string[]) => (await promisify(execFile)(file, args, { encoding: 'utf8' })).stdout.trim();
    const dig = await run('sh', ['-c', 'command -v dig || true']);
    if (!dig) return;
    const out = await run(dig, ['@127.0.0.1', '-p', String(dns.port), '+short', 'kubernetes.default.svc.cluster.local']);
    const k = await conn.client.get<Service>(resources.services, 'default', 'kubernetes');
    expect(out).toBe(k.spec?.clusterIP);
    const tcp = await run(dig, ['@127.0.0.1', '-p', String(dns.port), '+tcp', '+short', 'SRV', '_https._tcp.kubernetes.default.svc.cluster.local']);
    expect(tcp).toBe('0 100 443 kubernetes.default.svc.cluster.local.');
  });
});
