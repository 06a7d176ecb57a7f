// A multi-node pod-network lab in network namespaces for the netplugins' integration tests: an
// underlay switch (a bridge in its own namespace), N "node" namespaces cabled to it, an "internet"
// namespace on the same switch (the outside of the cluster network), and "pod" namespaces wired by
// hand into their node — as the CNI plugin would, in bridge (vxlan) or routed (calico) style.
//
//   [inet 192.168.77.254] ─┐
//   [node i 192.168.77.1i] ─ br0 in [sw]        node i: podCIDR 10.244.i.0/24
//       └ pod: bridge cni0 10.244.i.1/24 + veth (vxlan mode)  |  caliN + proxy ARP, IP/32 (routed)
//
// Everything is built with `ip` (the independent witness the tests also read the kernel with),
// every name carries a random suffix, nothing touches the root namespace, and `destroy` removes
// every namespace and process even after a partial set-up. What a test opens on top of the lab
// (netlink handles, masquerade appliers, an API server) is registered with `defer`, so one
// `destroy` releases everything in reverse order. `testPodTraffic` holds the traffic checks that
// every mode's integration test runs the same way.
import { createHash, randomBytes } from 'node:crypto';
import type { Node } from 'kubernetes-types/core/v1.js';
import { clientFromKubeconfig } from '../api/client/https.js';
import { resources, type ClusterClient } from '../api/client/types.js';
import { createNetns, deleteNetns, execInNetns, spawnInNetns, type NetnsProcess } from '../kernel/netns.js';
import { TestServer } from '../test/e2e/harness.js';
import type { NetKernel } from './common/kernel.js';
import { MasqueradeApplier } from './common/masq.js';
import { rtnlKernel } from './common/rtnl-kernel.js';

export interface LabNode {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly podCidr: string;
  readonly pods: LabPod[];
}
export interface LabPod { readonly ns: string; readonly ip: string; readonly hostIf: string }

export interface NetLab {
  readonly id: string;
  readonly sw: string;
  readonly inet: string;
  readonly inetIP: string;
  readonly nodes: readonly LabNode[];
  /** The first pod wired into node `i` (0-based). */
  pod(i: number): LabPod;
  /** Wires a pod into node `i` (0-based): bridge style (vxlan) or routed style. */
  addPod(i: number, style: 'bridge' | 'routed', mtu?: number): Promise<LabPod>;
  /** Starts the TCP echo server (ECHO_SERVER) in a namespace. */
  serve(ns: string, port: number): Promise<void>;
  /** Sends `size` bytes from `from` to addr:port; resolves with the server's reply or `ERR:<code>`. */
  send(from: string, addr: string, port: number, size: number, timeoutMs?: number): Promise<string>;
  ip(ns: string, args: string[]): Promise<string>;
  /** Node `i`'s netlink handle, as the agent hands it to a mode's applier (opened once, closed by `destroy`). */
  kernel(i: number): NetKernel;
  /** Node `i`'s masquerade applier (created once, closed by `destroy`). */
  masq(i: number): MasqueradeApplier;
  /** Registers a release for `destroy`, which runs them in reverse order before it stops the servers and removes the namespaces. */
  defer(release: () => unknown): void;
  destroy(): Promise<void>;
}

export interface NetLabOptions {
  /** Wires one pod into every node, in this style (see `addPod`). */
  readonly pods?: 'bridge' | 'routed';
  /** The MTU of the pods' links. */
  readonly mtu?: number;
  /** Starts the echo server on this port in every pod and in the internet namespace. */
  readonly serve?: number;
  /** Installs the masquerade for this cluster network in every node (`masq(i)`), as the agent does in every mode. */
  readonly masquerade?: string;
}

