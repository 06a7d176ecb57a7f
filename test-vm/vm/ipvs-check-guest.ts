// Runs INSIDE the test VM (Debian kernel with IPVS; see ipvs-check.sh): the IPVS mode's applier for
// real. The VM's own network namespace plays the node; two endpoints live in namespaces of their
// own behind veth pairs, each with a TCP server answering with its name.
//   1. a Service (ClusterIP 10.96.0.10:80 → both endpoints :8080) programmed through
//      compileIpvs + IpvsApplier; 40 real TCP connections to the VIP must reach both endpoints
//      (rr: 20/20); ipvsadm -Ln (an independent reader) must show both real servers;
//   2. a port of the VIP that no service has must be refused (filter table);
//   3. one endpoint removed (incremental sync): every connection goes to the other one; the
//      removed real server stays at weight 0 while IPVS still counts connections to it (graceful
//      termination), and is deleted after the timeout — or at once on a service it had none on;
//   4. another scheduler (lc) replaces rr in place;
//   5. UDP: a second Service (10.96.0.20:53/UDP) balances datagrams over both endpoints' UDP
//      servers; removing an endpoint deletes its real server at once (no graceful termination);
//   6. SCTP: a Service's virtual and real servers are programmed and a removed one goes at once
//      (no SCTP traffic: Node has no SCTP sockets);
//   7. cleanup leaves no virtual server, no kube-ipvs0 and no table.
// With `--bench N[,N…]` it then loads N services × 10 endpoints from scratch through the applier
// and through `ipvsadm --restore` (the anchor), one after the other in this same VM.
// Output: lines `ipvscheck: <step> ok|FAIL <ms> [detail]`, for ipvs-check.sh to collect.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, connect, type Server } from 'node:net';
import { execa } from 'execa';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { createNetns, deleteNetns, withNetnsSync } from '../../kernel/netns.js';
import { openRtnl, writeSysctl } from '../../kernel/rtnl/index.js';
import { endpoint, service, slice } from '../../proxy/fixtures.js';
import { compileIpvs } from '../../proxy/ipvs/compile.js';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { resources } from '../../api/client/types.js';
import { ProxyDaemon } from '../../proxy/daemon.js';
import { TestServer } from '../../test/e2e/harness.js';
import { openIpvsApplier, type IpvsApplier } from '../../proxy/ipvs/apply.js';
import { renderIpvsadm } from '../../proxy/ipvs/render.js';
import { buildServiceModel } from '../../proxy/model.js';

let failed = 0;
const t0 = performance.now();
function report(step: string, ok: boolean, ms: number, detail = ''): void {
  if (!ok) failed++;
  console.log(`ipvscheck: ${step} ${ok ? 'ok' : 'FAIL'} ${ms.toFixed(1)} ${detail}`.trimEnd());
}
async function timed<T>(step: string, fn: () => Promise<T>, check: (v: T) => string | true = () => true): Promise<T | undefined> {
  const s = performance.now();
  try {
    const v = await fn();
    const c = check(v);
    report(step, c === true, performance.now() - s, c === true ? '' : c);
    return v;
  } catch (e) {
    report(step, false, performance.now() - s, String(e instanceof Error ? e.message : e).split('\n')[0]);
    return undefined;
  }
}

const CTX = { nodeName: 'vm', nodeIPs: [] as string[], clusterCIDR: '10.200.0.0/16', serviceCIDR: '10.96.0.0/12' };
const EPS = [{ ns: 'k8ts-t-ep1', ip: '10.200.1.2', gw: '10.200.1.1', host: 'k8tsv1' }, { ns: 'k8ts-t-ep2', ip: '10.200.2.2', gw: '10.200.2.1', host: 'k8tsv2' }];

async function setUpEndpoints(): Promise<Server[]> {
  const rtnl = openRtnl();
  const servers: Server[] = [];
  try {
    for (const e of EPS) {
      await createNetns(e.ns);
      await rtnl.addVeth({ name: e.host, peerName: 'eth0', peerNetns: e.ns });
      await rtnl.addAddr(e.host, `${e.gw}/24`);
      await rtnl.setUp(e.host);
      const inner = openRtnl(e.ns);
      try {
        await inner.addAddr('eth0', `${e.ip}/24`);
        await inner.setUp('eth0');
        await inner.replaceRoute({ dst: 'default', via: e.gw });
      } finally { inner.close(); }
      // listen(port) without a host creates and binds the socket synchronously, so it is made in
      // the endpoint's namespace while this thread is switched into it.
      // Each answer names the endpoint and the client address it saw (source-IP checks). A client
      // cut off by a real server's removal (expire_nodest_conn) resets its connection: not an error here.
      servers.push(withNetnsSync(e.ns, () => createServer((s) => { s.on('error', () => undefined); s.end(`${e.ns} ${(s.remoteAddress ?? '').replace(/^::ffff:/, '')}`); }).listen(8080)));
    }
  } finally { rtnl.close(); }
  return servers;
}

