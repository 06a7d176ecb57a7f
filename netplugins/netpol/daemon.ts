// The NetworkPolicy agent of one node: informers on Pods, Namespaces and NetworkPolicies feed a
// bounded-frequency runner; each run compiles the whole state (compile.ts) and the applier sends
// the difference from its last commit as one nf_tables batch. A policy that matches nothing it
// names (a named port no pod defines) is reported once as a Warning Event on the policy.
//
// Bridged traffic. Two pods on one bridge (the VXLAN mode's cni0) talk through the bridge, which
// never calls the IPv4 hooks our table sits on unless br_netfilter's
// net.bridge.bridge-nf-call-iptables is 1 — without it, same-node traffic escapes every policy.
// Each sync makes sure it is 1 in the node's namespace (the sysctl is per namespace since Linux
// 5.3, so this never touches another namespace), which also repairs it if someone turns it off.
// The routed mode has no bridge and does not depend on it.
//
// Design notes. Every node needs every pod's address and labels: a policy on this node's pods
// names peers anywhere in the cluster. Compiling the whole state per run is O(policies × pods) and
// the planner sends only changed chains and set elements; the bench (bench/netpol.ts) holds it
// to the budget. The runner coalesces bursts (a Deployment rollout) into one sync.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { ApiEventRecorder, type EventRecorder } from '../../api/client/events.js';
import { Informer } from '../../api/client/informer.js';
import { resources, type ClusterClient, type ResourceType } from '../../api/client/types.js';
import type { KubeObject } from '../../api/object.js';
import { NfTablesSocket } from '../../kernel/nftables/socket.js';
import { readSysctl, writeSysctl } from '../../kernel/rtnl/index.js';
import { NftablesApplier } from '../../proxy/nftables/apply.js';
import { BoundedFrequencyRunner } from '../../proxy/runner.js';
import { compileNetworkPolicies, NETPOL_TABLE, type PodInfo } from './compile.js';

export const networkPolicies: ResourceType = { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true };

export interface NetpolOptions {
  client: ClusterClient;
  /** Program this named network namespace instead of the current one. */
  netns?: string;
  minSyncMs?: number;
  maxSyncMs?: number;
  recorder?: EventRecorder;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  onSynced?: (info: { ms: number; ops: number }) => void;
}

export function podInfo(p: Pod): PodInfo {
  return {
    namespace: p.metadata?.namespace ?? 'default',
    name: p.metadata?.name ?? '',
    labels: p.metadata?.labels ?? {},
    ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
    hostNetwork: p.spec?.hostNetwork === true,
    ports: (p.spec?.containers ?? []).flatMap(c => (c.ports ?? []).map(x => ({ ...(x.name ? { name: x.name } : {}), containerPort: x.containerPort, ...(x.protocol ? { protocol: x.protocol } : {}) }))),
  };
}

export const BRIDGE_NF_CALL_IPTABLES = 'net/bridge/bridge-nf-call-iptables';

/**
 * Makes bridged IPv4 traffic pass the IPv4 netfilter hooks in `netns` (the current namespace when
 * unset): 'ok' when it already did, 'set' when it was off and is now on, 'unavailable' when the
 * namespace has no such sysctl (br_netfilter not loaded — loading it is the host's decision, as
 * it changes every namespace's default).
 */
export function ensureBridgeNetfilter(netns?: string): 'ok' | 'set' | 'unavailable' {
  let value: string;
  try {
    value = readSysctl(BRIDGE_NF_CALL_IPTABLES, netns);
  } catch (err) {
    if ((err as { errno?: string }).errno === 'ENOENT') return 'unavailable';
    throw err;
  }
  if (value === '1') return 'ok';
  writeSysctl(BRIDGE_NF_CALL_IPTABLES, '1', netns);
  return 'set';
}

export class NetworkPolicyDaemon {
  private readonly pods: Informer<Pod>;
  private readonly namespaces: Informer<Namespace>;
  private readonly policies: Informer<NetworkPolicy>;
  private readonly runner: BoundedFrequencyRunner;
  private readonly recorder: EventRecorder;
  private sock: NfTablesSocket | undefined;
  private applier: NftablesApplier | undefined;
  private reported = new Set<string>();
  private bridgeNfWarned = false;

