// The proxy end to end: a real `k8ts server`, the proxy daemon watching it through the API and
// programming a throwaway lab namespace (kernel/testlab.ts), real TCP from a client namespace
// through the ClusterIP. Also measures network-programming latency: API write → rules committed.
// Every case runs in each proxy mode (nftables, iptables), each in a lab of its own.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { resources } from '../../api/client/types.js';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { Iptables, IptablesError } from '../../kernel/iptables/restore.js';
import { execInNetns, spawnInNetns } from '../../kernel/netns.js';
import { NftError, NfTablesSocket } from '../../kernel/nftables/socket.js';
import { createLab, type Lab } from '../../kernel/testlab.js';
import { DEFAULT_MIN_SYNC_MS, dryRun, parseProxyFlags } from '../../proxy/cli.js';
import { ProxyDaemon, type ProxyMode, type SyncInfo } from '../../proxy/daemon.js';
import { eventually, TestServer } from './harness.js';

let server: TestServer;
let lab: Lab;
let daemon: ProxyDaemon | undefined;
let conn: ReturnType<typeof clientFromKubeconfig>;
const synced: ((info: SyncInfo) => void)[] = [];
const logs: string[] = [];
let refuse = 0;

beforeAll(async () => {
  server = new TestServer([], undefined, { logLevel: 'info' });
  await server.start();
  conn = clientFromKubeconfig(server.kubeconfig, { userAgent: 'k8ts-proxy-e2e' });
}, 90_000);

afterAll(async () => {
  conn?.transport.close();
  await server?.stop();
}, 60_000);

const sliceOf = (ip: string, rv?: string): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { namespace: 'default', name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' }, ...(rv ? { resourceVersion: rv } : {}) },
  addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: [{ addresses: [ip], conditions: { ready: true } }],
});

/** Whether the installed ruleset sends the service's traffic to `ip`. */
const programs = (info: SyncInfo, ip: string): boolean => info.mode === 'iptables'
  ? [...(info.ruleset.fragments.get('default/echo:http/TCP')?.chains.values() ?? [])].some((block) => `${block}\n`.includes(`--to-destination ${ip}:8080\n`))
  : info.mode === 'nftables' && info.ruleset.fragments.some((f) => f.id === 'default/echo:http/TCP' && (f.elements['eps-1'] ?? []).some((e) => Array.isArray(e.data) && e.data[0] === ip));

function waitForProgrammed(ip: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`endpoint ${ip} not programmed after ${timeoutMs} ms`)), timeoutMs);
    const fn = (info: SyncInfo): void => {
      if (!programs(info, ip)) return;
      clearTimeout(timer);
      synced.splice(synced.indexOf(fn), 1);
      resolve(performance.now());
    };
    synced.push(fn);
  });
}

// A UDP echo that answers with its namespace name, and a client that always sends from the same
// source port (as a resolver does): without conntrack cleanup, it would stay with a dead endpoint.
const UDP_SERVER = `const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send(process.argv[1],r.port,r.address));d.bind(5353)`;
const UDP_CLIENT = `const d=require('dgram').createSocket('udp4');const t=setTimeout(()=>{console.log('ERR:TIMEOUT');process.exit(0)},+process.argv[3]);
d.on('message',m=>{clearTimeout(t);console.log(String(m));process.exit(0)});d.bind(40053,()=>d.send('q',53,process.argv[1]))`;
const udpAsk = async (vip: string, timeoutMs = 500): Promise<string> =>
  (await execInNetns(lab.client, process.execPath, ['-e', UDP_CLIENT, vip, '53', String(timeoutMs)])).trim();

// The modes this kernel can run. IPVS (absent here) is exercised in the qemu VM: test/e2e/ipvs-vm.test.ts.
const hostModes: ProxyMode[] = ['nftables', 'iptables'];

