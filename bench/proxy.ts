// `bench/proxy`, issue 5's whole benchmark set in one run (../shared/ANCHORS.md section 1):
//   nftables      our nftables mode vs the KEP-3866 layout via `nft -f`: full sync, one-service
//                 change, peak RSS at S × 10 (./proxy-nftables.ts)
//   iptables      our iptables mode vs upstream's iptables layout via iptables-nft-restore and
//                 iptables-legacy-restore: the same figures (./proxy-iptables.ts)
//   latency       network programming latency, API write → rule live, p50/p99, with the real
//                 apiserver and `k8ts proxy` in both modes (./proxy-programming-latency.ts)
//   first-packet  TCP connect to the last ClusterIP with 10 vs 10 000 Services, ours vs upstream's
//                 iptables layout (./proxy-first-packet.ts)
// Each part runs its anchors in the same run, every case in a fresh network namespace of its own
// (removed afterwards, also on SIGINT/SIGTERM or failure); the load average is taken at the start
// and end of each part. One summary table (markdown) with ours, anchor, ratio, the goals
// and met/not met; one results file bench/results/proxy-<date>.json. The run/report loop is
// ./workload.ts's, shared with the single-part entries (npm run bench:proxy-nftables, …).
//
// Usage: npm run bench:proxy [-- --quick] [--parts nftables,iptables,latency,first-packet]
//   nftables/iptables: --sizes 1000,10000 --anchor-sizes 1000,10000 --backends nft,legacy --runs 3
//   latency:           --latency-services 10000 --latency-endpoints 10 --changes 200 --modes nftables,iptables
//   first-packet:      --fp-sizes 10,10000 --fp-runs 3 --connects 2000 --layouts nftables,iptables,upstream-iptables,direct
// Defaults are the full workload (10 000 × 10 and 1 000 × 10); --quick takes small sizes.
import { firstPacketOptions, firstPacketPart } from './proxy-first-packet.js';
import { iptablesOptions, iptablesPart } from './proxy-iptables.js';
import { nftablesOptions, nftablesPart } from './proxy-nftables.js';
import { latencyOptions, latencyPart } from './proxy-programming-latency.js';
import { arg, benchEntry, hasFlag, runParts, type Part } from './workload.js';

await benchEntry(import.meta.url, {}, async () => {
  const quick = hasFlag('quick');
  const want = arg('parts', 'nftables,iptables,latency,first-packet').split(',');
  const nft = nftablesOptions(quick);
  const ipt = iptablesOptions(quick);
  const lat = latencyOptions(quick);
  const fp = firstPacketOptions(quick);
  const all: Part[] = [
    { name: 'nftables', run: () => nftablesPart(nft) },
    { name: 'iptables', run: () => iptablesPart(ipt) },
    { name: 'latency', run: () => latencyPart(lat) },
    { name: 'first-packet', run: () => firstPacketPart(fp) },
  ];
  const unknown = want.filter((w) => !all.some((p) => p.name === w));
  if (unknown.length) throw new Error(`unknown --parts ${unknown.join(',')}`);
  const chosen = all.filter((p) => want.includes(p.name));
  // A run of some parts only never overwrites the day's whole run.
  const name = chosen.length === all.length ? 'proxy' : `proxy-${chosen.map((p) => p.name).join('+')}`;
  await runParts(name, chosen, { quick, parts: want, nftables: nft, iptables: ipt, latency: lat, firstPacket: fp });
});