  constructor(private readonly o: NetpolOptions) {
    this.pods = new Informer<Pod>(o.client, resources.pods);
    this.namespaces = new Informer<Namespace>(o.client, resources.namespaces);
    this.policies = new Informer<NetworkPolicy>(o.client, networkPolicies);
    this.recorder = o.recorder ?? new ApiEventRecorder(o.client, 'k8ts-netpol');
    // A retry replaces the whole table: the failure may have been the table missing or altered
    // behind our back, which an incremental batch cannot repair.
    this.runner = new BoundedFrequencyRunner(reason => this.sync(reason !== 'requested'), {
      minIntervalMs: o.minSyncMs ?? 100, maxIntervalMs: o.maxSyncMs ?? 60_000, retryIntervalMs: 1_000, maxRetryIntervalMs: 30_000,
      onError: (err, attempt) => o.log?.('warn', 'NetworkPolicy sync failed', { err: String(err), attempt }),
    });
    const poke = () => this.runner.run();
    // Only what the compiler reads matters: labels, IPs, host networking and ports of pods.
    this.pods.on({ add: poke, update: (a, b) => { if (podChanged(a, b)) poke(); }, delete: poke });
    this.namespaces.on({ add: poke, update: (a, b) => { if (JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels)) poke(); }, delete: poke });
    this.policies.on({ add: poke, update: poke, delete: poke });
  }

  async start(): Promise<void> {
    this.sock = NfTablesSocket.open(this.o.netns);
    this.applier = new NftablesApplier(this.sock);
    await Promise.all([this.pods.start(), this.namespaces.start(), this.policies.start()]);
    this.runner.start();
  }

  async stop(opts: { cleanup?: boolean } = {}): Promise<void> {
    await this.runner.stop();
    this.pods.stop(); this.namespaces.stop(); this.policies.stop();
    if (opts.cleanup) await this.applier?.cleanup(NETPOL_TABLE).catch(() => undefined);
    this.sock?.close();
  }

  /** A failure here (a read-only /proc/sys) is logged once and never holds up the policies. */
  private syncBridgeNetfilter(): void {
    let warning: string | undefined;
    try {
      const r = ensureBridgeNetfilter(this.o.netns);
      if (r === 'set') this.o.log?.('info', 'set net.bridge.bridge-nf-call-iptables=1: traffic between pods on one bridge was not policed');
      if (r === 'unavailable') warning = 'br_netfilter is not loaded: traffic between pods on one bridge is not policed (modprobe br_netfilter)';
    } catch (err) {
      warning = `cannot set net.bridge.bridge-nf-call-iptables: ${String(err)}; traffic between pods on one bridge may not be policed`;
    }
    if (warning && !this.bridgeNfWarned) this.o.log?.('warn', warning);
    this.bridgeNfWarned = warning !== undefined;
  }

  private async sync(full: boolean): Promise<void> {
    const t0 = performance.now();
    this.syncBridgeNetfilter();
    const { ruleset, problems } = compileNetworkPolicies({
      pods: this.pods.list().map(podInfo),
      namespaces: this.namespaces.list().map(n => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })),
      policies: this.policies.list(),
    });
    const r = await this.applier!.sync(ruleset, { full });
    const now = new Set<string>();
    for (const p of problems) {
      const key = `${p.namespace}/${p.name}: ${p.message}`;
      now.add(key);
      if (this.reported.has(key)) continue;
      const policy = this.policies.list().find(x => x.metadata?.namespace === p.namespace && x.metadata?.name === p.name);
      if (policy) this.recorder.event(policy as KubeObject, 'Warning', 'PolicyMatchesNothing', p.message);
    }
    this.reported = now;
    this.o.onSynced?.({ ms: performance.now() - t0, ops: r.ops });
  }
}

function podChanged(a: Pod, b: Pod): boolean {
  return a.status?.podIP !== b.status?.podIP
    || JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels)
    || (a.spec?.hostNetwork === true) !== (b.spec?.hostNetwork === true)
    || a.metadata?.deletionTimestamp !== b.metadata?.deletionTimestamp;
}