// TCP: replies `<name> <peer address> <bytes received> <sha256 of them>` once the client ends.
// Arguments: name, TCP port (a block, so it can share one `node -e` with the UDP server below).
export const ECHO_SERVER = `{const [n,p]=process.argv.slice(1),net=require('net'),c=require('crypto');
net.createServer(s=>{const h=c.createHash('sha256');let b=0;s.on('error',()=>{});
s.on('data',d=>{b+=d.length;h.update(d)});s.on('end',()=>s.end(n+' '+s.remoteAddress+' '+b+' '+h.digest('hex')))}).listen(+p,'0.0.0.0')}`;
// Arguments: host, port, payload size, timeout ms. Prints the server's reply or `ERR:<code>`.
export const ECHO_CLIENT = `const [h,p,z,t]=process.argv.slice(1),net=require('net');let d='';
const s=net.connect({host:h,port:+p},()=>{const buf=Buffer.alloc(+z);for(let i=0;i<buf.length;i++)buf[i]=i*7%251;s.end(buf)});
const tm=setTimeout(()=>{console.log('ERR:TIMEOUT');process.exit(0)},+t);
s.on('data',x=>d+=x);s.on('end',()=>{clearTimeout(tm);console.log(d)});s.on('error',e=>{clearTimeout(tm);console.log('ERR:'+e.code)})`;
// UDP: answers each datagram with `<name> <peer address> <bytes> <sha256>`. Arguments: name,
// (TCP port, unused), UDP port — the ECHO_SERVER's argv, so `${ECHO_SERVER};${UDP_ECHO_SERVER}` runs both.
export const UDP_ECHO_SERVER = `{const [n,,u]=process.argv.slice(1),c=require('crypto'),d=require('dgram').createSocket('udp4');
d.on('message',(m,r)=>d.send(n+' '+r.address+' '+m.length+' '+c.createHash('sha256').update(m).digest('hex'),r.port,r.address));d.bind(+u)}`;
// Arguments: host, port, datagram size, timeout ms. One datagram (re-sent every 500 ms: UDP may drop).
export const UDP_ECHO_CLIENT = `const [h,p,z,t]=process.argv.slice(1),d=require('dgram').createSocket('udp4');
const buf=Buffer.alloc(+z);for(let i=0;i<buf.length;i++)buf[i]=i*7%251;
const send=()=>d.send(buf,+p,h,e=>{if(e){console.log('ERR:'+e.code);process.exit(0)}});
d.on('message',m=>{console.log(String(m));process.exit(0)});send();setInterval(send,500);
setTimeout(()=>{console.log('ERR:TIMEOUT');process.exit(0)},+t)`;

/** The sha256 (hex) of the `size`-byte payload ECHO_CLIENT and UDP_ECHO_CLIENT send. */
export function payloadDigest(size: number): string {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7) % 251;
  return createHash('sha256').update(b).digest('hex');
}

/** The Node object of a lab node as the appliers read it (podCIDR, InternalIP, optional annotations). */
export function labNodeObject(n: LabNode, annotations?: Record<string, string>): Node {
  return {
    metadata: { name: n.name, ...(annotations ? { annotations } : {}) },
    spec: { podCIDR: n.podCidr },
    status: { addresses: [{ type: 'InternalIP', address: n.ip }] },
  };
}

/** Registers a lab node in a real API server, as its kubelet would: the Node, then its status. */
export async function registerLabNode(client: ClusterClient, n: LabNode, o: { ready?: boolean } = {}): Promise<void> {
  await client.create<Node>(resources.nodes, undefined, { metadata: { name: n.name }, spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] } });
  const status = { addresses: [{ type: 'InternalIP', address: n.ip }], ...(o.ready ? { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } : {}) };
  await client.patch(resources.nodes, undefined, n.name, 'merge', { status }, { subresource: 'status' });
}

/** Starts a real k8ts API server for the lab's daemon tests; the lab's `destroy` stops it. Returns a client of it. */
export async function startLabApi(lab: NetLab): Promise<ClusterClient> {
  const server = new TestServer();
  lab.defer(() => server.stop());
  await server.start();
  const conn = clientFromKubeconfig(server.kubeconfig, { userAgent: 'k8ts-netplugin-itest' });
  lab.defer(() => conn.transport.close());
  return conn.client;
}