describe.each(hostModes)('%s mode', (mode) => {
  beforeAll(async () => {
    logs.length = 0;
    lab = await createLab(2);
    await lab.startServers(8080);
  }, 60_000);
  afterAll(async () => {
    await daemon?.stop({ cleanup: true }).catch(() => undefined);
    daemon = undefined;
    // The next mode starts from an empty cluster.
    await conn.client.delete(resources.endpointslices, 'default', 'echo-1').catch(() => undefined);
    await conn.client.delete(resources.services, 'default', 'echo').catch(() => undefined);
    await lab?.destroy();
  }, 60_000);

  test('a Service and EndpointSlice created through the API carry TCP through the ClusterIP, and traffic follows endpoint changes', async () => {
    const { client } = conn;
    const svc = await client.create<Service>(resources.services, 'default', {
      apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'echo' },
      spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] }, // no selector: we manage its slice
    });
    const vip = svc.spec!.clusterIP!;
    let slice = await client.create<EndpointSlice>(resources.endpointslices, 'default', sliceOf(lab.backendIP(1)));

    daemon = new ProxyDaemon({
      client, mode, nodeName: 'node-1', netns: lab.node, minSyncMs: DEFAULT_MIN_SYNC_MS, maxSyncMs: 60_000, retryMs: 200,
      onSynced: (info) => { for (const fn of [...synced]) fn(info); },
      log: (level, msg) => logs.push(`${level}: ${msg}`),
      // The real socket, refusing the next `refuse` batches as the kernel would (nothing applied).
      openSocket: (ns) => {
        const real = NfTablesSocket.open(ns);
        return {
          commit: (batch) => (refuse > 0 && batch.ops.length > 0 ? (refuse--, Promise.reject(new NftError([{ errno: 22, code: 'EINVAL', message: 'injected' }]))) : real.commit(batch)),
          close: () => real.close(),
        };
      },
      openIptables: (ns) => {
        const real = new Iptables(ns ? { netns: ns } : {});
        return {
          restore: (text) => (refuse > 0 ? (refuse--, Promise.reject(new IptablesError('RestoreFailed', 'injected'))) : real.restore(text)),
          save: (tables) => real.save(tables),
        };
      },
    });
    const first = waitForProgrammed(lab.backendIP(1));
    await daemon.start();
    await first;
    expect(await lab.connectMany(vip, 80, 3)).toEqual(Array(3).fill(lab.backends[0]));

    // ~20 endpoint changes: API write → rules committed (network-programming latency), and real
    // traffic reaching the new endpoint within 1 s of the write.
    const latencies: number[] = [];
    let worstTraffic = 0;
    for (let i = 0; i < 20; i++) {
      const b = i % 2 === 0 ? 2 : 1;
      const ip = lab.backendIP(b);
      const programmed = waitForProgrammed(ip);
      const t0 = performance.now();
      slice = await client.update<EndpointSlice>(resources.endpointslices, sliceOf(ip, slice.metadata!.resourceVersion));
      latencies.push((await programmed) - t0);
      for (;;) {
        const [answer] = await lab.connectMany(vip, 80, 1, 1000);
        if (answer === lab.backends[b - 1]) break;
        expect(performance.now() - t0).toBeLessThan(1000);
      }
      worstTraffic = Math.max(worstTraffic, performance.now() - t0);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    console.log(`${mode} mode: network programming latency over ${sorted.length} EndpointSlice changes: p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; traffic on the new endpoint within ${worstTraffic.toFixed(0)} ms (worst, incl. connect)`);
    expect(worstTraffic).toBeLessThan(1000);
  }, 120_000);

  test('a refused batch leaves the previous rules serving and is retried with back-off', async () => {
    const { client } = conn;
    const svc = await client.get<Service>(resources.services, 'default', 'echo');
    const vip = svc.spec!.clusterIP!;
    const current = await client.get<EndpointSlice>(resources.endpointslices, 'default', 'echo-1');
    const was = current.endpoints[0]!.addresses[0]!;
    const next = was === lab.backendIP(1) ? lab.backendIP(2) : lab.backendIP(1);
    const wasName = lab.backends[was === lab.backendIP(1) ? 0 : 1];
    const nextName = lab.backends[next === lab.backendIP(1) ? 0 : 1];
    refuse = 2;
    const programmed = waitForProgrammed(next, 10_000);
    const t0 = performance.now();
    await client.update<EndpointSlice>(resources.endpointslices, sliceOf(next, current.metadata!.resourceVersion));
    await new Promise((r) => setTimeout(r, 100));
    expect(await lab.connectMany(vip, 80, 3)).toEqual(Array(3).fill(wasName)); // the old rules still serve
    await programmed;
    const took = performance.now() - t0;
    expect(refuse).toBe(0);
    expect(logs.filter((l) => l.startsWith('error: sync failed'))).toHaveLength(2);
    expect(took).toBeGreaterThanOrEqual(200 + 400 - 50); // retried after 200 ms, then 400 ms
    expect(await lab.connectMany(vip, 80, 3)).toEqual(Array(3).fill(nextName));
  }, 30_000);

  test('a UDP client sending from one port follows its endpoint at once: stale conntrack flows are deleted', async () => {
    const { client } = conn;
    const servers = lab.backends.map((b) => spawnInNetns(b, process.execPath, ['-e', UDP_SERVER, b]));
    try {
      const svc = await client.create<Service>(resources.services, 'default', {
        apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'dns' },
        spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] },
      });
      const vip = svc.spec!.clusterIP!;
      const dnsSlice = (ip: string, rv?: string): EndpointSlice => ({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { namespace: 'default', name: 'dns-1', labels: { 'kubernetes.io/service-name': 'dns' }, ...(rv ? { resourceVersion: rv } : {}) },
        addressType: 'IPv4', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      });
      const deleted: number[] = [];
      synced.push((info) => { if (info.flowsDeleted) deleted.push(info.flowsDeleted); });
      const sl = await client.create<EndpointSlice>(resources.endpointslices, 'default', dnsSlice(lab.backendIP(1)));
      for (let i = 0; ; i++) { // the servers start and the rules land
        if ((await udpAsk(vip)) === lab.backends[0]) break;
        if (i > 20) throw new Error('UDP service never answered');
      }
      await client.update<EndpointSlice>(resources.endpointslices, dnsSlice(lab.backendIP(2), sl.metadata!.resourceVersion));
      const t0 = performance.now();
      let answer = '';
      while (performance.now() - t0 < 1000 && (answer = await udpAsk(vip, 300)) !== lab.backends[1]) { /* until it follows */ }
      expect(answer).toBe(lab.backends[1]);
      expect(deleted.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
      await client.delete(resources.endpointslices, 'default', 'dns-1');
      await client.delete(resources.services, 'default', 'dns');
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }, 60_000);

  test('--dry-run prints what would be programmed and no difference from the kernel once synced', async () => {
    // The previous test's last deletions may still be on their way to the kernel.
    const out = await eventually('the kernel to match the cluster', async () => {
      let o = '';
      await dryRun(conn.client, parseProxyFlags(['--kubeconfig', server.kubeconfig, '--proxy-mode', mode, '--node-name', 'node-1', '--netns', lab.node]), (s) => { o += s; });
      return o.includes(': none') ? o : undefined;
    }, 5_000);
    if (mode === 'iptables') {
      expect(out).toContain('*nat\n:KUBE-SERVICES - [0:0]');
      expect(out).toMatch(/-A KUBE-SERVICES -m comment --comment "default\/echo:http cluster IP" .* -j KUBE-SVC-/);
    } else {
      expect(out).toContain('table ip k8ts-proxy {');
      expect(out).toMatch(/ : goto lb-1/);
    }
    expect(out).toContain('# difference from the kernel (netns');
    expect(out).toContain(': none');
  }, 30_000);

  test('--dry-run shows the difference when the kernel lags behind', async () => {
    await daemon!.stop({ cleanup: true });
    daemon = undefined;
    let out = '';
    await dryRun(conn.client, parseProxyFlags(['--kubeconfig', server.kubeconfig, '--proxy-mode', mode, '--node-name', 'node-1', '--netns', lab.node]), (s) => { out += s; });
    expect(out).toContain(mode === 'iptables' ? '+ chain nat KUBE-SERVICES' : '+ table ip k8ts-proxy (not in the kernel');
  }, 30_000);
});
