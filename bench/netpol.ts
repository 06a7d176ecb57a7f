// NetworkPolicy programming and its cost on the data path (issue: bench/netpol).
//
// - Sync: 1 000 policies over 5 000 pods in 50 namespaces, compiled (netplugins/netpol/compile.ts)
//   and committed over netlink into a fresh network namespace: full sync, one policy changed, one
//   pod's label changed (each = compile of the whole state + plan + one transaction, as the daemon
//   does). Medians of 3.
// - Data path: TCP connections per second from a client namespace to a backend through the node
//   namespace, with no policy, and with the backend selected by a policy that admits the client
//   (plus the 1 000 unrelated policies loaded). The same lab, the same run; the ratio is the cost.
//
// Usage: npm run bench:netpol [-- --runs 3 --policies 1000 --pods 5000 --connects 400]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { createNetns, deleteNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { createLab } from '../kernel/testlab.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { compileNetworkPolicies, type NamespaceInfo, type NetpolState, type PodInfo } from '../netplugins/netpol/compile.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const POLICIES = arg('policies', 1000);
const PODS = arg('pods', 5000);
const CONNECTS = arg('connects', 400);
const NAMESPACES = 50;
const APPS = 100;
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

function workload(): NetpolState {
  const namespaces: NamespaceInfo[] = Array.from({ length: NAMESPACES }, (_, i) => ({ name: `ns-${i}`, labels: { team: `t${i % 10}` } }));
  const pods: PodInfo[] = Array.from({ length: PODS }, (_, i) => ({
    namespace: `ns-${i % NAMESPACES}`, name: `pod-${i}`, ip: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
    labels: { app: `a${i % APPS}`, tier: i % 3 === 0 ? 'web' : 'backend' }, ports: [{ name: 'http', containerPort: 8080 }],
  }));
  const policies: NetworkPolicy[] = Array.from({ length: POLICIES }, (_, i) => ({
    metadata: { namespace: `ns-${i % NAMESPACES}`, name: `pol-${i}` },
    spec: {
      podSelector: { matchLabels: { app: `a${i % APPS}` } },
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { team: `t${i % 10}` } }, podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 'http' }] },
        { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.${i % 250}.0.0/16`] } }], ports: [{ port: 9000 + (i % 100) }] },
      ],
    },
  }));
  return { pods, namespaces, policies };
}

interface SyncTimes { full: number; policy: number; label: number; compileMs: number; ops: { full: number; policy: number; label: number }; chains: number; elements: number }

async function syncTimes(): Promise<SyncTimes> {
  const ns = `k8ts-bench-np-${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  const sock = NfTablesSocket.open(ns);
  try {
    const applier = new NftablesApplier(sock);
    const state = workload();
    const timed = async (s: NetpolState) => {
      const t0 = performance.now();
      const { ruleset } = compileNetworkPolicies(s);
      const r = await applier.sync(ruleset);
      return { ms: performance.now() - t0, ops: r.ops, ruleset };
    };
    const c0 = performance.now();
    compileNetworkPolicies(state);
    const compileMs = performance.now() - c0;
    const full = await timed(state);
    const changedPolicy = { ...state, policies: state.policies.map((p, i) => (i === 7 ? { ...p, spec: { ...p.spec!, ingress: [{ ports: [{ port: 1234 }] }] } } : p)) };
    const policy = await timed(changedPolicy);
    const relabelled = { ...changedPolicy, pods: changedPolicy.pods.map((p, i) => (i === 43 ? { ...p, labels: { ...p.labels, tier: 'web' } } : p)) };
    const label = await timed(relabelled);
    const elements = full.ruleset.sets.reduce((n, s) => n + s.elements.length, 0);
    return { full: full.ms, policy: policy.ms, label: label.ms, compileMs, ops: { full: full.ops, policy: policy.ops, label: label.ops }, chains: full.ruleset.chains.length, elements };
  } finally {
    sock.close();
    await deleteNetns(ns);
  }
}

async function connectionRates(): Promise<{ open: number; policed: number }> {
  const lab = await createLab(1);
  const sock = NfTablesSocket.open(lab.node);
  try {
    await lab.startServers(7100);
    const applier = new NftablesApplier(sock);
    const rate = async () => {
      const t0 = performance.now();
      const answers = await lab.connectMany(lab.backendIP(1), 7100, CONNECTS, 2000);
      const bad = answers.filter(a => a.startsWith('ERR'));
      if (bad.length) throw new Error(`${bad.length} connections failed: ${bad[0]}`);
      return CONNECTS / ((performance.now() - t0) / 1000);
    };
    const base = workload();
    const pods: PodInfo[] = [
      { namespace: 'prod', name: 'backend', ip: lab.backendIP(1), labels: { app: 'backend' }, ports: [] },
      { namespace: 'prod', name: 'client', ip: lab.clientIP, labels: { role: 'client' }, ports: [] },
      ...base.pods,
    ];
    const namespaces = [...base.namespaces, { name: 'prod', labels: {} }];
    const open: number[] = [], policed: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await applier.sync(compileNetworkPolicies({ pods, namespaces, policies: base.policies }).ruleset);
      open.push(await rate());
      const admit: NetworkPolicy = { metadata: { namespace: 'prod', name: 'admit-client' }, spec: { podSelector: { matchLabels: { app: 'backend' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 7100 }] }] } };
      await applier.sync(compileNetworkPolicies({ pods, namespaces, policies: [...base.policies, admit] }).ruleset);
      policed.push(await rate());
    }
    return { open: median(open), policed: median(policed) };
  } finally {
    sock.close();
    await lab.destroy();
  }
}

async function main(): Promise<void> {
  const runs: SyncTimes[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await syncTimes());
  const m = (k: 'full' | 'policy' | 'label') => median(runs.map(r => r[k]));
  const rates = await connectionRates();
  const result = {
    date: new Date().toISOString(), policies: POLICIES, pods: PODS, namespaces: NAMESPACES, runs: RUNS,
    chains: runs[0]!.chains, elements: runs[0]!.elements, ops: runs[0]!.ops,
    compileMs: median(runs.map(r => r.compileMs)), fullSyncMs: m('full'), onePolicyMs: m('policy'), onePodLabelMs: m('label'),
    connectsPerSecond: { unpoliced: rates.open, policed: rates.policed, ratio: rates.policed / rates.open },
  };
  console.log(`NetworkPolicy sync, ${POLICIES} policies over ${PODS} pods (${result.chains} chains, ${result.elements} set elements), medians of ${RUNS}:`);
  console.log(`  compile alone ${result.compileMs.toFixed(0)} ms | full sync ${result.fullSyncMs.toFixed(0)} ms | one policy changed ${result.onePolicyMs.toFixed(1)} ms (${result.ops.policy} ops) | one pod label changed ${result.onePodLabelMs.toFixed(1)} ms (${result.ops.label} ops)`);
  console.log(`connections/s to one backend: unpoliced ${rates.open.toFixed(0)}, policed ${rates.policed.toFixed(0)} (×${result.connectsPerSecond.ratio.toFixed(2)})`);
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', `netpol-${result.date.slice(0, 10)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();