/**
 * The checks every mode must pass once its applier synced every node (one pod per node serving on
 * `port`, the masquerade installed): pods reach pods across nodes without NAT, 1400-byte and 4 MB
 * payloads arrive intact, and traffic leaving the cluster network is masqueraded to the node.
 * Registers them as jest tests: call it at the top level of a test file, where they run in order.
 */
export function testPodTraffic(getLab: () => NetLab, port: number): void {
  const pod = (i: number): LabPod => getLab().pod(i);
  test('pods reach pods on every other node over TCP, without NAT', async () => {
    for (const [a, b] of [[0, 1], [1, 2], [2, 0], [1, 0]] as const) {
      expect(await getLab().send(pod(a).ns, pod(b).ip, port, 0)).toBe(`${pod(b).ns} ${pod(a).ip} 0 ${payloadDigest(0)}`);
    }
  });

  test('a 1400-byte and a 4 MB transfer arrive intact', async () => {
    const lab = getLab();
    expect(await lab.send(pod(0).ns, pod(2).ip, port, 1400)).toBe(`${pod(2).ns} ${pod(0).ip} 1400 ${payloadDigest(1400)}`);
    const big = 4 * 1024 * 1024;
    expect(await lab.send(pod(2).ns, pod(0).ip, port, big, 20_000)).toBe(`${pod(0).ns} ${pod(2).ip} ${big} ${payloadDigest(big)}`);
  });

  test('traffic to outside the cluster network is masqueraded to the node address', async () => {
    const lab = getLab();
    expect(await lab.send(pod(1).ns, lab.inetIP, port, 10)).toBe(`${lab.inet} ${lab.nodes[1]!.ip} 10 ${payloadDigest(10)}`);
  });
}