function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => { got += String(d); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

/** A connection from inside a namespace (a pod): bash's /dev/tcp under `ip netns exec`. */
async function askFrom(ns: string, host: string, port: number): Promise<string> {
  return (await execa('ip', ['netns', 'exec', ns, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && cat <&3`])).stdout.trim();
}

/** n connections to the VIP; counts per answer (`endpoint` or, with `bySource`, `endpoint source`). */
async function spread(n: number, opts: { from?: string; bySource?: boolean; vip?: string } = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const vip = opts.vip ?? '10.96.0.10';
  for (let i = 0; i < n; i++) {
    const answer = opts.from ? await askFrom(opts.from, vip, 80) : await ask(vip, 80);
    const who = opts.bySource ? answer : answer.split(' ')[0]!;
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

const model = (eps: string[], affinity = false): ReturnType<typeof buildServiceModel> =>
  buildServiceModel([service('web', '10.96.0.10', affinity ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } } : {})], [slice('web', eps.map((ip) => endpoint(ip)))]);

/** `web` with its endpoints plus more Services: `idle` (TCP 10.96.0.11:80, never sent traffic) and `dns` (UDP 10.96.0.20:53 → :5353). */
function modelWith(web: string[], more: { idle?: string[]; dns?: string[]; sctp?: string[] }): ReturnType<typeof buildServiceModel> {
  const services = [service('web', '10.96.0.10')];
  const slices = [slice('web', web.map((ip) => endpoint(ip)))];
  if (more.idle) { services.push(service('idle', '10.96.0.11')); slices.push(slice('idle', more.idle.map((ip) => endpoint(ip)))); }
  if (more.dns) {
    services.push(service('dns', '10.96.0.20', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
    slices.push({ ...slice('dns', more.dns.map((ip) => endpoint(ip))), ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] });
  }
  if (more.sctp) {
    services.push(service('assoc', '10.96.0.30', { ports: [{ name: 'sctp', port: 9999, protocol: 'SCTP' }] }));
    slices.push({ ...slice('assoc', more.sctp.map((ip) => endpoint(ip))), ports: [{ name: 'sctp', port: 9999, protocol: 'SCTP' }] });
  }
  return buildServiceModel(services, slices);
}

/** The weight of a real server of a virtual server in `ipvsadm -Ln` (undefined: not there). */
function weightOf(list: string, vs: string, rs: string): number | undefined {
  const block = list.split(/\n(?=(?:TCP|UDP|SCTP)\s)/).find((b) => /^(TCP|UDP|SCTP)\s/.test(b) && b.split(/\s+/)[1] === vs);
  const line = block?.split('\n').find((l) => l.includes(`-> ${rs} `));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/)[3]);
}

/**
 * A UDP server in each endpoint's namespace answering `<ns> <client address>`: a child node under
 * `ip netns exec`, since a datagram socket is bound asynchronously (it cannot be made while this
 * thread is switched into the namespace, as the TCP servers are).
 */
async function startUdpServers(): Promise<ChildProcess[]> {
  const code = "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(process.argv[1]+' '+r.address,r.port,r.address));s.bind(5353,()=>console.log('ready'))";
  const procs: ChildProcess[] = [];
  for (const e of EPS) {
    const p = spawn('ip', ['netns', 'exec', e.ns, process.execPath, '-e', code, e.ns], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout!.once('data', () => resolve());
      p.once('exit', (c) => reject(new Error(`UDP server in ${e.ns} exited (${c})`)));
    });
  }
  return procs;
}

/**
 * Source ports for askUdp, each used once. A kernel-chosen ephemeral port can repeat after the
 * previous socket closed, and IPVS then finds the old UDP connection and answers from the same real
 * server, which skews round-robin counts (seen once in CI: 6/4).
 */
let nextUdpSourcePort = 41000;

/** One datagram to the VIP from a fresh socket on a never-used source port (a new IPVS connection); the answer. */
function askUdp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.bind(nextUdpSourcePort++);
    const timer = setTimeout(() => { s.close(); reject(new Error('no UDP answer within 3 s')); }, 3000);
    s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(String(m)); });
    s.on('error', (e) => { clearTimeout(timer); s.close(); reject(e); });
    s.send('q', port, host);
  });
}
async function spreadUdp(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = (await askUdp('10.96.0.20', 53)).split(' ')[0]!;
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

async function ipvsadm(args: string[], input?: string): Promise<string> {
  return (await execa('ipvsadm', args, input === undefined ? {} : { input })).stdout;
}

async function functional(): Promise<void> {
  let applier: IpvsApplier | undefined;
  try {
    // A node forwards: replies from one endpoint to a pod client cross the node (IPVS's FORWARD hook).
    writeSysctl('net/ipv4/ip_forward', '1');
    applier = await timed('open', () => openIpvsApplier());
    if (!applier) return;
    await timed('sync-2-endpoints', () => applier!.sync(compileIpvs({ ...CTX, services: model(EPS.map((e) => e.ip)) })), (r) => (r.ops === 3 ? true : `ops ${r.ops}`));
    await timed('ipvsadm-shows-2', () => ipvsadm(['-Ln']), (out) => (EPS.every((e) => out.includes(`${e.ip}:8080`)) && out.includes('10.96.0.10:80 rr') ? true : out.replace(/\n/g, ' | ')));
    await timed('traffic-balanced', () => spread(40), (c) => (c['k8ts-t-ep1'] === 20 && c['k8ts-t-ep2'] === 20 ? true : JSON.stringify(c)));
    // The node is not in the cluster CIDR: its traffic to a ClusterIP is masqueraded to the node's
    // address on the endpoint's link (10.200.N.1), as upstream does.
    await timed('node-source-masqueraded', () => spread(4, { bySource: true }), (c) => (c['k8ts-t-ep1 10.200.1.1'] === 2 && c['k8ts-t-ep2 10.200.2.1'] === 2 ? true : JSON.stringify(c)));
    // A pod (ep2) reaching the service: the source is kept when it lands on ep1; when it lands on
    // itself (hairpin) it is masqueraded, or the reply would never come back through IPVS.
    await timed('pod-source-kept-and-hairpin', () => spread(4, { from: EPS[1]!.ns, bySource: true }), (c) => (c['k8ts-t-ep1 10.200.2.2'] === 2 && c['k8ts-t-ep2 10.200.2.1'] === 2 ? true : JSON.stringify(c)));
    await timed('sync-affinity', () => applier!.sync(compileIpvs({ ...CTX, services: model(EPS.map((e) => e.ip), true) })), (r) => (r.ops === 1 ? true : `ops ${r.ops}`));
    await timed('affinity-sticks', () => spread(10), (c) => (Object.values(c).join() === '10' ? true : JSON.stringify(c)));
    await timed('sync-no-affinity', () => applier!.sync(compileIpvs({ ...CTX, services: model(EPS.map((e) => e.ip)) })), (r) => (r.ops === 1 ? true : `ops ${r.ops}`));
    await timed('stray-port-refused', () => ask('10.96.0.10', 81).then(() => 'answered', (e: NodeJS.ErrnoException) => e.code ?? String(e)), (code) => (code === 'ECONNREFUSED' ? true : code));
    await timed('sync-remove-endpoint', () => applier!.sync(compileIpvs({ ...CTX, services: model([EPS[0]!.ip]) })), (r) => (r.ops === 1 && !r.full ? true : `ops ${r.ops} full ${r.full}`));
    // Graceful termination: the removed real server stays, at weight 0, while IPVS counts
    // connections to it (the closed ones linger in TIME_WAIT for 2 minutes).
    await timed('graceful-weight-0', () => ipvsadm(['-Ln']), (out) => (weightOf(out, '10.96.0.10:80', `${EPS[0]!.ip}:8080`) === 1 && weightOf(out, '10.96.0.10:80', `${EPS[1]!.ip}:8080`) === 0 ? true : out.replace(/\n/g, ' | ')));
    await timed('traffic-one-endpoint', () => spread(20), (c) => (c['k8ts-t-ep1'] === 20 ? true : JSON.stringify(c)));
    await timed('graceful-waits-for-connections', async () => [await applier!.sync(compileIpvs({ ...CTX, services: model([EPS[0]!.ip]) })), await ipvsadm(['-Ln'])] as const,
      ([r, out]) => (r.reaped === 0 && weightOf(out, '10.96.0.10:80', `${EPS[1]!.ip}:8080`) === 0 && applier!.terminatingCount === 1 ? true : `reaped ${r.reaped} | ${out.replace(/\n/g, ' | ')}`));
    await timed('graceful-timeout-deletes', async () => [await applier!.sync(compileIpvs({ ...CTX, services: model([EPS[0]!.ip]) }), { gracefulTimeoutMs: 0 }), await ipvsadm(['-Ln'])] as const,
      ([r, out]) => (r.reaped === 1 && weightOf(out, '10.96.0.10:80', `${EPS[1]!.ip}:8080`) === undefined && applier!.terminatingCount === 0 ? true : `reaped ${r.reaped} | ${out.replace(/\n/g, ' | ')}`));
    await timed('full-resync-is-noop', () => applier!.sync(compileIpvs({ ...CTX, services: model([EPS[0]!.ip]) }), { full: true }), (r) => (r.ops === 0 ? true : `ops ${r.ops}`));
    // A real server nobody connected to is deleted by the next sync (nothing to drain).
    await timed('sync-idle-service', () => applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { idle: EPS.map((e) => e.ip) }) })), (r) => (r.ops === 3 ? true : `ops ${r.ops}`));
    await timed('sync-idle-remove-endpoint', () => applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { idle: [EPS[0]!.ip] }) })), (r) => (r.ops === 1 && applier!.terminatingCount === 1 ? true : `ops ${r.ops} terminating ${applier!.terminatingCount}`));
    await timed('graceful-drained-deletes', async () => [await applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { idle: [EPS[0]!.ip] }) })), await ipvsadm(['-Ln'])] as const,
      ([r, out]) => (r.reaped === 1 && weightOf(out, '10.96.0.11:80', `${EPS[1]!.ip}:8080`) === undefined && weightOf(out, '10.96.0.11:80', `${EPS[0]!.ip}:8080`) === 1 ? true : `reaped ${r.reaped} | ${out.replace(/\n/g, ' | ')}`));
    // --ipvs-scheduler: another scheduler replaces rr on the existing virtual servers (one update each).
    await timed('scheduler-lc', async () => [await applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { idle: [EPS[0]!.ip] }) }, { scheduler: 'lc' })), await ipvsadm(['-Ln']), await spread(4)] as const,
      ([r, out, c]) => (r.ops === 2 && out.includes('10.96.0.10:80 lc') && out.includes('10.96.0.11:80 lc') && c['k8ts-t-ep1'] === 4 ? true : `ops ${r.ops} ${JSON.stringify(c)} | ${out.replace(/\n/g, ' | ')}`));
    // UDP.
    const udp = await timed('udp-servers', startUdpServers);
    try {
      await timed('sync-udp-service', () => applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { dns: EPS.map((e) => e.ip) }) })), (r) => (r.ops >= 3 ? true : `ops ${r.ops}`));
      await timed('udp-balanced', () => spreadUdp(10), (c) => (c['k8ts-t-ep1'] === 5 && c['k8ts-t-ep2'] === 5 ? true : JSON.stringify(c)));
      await timed('udp-remove-endpoint-at-once', async () => [await applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { dns: [EPS[0]!.ip] }) })), await ipvsadm(['-Ln'])] as const,
        ([r, out]) => (r.ops === 1 && weightOf(out, '10.96.0.20:53', `${EPS[1]!.ip}:5353`) === undefined && applier!.terminatingCount === 0 ? true : `ops ${r.ops} | ${out.replace(/\n/g, ' | ')}`));
      await timed('udp-one-endpoint', () => spreadUdp(6), (c) => (c['k8ts-t-ep1'] === 6 ? true : JSON.stringify(c)));
    } finally {
      for (const p of udp ?? []) p.kill();
    }
    // SCTP: programmed as the others (IPVS's SCTP support is built into this kernel's ip_vs), and
    // like UDP without graceful termination. No SCTP traffic: Node has no SCTP sockets and the
    // image no SCTP client.
    await timed('sync-sctp-service', () => applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { sctp: EPS.map((e) => e.ip) }) })), (r) => (r.ops >= 3 ? true : `ops ${r.ops}`));
    await timed('ipvsadm-shows-sctp', () => ipvsadm(['-Ln']), (out) => (/^SCTP\s+10\.96\.0\.30:9999 rr/m.test(out) && EPS.every((e) => weightOf(out, '10.96.0.30:9999', `${e.ip}:9999`) === 1) ? true : out.replace(/\n/g, ' | ')));
    await timed('sctp-remove-endpoint-at-once', async () => [await applier!.sync(compileIpvs({ ...CTX, services: modelWith([EPS[0]!.ip], { sctp: [EPS[0]!.ip] }) })), await ipvsadm(['-Ln'])] as const,
      ([r, out]) => (r.ops === 1 && weightOf(out, '10.96.0.30:9999', `${EPS[1]!.ip}:9999`) === undefined && applier!.terminatingCount === 0 ? true : `ops ${r.ops} | ${out.replace(/\n/g, ' | ')}`));
    await timed('cleanup', () => applier!.cleanup());
    await timed('cleanup-left-nothing', async (): Promise<[string, number | undefined, string]> => [await ipvsadm(['-Sn']), (await execa('ip', ['link', 'show', 'kube-ipvs0'], { reject: false })).exitCode, (await execa('nft', ['list', 'tables'])).stdout],
      ([rules, linkRc, tables]) => (rules.trim() === '' && linkRc !== 0 && !tables.includes('k8ts-ipvs') ? true : `${rules} link:${linkRc} ${tables}`));
  } finally {
    applier?.close();
  }
}

/** Polls `fn` until it returns true; throws after `ms`. */
async function until(fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (performance.now() > end) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The whole proxy in IPVS mode: a real `k8ts server` (the e2e harness's TestServer) in the VM, the
 * ProxyDaemon watching it over HTTPS, a Service and its EndpointSlice written through the API;
 * measured from the API write to traffic flowing (network programming latency, under TCG).
 */
async function daemonPhase(): Promise<void> {
  const server = new TestServer();
  let transport: { close(): void } | undefined;
  let daemon: ProxyDaemon | undefined;
  try {
    await timed('apiserver-start', () => server.start(180_000));
    const c = clientFromKubeconfig(server.kubeconfig, { userAgent: 'ipvs-check' });
    transport = c.transport;
    const client = c.client;
    daemon = new ProxyDaemon({ client, mode: 'ipvs', ipvsScheduler: 'wrr', nodeName: 'vm', clusterCIDR: CTX.clusterCIDR, minSyncMs: 0 });
    await timed('daemon-start', () => daemon!.start());
    const vip = '10.43.0.50';
    const eps = (ips: string[]): EndpointSlice => ({ ...slice('web', ips.map((ip) => endpoint(ip))), metadata: { namespace: 'default', name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } } });
    const t0 = performance.now();
    await client.create(resources.services, 'default', { apiVersion: 'v1', kind: 'Service', ...service('web', vip) });
    await client.create(resources.endpointslices, 'default', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...eps(EPS.map((e) => e.ip)) });
    await timed('api-create-to-traffic', () => until(async () => Object.keys(await spread(2, { vip })).length === 2, 60_000));
    report('api-create-to-traffic-latency', true, performance.now() - t0, 'from the Service write to both endpoints answering');
    await timed('daemon-scheduler-wrr', () => ipvsadm(['-Ln']), (out) => (out.includes(`${vip}:80 wrr`) ? true : out.replace(/\n/g, ' | ')));
    const cur = await client.get<EndpointSlice>(resources.endpointslices, 'default', 'web-1');
    const t1 = performance.now();
    await client.update(resources.endpointslices, { ...cur, endpoints: [endpoint(EPS[0]!.ip)] });
    await timed('api-endpoint-removed', () => until(async () => JSON.stringify(await spread(4, { vip })) === JSON.stringify({ 'k8ts-t-ep1': 4 }), 60_000));
    report('api-update-to-traffic-latency', true, performance.now() - t1, 'from the slice update to traffic only to the remaining endpoint');
    await timed('daemon-stop-cleanup', () => daemon!.stop({ cleanup: true }));
    daemon = undefined;
    await timed('daemon-cleanup-left-nothing', () => ipvsadm(['-Sn']), (out) => (out.trim() === '' ? true : out));
  } finally {
    await daemon?.stop().catch(() => undefined);
    transport?.close();
    await server.stop();
  }
}

// ---- bench: N services × 10 endpoints, ours vs ipvsadm --restore ----

function benchModel(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `s${i}`;
    services.push(service(name, `10.96.${(i >> 8) & 255}.${i & 255}`));
    slices.push(slice(name, Array.from({ length: 10 }, (_, j) => endpoint(`10.${128 + ((i * 10 + j) >> 16)}.${((i * 10 + j) >> 8) & 255}.${(i * 10 + j) & 255}`))));
  }
  return { services, slices };
}

async function bench(n: number): Promise<void> {
  const { services, slices } = benchModel(n);
  const sm = buildServiceModel(services, slices);
  // The anchor gets exactly the virtual and real servers we program, as ipvsadm-save prints them.
  const restore = renderIpvsadm(compileIpvs({ ...CTX, services: sm }));
  await ipvsadm(['-C']);
  const applier = await openIpvsApplier();
  try {
    const c0 = performance.now();
    const want = compileIpvs({ ...CTX, services: sm });
    const compileMs = performance.now() - c0;
    const s0 = performance.now();
    const r = await applier.sync(want);
    const total = performance.now() - s0;
    const count = (await ipvsadm(['-Sn'])).split('\n').filter((l) => l.startsWith('-a')).length;
    report(`bench-${n}x10-k8ts`, count === n * 10, total, `compile ${compileMs.toFixed(0)} ms; sync ${total.toFixed(0)} ms = observe ${r.observeMs.toFixed(0)} + ipvs ${r.ipvsMs.toFixed(0)} (${r.ipvs.ops} ops, ${r.ipvs.datagrams} datagrams, ${r.ipvs.bytes} B) + addresses ${r.addrMs.toFixed(0)} (${r.bound}) + nft ${r.nftMs.toFixed(0)}; ${count} real servers`);
    // One more service on top (the incremental path).
    // As the sync loop does: unchanged ports stay the same model objects, one port is new.
    const extra = benchModel(n + 1);
    const added = buildServiceModel(extra.services.slice(n), extra.slices.slice(n));
    const c2 = performance.now();
    const w2 = compileIpvs({ ...CTX, services: [...sm, ...added] });
    const compile2Ms = performance.now() - c2;
    const a0 = performance.now();
    const r2 = await applier.sync(w2);
    report(`bench-${n}x10-k8ts-one-more`, r2.ops === 11, performance.now() - a0, `ipvs ${r2.ipvsMs.toFixed(1)} ms (${r2.ops} ops) + addresses ${r2.addrMs.toFixed(1)} + nft ${r2.nftMs.toFixed(1)} + plan/other ${(performance.now() - a0 - r2.ipvsMs - r2.addrMs - r2.nftMs).toFixed(1)}; before that, compile of all ${n + 1} (memoized) ${compile2Ms.toFixed(1)} ms`);
    await applier.cleanup();
  } finally {
    applier.close();
  }
  await ipvsadm(['-C']);
  const i0 = performance.now();
  await ipvsadm(['--restore'], restore);
  const ims = performance.now() - i0;
  const count = (await ipvsadm(['-Sn'])).split('\n').filter((l) => l.startsWith('-a')).length;
  report(`bench-${n}x10-ipvsadm-restore`, count === n * 10, ims, `${restore.split('\n').length - 1} lines; ${count} real servers (IPVS only: no addresses, no masquerade rules)`);
  await ipvsadm(['-C']);
}

async function main(): Promise<void> {
  console.log(`ipvscheck: start ${(performance.now() - t0).toFixed(0)} node ${process.version}`);
  const servers = await timed('endpoints', setUpEndpoints);
  try {
    if (servers) {
      await functional();
      if (!process.argv.includes('--no-daemon')) await daemonPhase();
    }
  } finally {
    for (const s of servers ?? []) s.close();
    for (const e of EPS) await deleteNetns(e.ns);
  }
  const b = process.argv.indexOf('--bench');
  const sizes = b >= 0 ? (process.argv[b + 1] ?? '').split(',').map(Number).filter((x) => x > 0) : [];
  for (const n of sizes) {
    try { await bench(n); } catch (e) { report(`bench-${n}x10`, false, 0, String(e).split('\n')[0]); }
  }
  console.log(`ipvscheck: done failed=${failed} total ${(performance.now() - t0).toFixed(0)} ms`);
  // Exit now: a retrying watch or keep-alive socket left behind must not keep the VM up until the
  // harness's timeout (the verdict is already printed).
  process.exit(failed ? 1 : 0);
}

await main();
