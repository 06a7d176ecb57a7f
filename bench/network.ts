// Pod network throughput (issue 4: bench/network): iperf3, one TCP stream, against its anchor in
// the same run (ANCHORS.md §2):
// - raw veth between two fresh network namespaces (the ceiling);
// - per mode (vxlan, routed), on a real 3-node `k8ts lab` whose pods the kubelets and k8ts-cni
//   made: node-to-node over the lab's underlay (context), pod-to-pod on one node, pod-to-pod
//   across nodes; and the time `k8ts lab up` takes to a Ready 3-node cluster;
// - per mode, the bare-topology ceiling: the same hops as the cross-node path (pod veth → node →
//   underlay veth → switch bridge → node → pod veth, plus the VXLAN device in vxlan mode) built by
//   hand on the lab's own underlay code, with plain kernel forwarding and nothing of k8ts (no
//   agent, no nftables table, hence no conntrack). It separates what the topology costs on this
//   machine from what our rules and devices add.
// iperf3 runs in the pods' own network namespaces (the kubelet's `<prefix><pod uid>` under
// /run/netns): the path measured is the pod's, no exec machinery in between. The anchor is
// re-measured in each round, interleaved with the lab paths, so machine drift hits both alike.
// Goals: cross-node routed ≥ 90 % and VXLAN ≥ 80 % of raw veth; lab up ≤ 20 s.
//
// Usage: npm run bench:network [-- --runs 3 --seconds 3 --modes vxlan,routed]
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { clientFromKubeconfig } from '../api/client/https.js';
import { resources } from '../api/client/types.js';
import { createNetns, deleteNetns, execInNetns, run, spawnInNetns, type NetnsProcess } from '../kernel/netns.js';
import { buildUnderlay, labDown, labUp } from '../test-vm/lab/lab.js';
import { planLab } from '../test-vm/lab/plan.js';
import { ROUTED_GATEWAY, ROUTED_HOST_MAC } from '../cni/result.js';
import { VXLAN_DEVICE, VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI } from '../netplugins/vxlan/plan.js';
import { testImageName } from '../test/images/build-busybox-image.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const RUNS = Number(arg('runs', '3'));
const SECONDS = Number(arg('seconds', '3'));
const MODES = arg('modes', 'vxlan,routed').split(',') as ('vxlan' | 'routed')[];
const PORT = 5201;
const GOALS: Record<string, number> = { vxlan: 0.8, routed: 0.9 };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const servers: NetnsProcess[] = [];

async function iperfServer(ns: string): Promise<void> {
  servers.push(spawnInNetns(ns, 'iperf3', ['-s', '-p', String(PORT)]));
  for (let i = 0; ; i++) {
    if ((await execInNetns(ns, 'ss', ['-Hltn', `sport = :${PORT}`])).trim()) return;
    if (i > 100) throw new Error(`iperf3 server in ${ns} did not start`);
    await sleep(50);
  }
}

/** One TCP stream for SECONDS from `ns` to addr; Gbit/s received. */
async function iperf(ns: string, addr: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const out = JSON.parse(await execInNetns(ns, 'iperf3', ['-c', addr, '-p', String(PORT), '-t', String(SECONDS), '-J'])) as { end: { sum_received: { bits_per_second: number } } };
      return out.end.sum_received.bits_per_second / 1e9;
    } catch (err) {
      // "the server is busy running a test": the previous client's session is still closing.
      if (attempt >= 5) throw err;
      await sleep(300);
    }
  }
}