export async function createNetLab(nodeCount: number, opts: NetLabOptions = {}): Promise<NetLab> {
  const id = randomBytes(3).toString('hex');
  const sw = `k8ts-t-${id}-sw`;
  const inet = `k8ts-t-${id}-inet`;
  const created: string[] = [];
  const servers: NetnsProcess[] = [];
  const releases: (() => unknown)[] = [];
  const kernels = new Map<number, NetKernel>();
  const masqs = new Map<number, MasqueradeApplier>();
  const ip = (ns: string, args: string[]): Promise<string> => execInNetns(ns, 'ip', args);
  const nodeNs = (i: number): string => {
    const n = nodes[i];
    if (!n) throw new Error(`the lab has no node ${i}`);
    return n.ns;
  };
  const nodes: LabNode[] = Array.from({ length: nodeCount }, (_, i) => ({
    name: `node-${i + 1}`, ns: `k8ts-t-${id}-n${i + 1}`, ip: `192.168.77.${11 + i}`, podCidr: `10.244.${i + 1}.0/24`, pods: [],
  }));
  let podSeq = 0;
  const lab: NetLab = {
    id, sw, inet, inetIP: '192.168.77.254', nodes,
    ip,
    pod: (i) => {
      const p = nodes[i]?.pods[0];
      if (!p) throw new Error(`node ${i} has no pod`);
      return p;
    },
    async addPod(i, style, mtu) {
      const node = nodes[i]!;
      const k = node.pods.length + 2;
      const pod: LabPod = { ns: `k8ts-t-${id}-p${++podSeq}`, ip: `10.244.${i + 1}.${k}`, hostIf: style === 'bridge' ? `veth${k}` : `cali${k}` };
      await createNetns(pod.ns);
      created.push(pod.ns);
      await ip(node.ns, ['link', 'add', pod.hostIf, ...(mtu ? ['mtu', String(mtu)] : []), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
      if (mtu) await ip(pod.ns, ['link', 'set', 'eth0', 'mtu', String(mtu)]);
      await ip(pod.ns, ['link', 'set', 'eth0', 'up']);
      if (style === 'bridge') {
        if (node.pods.length === 0) {
          await ip(node.ns, ['link', 'add', 'cni0', ...(mtu ? ['mtu', String(mtu)] : []), 'type', 'bridge']);
          await ip(node.ns, ['addr', 'add', `10.244.${i + 1}.1/24`, 'dev', 'cni0']);
          await ip(node.ns, ['link', 'set', 'cni0', 'up']);
        }
        await ip(node.ns, ['link', 'set', pod.hostIf, 'master', 'cni0', 'up']);
        await ip(pod.ns, ['addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
        await ip(pod.ns, ['route', 'add', 'default', 'via', `10.244.${i + 1}.1`]);
      } else {
        // calico: the host side answers ARP for 169.254.1.1 (proxy ARP) and routes the pod's /32.
        await execInNetns(node.ns, 'sysctl', ['-qw', `net.ipv4.conf.${pod.hostIf}.proxy_arp=1`, `net.ipv4.neigh.${pod.hostIf}.proxy_delay=0`]);
        await ip(node.ns, ['link', 'set', pod.hostIf, 'address', 'ee:ee:ee:ee:ee:ee', 'up']);
        // proto 107 (k8ts), as the CNI plugin marks it: the routed planner must leave it alone.
        await ip(node.ns, ['route', 'add', `${pod.ip}/32`, 'dev', pod.hostIf, 'scope', 'link', 'proto', '107']);
        await ip(pod.ns, ['addr', 'add', `${pod.ip}/32`, 'dev', 'eth0']);
        await ip(pod.ns, ['route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
        await ip(pod.ns, ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
      }
      node.pods.push(pod);
      return pod;
    },
    async serve(ns, port) {
      servers.push(spawnInNetns(ns, process.execPath, ['-e', ECHO_SERVER, ns, String(port)]));
      for (let tries = 0; ; tries++) {
        const out = await execInNetns(ns, 'ss', ['-Hltn', `sport = :${port}`]);
        if (out.trim()) return;
        if (tries > 100) throw new Error(`echo server in ${ns} did not start`);
        await new Promise((r) => setTimeout(r, 30));
      }
    },
    async send(from, addr, port, size, timeoutMs = 5000) {
      return (await execInNetns(from, process.execPath, ['-e', ECHO_CLIENT, addr, String(port), String(size), String(timeoutMs)])).trim();
    },
    kernel(i) {
      const k = kernels.get(i) ?? rtnlKernel(nodeNs(i));
      if (!kernels.has(i)) { kernels.set(i, k); lab.defer(() => k.close()); }
      return k;
    },
    masq(i) {
      const m = masqs.get(i) ?? new MasqueradeApplier(nodeNs(i));
      if (!masqs.has(i)) { masqs.set(i, m); lab.defer(() => m.close()); }
      return m;
    },
    defer(release) {
      releases.push(release);
    },
    async destroy() {
      for (const release of releases.splice(0).reverse()) await Promise.resolve().then(release).catch(() => undefined);
      await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
      for (const ns of created.reverse()) await deleteNetns(ns).catch(() => undefined);
    },
  };
  try {
    for (const ns of [sw, inet, ...nodes.map((n) => n.ns)]) { await createNetns(ns); created.push(ns); }
    await ip(sw, ['link', 'add', 'br0', 'type', 'bridge']);
    await ip(sw, ['link', 'set', 'br0', 'up']);
    const cable = async (ns: string, port: string, addr: string): Promise<void> => {
      await ip(sw, ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(sw, ['link', 'set', port, 'master', 'br0', 'up']);
      await ip(ns, ['addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await ip(ns, ['link', 'set', 'eth0', 'up']);
    };
    await cable(inet, 'inet', '192.168.77.254');
    for (const [i, n] of nodes.entries()) {
      await cable(n.ns, `n${i + 1}`, n.ip);
      // Every real node has a default route; proxy ARP for 169.254.1.1 (routed pods) needs one too.
      await ip(n.ns, ['route', 'add', 'default', 'via', '192.168.77.254']);
    }
    for (let i = 0; opts.pods && i < nodeCount; i++) {
      const pod = await lab.addPod(i, opts.pods, opts.mtu);
      if (opts.serve !== undefined) await lab.serve(pod.ns, opts.serve);
    }
    if (opts.serve !== undefined) await lab.serve(inet, opts.serve);
    for (let i = 0; opts.masquerade && i < nodeCount; i++) await lab.masq(i).sync(opts.masquerade);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}
