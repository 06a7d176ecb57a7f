// Pod network throughput (issue 4: bench/network): iperf3, one TCP stream, against its anchor in
// the same run (ANCHORS.md §2):
// - raw veth between two fresh network namespaces (the ceiling);
// - per mode (vxlan, routed), on a real 3-node `k8ts lab` whose pods the kubelets and k8ts-cni
//   made: node-to-node over the lab's underlay (context), pod-to-pod on one node, pod-to-pod
//   across nodes; and the time `k8ts lab up` takes to a Ready 3-node cluster.
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
import { createNetns, deleteNetns, execInNetns, spawnInNetns, type NetnsProcess } from '../kernel/netns.js';
import { labDown, labUp } from '../test-vm/lab/lab.js';
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

interface ModeResult { mode: string; labUpMs: number; gbps: { raw: number[]; node: number[]; sameNode: number[]; crossNode: number[] } }

async function benchMode(mode: 'vxlan' | 'routed', raw: { client: string; addr: string }): Promise<ModeResult> {
  const name = `bn${mode.slice(0, 2)}${randomBytes(2).toString('hex')}`;
  const st = await labUp({ name, nodes: 3, network: mode, proxy: 'nftables' }, () => undefined);
  const mine = servers.length; // the anchor's server stays for the next mode
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
    const gbps: ModeResult['gbps'] = { raw: [], node: [], sameNode: [], crossNode: [] };
    for (let r = 0; r < RUNS; r++) {
      gbps.raw.push(await iperf(raw.client, raw.addr));
      gbps.node.push(await iperf(nodes[0]!.netns, nodes[1]!.ip));
      gbps.sameNode.push(await iperf(netnsOf.get('same')!.ns, srv.ip));
      gbps.crossNode.push(await iperf(netnsOf.get('cross')!.ns, srv.ip));
    }
    return { mode, labUpMs: st.upMs ?? 0, gbps };
  } finally {
    conn.transport.close();
    await Promise.all(servers.splice(mine).map((s) => s.stop().catch(() => undefined)));
    await labDown(name, () => undefined);
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
    const m = { raw: median(r.gbps.raw), node: median(r.gbps.node), sameNode: median(r.gbps.sameNode), crossNode: median(r.gbps.crossNode) };
    // Ratios pair each path with the anchor of its own round (medians of those): the machine's load
    // drifts between rounds by more than the paths differ.
    const paired = (xs: number[]): number => median(xs.map((x, i) => x / r.gbps.raw[i]!));
    const ratio = { node: paired(r.gbps.node), sameNode: paired(r.gbps.sameNode), crossNode: paired(r.gbps.crossNode) };
    const goal = GOALS[r.mode]!;
    console.log(`  ${r.mode.padEnd(6)} raw veth ${m.raw.toFixed(2)} | node-to-node ${m.node.toFixed(2)} (${(ratio.node * 100).toFixed(0)} %) | pod-to-pod same node ${m.sameNode.toFixed(2)} (${(ratio.sameNode * 100).toFixed(0)} %) | pod-to-pod cross-node ${m.crossNode.toFixed(2)} (${(ratio.crossNode * 100).toFixed(0)} %, goal ≥ ${goal * 100} %: ${ratio.crossNode >= goal ? 'met' : 'NOT met'}) | lab up ${(r.labUpMs / 1000).toFixed(1)} s (goal ≤ 20 s)`);
    return { mode: r.mode, labUpMs: r.labUpMs, runs: r.gbps, medians: m, ratios: ratio, goal, goalMet: ratio.crossNode >= goal };
  });
  const result = { date: new Date().toISOString(), tool: 'iperf3', streams: 1, seconds: SECONDS, runs: RUNS, results: summary };
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', `network-${result.date.slice(0, 10)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();