/** The anchor: a veth pair between two fresh namespaces. */
async function rawVeth(): Promise<{ client: string; addr: string; destroy(): Promise<void> }> {
  const id = randomBytes(3).toString('hex');
  const a = `k8ts-bench-net-${id}-a`;
  const b = `k8ts-bench-net-${id}-b`;
  await createNetns(a);
  await createNetns(b);
  await execInNetns(a, 'ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
  for (const [ns, ip] of [[a, '10.99.0.1'], [b, '10.99.0.2']] as const) {
    await execInNetns(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await execInNetns(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await execInNetns(ns, 'ip', ['link', 'set', 'lo', 'up']);
  }
  await iperfServer(b);
  return { client: a, addr: '10.99.0.2', async destroy() { await deleteNetns(a).catch(() => undefined); await deleteNetns(b).catch(() => undefined); } };
}

/**
 * The bare-topology ceiling of `mode` (see the header): two nodes of the lab's underlay
 * (buildUnderlay, the very code `k8ts lab up` runs), one hand-made pod on each, wired as k8ts-cni
 * and the netplugin wire theirs, minus everything that is not a link, address, route, neighbour or
 * FDB entry.
 *   routed: pod eth0 IP/32, default via 169.254.1.1 (static neighbour) ═ host veth ee:ee:…, /32
 *           route; peer block via the peer node's address.
 *   vxlan:  pod eth0 (underlay MTU − 50) ═ host veth on bridge k8ts0 (hairpin) holding the gateway;
 *           VXLAN device (VNI 1, port 8472, nolearning), neighbour + FDB + onlink route to the peer.
 */
async function bareTopology(mode: 'vxlan' | 'routed'): Promise<{ client: string; addr: string; destroy(): Promise<void> }> {
  const plan = planLab({ name: `bb${mode.slice(0, 2)}${randomBytes(2).toString('hex')}`, nodes: 2, network: mode, proxy: 'nftables', cni: 'k8ts', index: 250 });
  const pods = plan.nodes_.map((n) => `${n.netnsPrefix}bare`);
  const all = [plan.switchNetns, ...plan.nodes_.map((n) => n.netns), ...pods];
  const destroy = async (): Promise<void> => { for (const ns of all) await deleteNetns(ns).catch(() => undefined); };
  const ip = (ns: string, lines: string[]): Promise<string> => run('ip', ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
  const block = (k: number): string => `10.42.${k}`; // node k (0-based) has 10.42.k.0/24, its pod .2
  const vtepMac = (k: number): string => `02:6b:38:00:00:${(k + 1).toString(16).padStart(2, '0')}`;
  try {
    await buildUnderlay(plan);
    const mtu = mode === 'vxlan' ? 1500 - VXLAN_OVERHEAD : 1500;
    for (const [k, n] of plan.nodes_.entries()) {
      const pod = pods[k]!;
      const peer = plan.nodes_[1 - k]!;
      await createNetns(pod);
      if (mode === 'routed') {
        await ip(n.netns, [`link add h0 address ${ROUTED_HOST_MAC} mtu ${mtu} type veth peer name eth0 netns ${pod}`, 'link set h0 up',
          `route add ${block(k)}.2/32 dev h0 scope link`, `route add ${block(1 - k)}.0/24 via ${peer.ip}`]);
        await ip(pod, ['link set lo up', `addr add ${block(k)}.2/32 dev eth0`, 'link set eth0 up', `route add ${ROUTED_GATEWAY} dev eth0 scope link`,
          `neigh replace ${ROUTED_GATEWAY} lladdr ${ROUTED_HOST_MAC} dev eth0 nud permanent`, `route add default via ${ROUTED_GATEWAY} dev eth0`]);
      } else {
        await ip(n.netns, ['link add k8ts0 type bridge', `link set k8ts0 mtu ${mtu} up`, `addr add ${block(k)}.1/24 dev k8ts0`,
          `link add h0 mtu ${mtu} type veth peer name eth0 netns ${pod}`, 'link set h0 master k8ts0', 'link set h0 type bridge_slave hairpin on', 'link set h0 up',
          `link add ${VXLAN_DEVICE} address ${vtepMac(k)} mtu ${mtu} type vxlan id ${VXLAN_VNI} local ${n.ip} dev eth0 dstport ${VXLAN_PORT} nolearning`,
          `link set ${VXLAN_DEVICE} up`, `addr add ${block(k)}.0/32 dev ${VXLAN_DEVICE}`,
          `neigh replace ${block(1 - k)}.0 lladdr ${vtepMac(1 - k)} dev ${VXLAN_DEVICE} nud permanent`]);
        await run('bridge', ['-n', n.netns, 'fdb', 'append', vtepMac(1 - k), 'dev', VXLAN_DEVICE, 'dst', peer.ip, 'self', 'permanent']);
        await ip(n.netns, [`route add ${block(1 - k)}.0/24 via ${block(1 - k)}.0 dev ${VXLAN_DEVICE} onlink`]);
        await ip(pod, ['link set lo up', `addr add ${block(k)}.2/24 dev eth0`, 'link set eth0 up', `route add default via ${block(k)}.1`]);
      }
    }
    await iperfServer(pods[1]!);
    return { client: pods[0]!, addr: `${block(1)}.2`, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

interface ModeResult { mode: string; labUpMs: number; gbps: { raw: number[]; bare: number[]; node: number[]; sameNode: number[]; crossNode: number[] } }

async function benchMode(mode: 'vxlan' | 'routed', raw: { client: string; addr: string }): Promise<ModeResult> {
  const name = `bn${mode.slice(0, 2)}${randomBytes(2).toString('hex')}`;
  const mine = servers.length; // the anchor's server stays for the next mode
  const bare = await bareTopology(mode);
  let st;
  try {
    st = await labUp({ name, nodes: 3, network: mode, proxy: 'nftables' }, () => undefined);
  } catch (err) {
    await Promise.all(servers.splice(mine).map((s) => s.stop().catch(() => undefined)));
    await bare.destroy();
    throw err;
  }
  const conn = clientFromKubeconfig(st.kubeconfig!, { userAgent: 'k8ts-bench-network' });
  try {
    const nodes = st.plan.nodes_;
    const layout: [string, number][] = [['srv', 1], ['same', 1], ['cross', 0]];
    for (const [pod, i] of layout) {
      await conn.client.create<Pod>(resources.pods, 'default', {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: pod },
        spec: { nodeName: nodes[i]!.name, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] },
      });
    }
    const netnsOf = new Map<string, { ns: string; ip: string }>();
    for (let t = 0; netnsOf.size < layout.length; t++) {
      if (t > 600) throw new Error('pods did not start');
      for (const p of (await conn.client.list<Pod>(resources.pods, 'default')).items) {
        const i = layout.find(([n]) => n === p.metadata!.name)![1];
        if (p.status?.phase === 'Running' && p.status.podIP) netnsOf.set(p.metadata!.name!, { ns: `${nodes[i]!.netnsPrefix}${p.metadata!.uid!}`, ip: p.status.podIP });
      }
      await sleep(200);
    }
    const srv = netnsOf.get('srv')!;
    await iperfServer(srv.ns);
    await iperfServer(nodes[1]!.netns);
    const gbps: ModeResult['gbps'] = { raw: [], bare: [], node: [], sameNode: [], crossNode: [] };
    for (let r = 0; r < RUNS; r++) {
      gbps.raw.push(await iperf(raw.client, raw.addr));
      gbps.bare.push(await iperf(bare.client, bare.addr));
      gbps.node.push(await iperf(nodes[0]!.netns, nodes[1]!.ip));
      gbps.sameNode.push(await iperf(netnsOf.get('same')!.ns, srv.ip));
      gbps.crossNode.push(await iperf(netnsOf.get('cross')!.ns, srv.ip));
    }
    return { mode, labUpMs: st.upMs ?? 0, gbps };
  } finally {
    conn.transport.close();
    await Promise.all(servers.splice(mine).map((s) => s.stop().catch(() => undefined)));
    await labDown(name, () => undefined);
    await bare.destroy();
  }
}

async function main(): Promise<void> {
  const raw = await rawVeth();
  const results: ModeResult[] = [];
  try {
    for (const mode of MODES) results.push(await benchMode(mode, raw));
  } finally {
    await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => undefined)));
    await raw.destroy();
  }
  console.log(`iperf3, one TCP stream, ${SECONDS} s per run, medians of ${RUNS} (Gbit/s; % = median over rounds of path / raw veth of that round):`);
  const summary = results.map((r) => {
    const m = { raw: median(r.gbps.raw), bare: median(r.gbps.bare), node: median(r.gbps.node), sameNode: median(r.gbps.sameNode), crossNode: median(r.gbps.crossNode) };
    // Ratios pair each path with the anchor of its own round (medians of those): the machine's load
    // drifts between rounds by more than the paths differ.
    const paired = (xs: number[]): number => median(xs.map((x, i) => x / r.gbps.raw[i]!));
    const ratio = { bare: paired(r.gbps.bare), node: paired(r.gbps.node), sameNode: paired(r.gbps.sameNode), crossNode: paired(r.gbps.crossNode) };
    // Ours against the topology's own ceiling, paired the same way.
    const crossOverBare = median(r.gbps.crossNode.map((x, i) => x / r.gbps.bare[i]!));
    const goal = GOALS[r.mode]!;
    console.log(`  ${r.mode.padEnd(6)} raw veth ${m.raw.toFixed(2)} | node-to-node ${m.node.toFixed(2)} (${(ratio.node * 100).toFixed(0)} %) | pod-to-pod same node ${m.sameNode.toFixed(2)} (${(ratio.sameNode * 100).toFixed(0)} %) | pod-to-pod cross-node ${m.crossNode.toFixed(2)} (${(ratio.crossNode * 100).toFixed(0)} %, goal ≥ ${goal * 100} %: ${ratio.crossNode >= goal ? 'met' : 'NOT met'}; ${(crossOverBare * 100).toFixed(0)} % of bare) | bare topology, same hops, no k8ts ${m.bare.toFixed(2)} (${(ratio.bare * 100).toFixed(0)} %) | lab up ${(r.labUpMs / 1000).toFixed(1)} s (goal ≤ 20 s)`);
    return { mode: r.mode, labUpMs: r.labUpMs, runs: r.gbps, medians: m, ratios: ratio, crossOverBare, goal, goalMet: ratio.crossNode >= goal };
  });
  const result = { date: new Date().toISOString(), tool: 'iperf3', streams: 1, seconds: SECONDS, runs: RUNS, results: summary };
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', `network-${result.date.slice(0, 10)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();
