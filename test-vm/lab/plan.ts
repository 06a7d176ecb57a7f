// The layout of a `k8ts lab`: every name, address, folder and command line of a lab, computed
// from its name, index and options alone, so that `up`, `down` (also after a crash) and `exec`
// agree on what belongs to the lab. Pure: no I/O.
//
//   [switch netns k8ts-lab-NAME-sw]  bridge br0 172.30.L.1/24 (the nodes' default gateway)
//        │ veth nI ─── eth0 [node netns k8ts-lab-NAME-nI] 172.30.L.(10+I)/24
//
// Node 1 runs `k8ts server` (with its own agent and proxy); every other node `k8ts agent` and
// `k8ts proxy`. Every node has its own data dir, containerd, CNI folders, pod log folder and pod
// network namespace prefix, so several labs (and the host's own k8ts) never share anything.

export const labRoot = '/var/lib/k8ts-lab';
export const networkModes = ['vxlan', 'routed', 'bridge-local'] as const;
export type LabNetwork = (typeof networkModes)[number];
export const proxyModes = ['nftables', 'iptables'] as const;
export type LabProxy = (typeof proxyModes)[number];

export const cniPlugins = ['k8ts', 'reference'] as const;
/** k8ts: our k8ts-cni (installed into the lab's folder); reference: Debian's bridge/ptp + host-local. */
export type LabCni = (typeof cniPlugins)[number];

export const clusterCIDR = '10.42.0.0/16';
export const serviceCIDR = '10.43.0.0/16';
/** The kube-dns Service IP (the 10th of serviceCIDR, the server's default). Every node's kubelet
 * must be told it, as upstream's kubelet is: without `--cluster-dns` an agent's ClusterFirst pods
 * fall back to the node's resolv.conf and cannot resolve cluster names (issue 7). */
export const clusterDNS = '10.43.0.10';
export const apiPort = 6443;

/**
 * The switch namespace's settings. It routes to whatever a test cables to it as "the outside
 * world" (ip_forward), and its bridge is a plain L2 switch: br_netfilter defaults
 * bridge-nf-call-{iptables,ip6tables,arptables} to 1 in every new namespace, which sends each
 * bridged underlay frame through the IP netfilter hooks (a fake route, an skb extension, three hook
 * passes) although nothing filters there — a real switch runs no firewall, and that per-packet
 * cost would be charged to every cross-node path the lab measures (bench/network). The bridge keys
 * are optional: without br_netfilter they do not exist, and the switch already behaves so.
 */
export const switchSysctls: { readonly required: readonly string[]; readonly optional: readonly string[] } = {
  required: ['net.ipv4.ip_forward=1'],
  optional: ['net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0'],
};

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/;

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export function checkLabName(name: string): void {
  if (!NAME_RE.test(name)) throw new LabError(`invalid lab name "${name}": 1-12 lower-case letters, digits or '-', starting and ending with a letter or digit`);
}

export interface LabOptions {
  name: string;
  nodes: number;
  network: LabNetwork;
  proxy: LabProxy;
  cni: LabCni;
  /** 1..254: the third octet of the underlay 172.30.<index>.0/24, unique among live labs. */
  index: number;
}

export interface NodePlan {
  /** 1-based. */
  i: number;
  /** The Kubernetes Node name. */
  name: string;
  netns: string;
  /** Port name on the switch's bridge (inside the switch namespace, so short names never clash). */
  switchPort: string;
  ip: string;
  dir: string;
  /** The agent's data dir (the server's agent: `<server data dir>/agent`). */
  agentDataDir: string;
  cniConfDir: string;
  podLogDir: string;
  netnsPrefix: string;
  log: string;
  proxyLog: string;
  role: 'server' | 'agent';
}

export interface LabPlan extends LabOptions {
  dir: string;
  stateFile: string;
  switchNetns: string;
  bridge: string;
  gateway: string;
  subnet: string;
  serverDataDir: string;
  serverURL: string;
  /** Where the lab installs k8ts-cni, and the bin dirs its nodes search (colon-separated). */
  cniBinDir: string;
  cniBinDirs: string;
  nodes_: NodePlan[];
}

/** The whole layout of lab `o.name`. */
export function planLab(o: LabOptions): LabPlan {
  checkLabName(o.name);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 50) throw new LabError(`invalid node count ${o.nodes}: 1-50`);
  if (!Number.isInteger(o.index) || o.index < 1 || o.index > 254) throw new LabError(`invalid lab index ${o.index}`);
  const dir = `${labRoot}/${o.name}`;
  const base = `172.30.${o.index}`;
  const serverDataDir = `${dir}/n1/server`;
  const nodes = Array.from({ length: o.nodes }, (_, k): NodePlan => {
    const i = k + 1;
    const ndir = `${dir}/n${i}`;
    return {
      i, name: `${o.name}-n${i}`, netns: `k8ts-lab-${o.name}-n${i}`, switchPort: `n${i}`, ip: `${base}.${10 + i}`, dir: ndir,
      agentDataDir: i === 1 ? `${serverDataDir}/agent` : `${ndir}/agent`,
      cniConfDir: `${ndir}/cni-conf`, podLogDir: `${ndir}/pod-logs`,
      // ≤ 28 characters, so prefix + a pod uid fits a 64-character namespace name.
      netnsPrefix: `k8ts-lab-${o.name}-n${i}-`,
      log: `${ndir}/${i === 1 ? 'server' : 'agent'}.log`, proxyLog: `${ndir}/proxy.log`,
      role: i === 1 ? 'server' : 'agent',
    };
  });
  return {
    ...o, dir, stateFile: `${dir}/lab.json`, switchNetns: `k8ts-lab-${o.name}-sw`, bridge: 'br0',
    gateway: `${base}.1`, subnet: `${base}.0/24`, serverDataDir, serverURL: `https://${nodes[0]!.ip}:${apiPort}`,
    cniBinDir: `${dir}/cni-bin`, cniBinDirs: o.cni === 'k8ts' ? `${dir}/cni-bin:/usr/lib/cni` : '/usr/lib/cni',
    nodes_: nodes,
  };
}

/** The first free underlay index given those of the labs that exist. */
export function pickIndex(used: readonly number[]): number {
  for (let i = 1; i <= 254; i++) if (!used.includes(i)) return i;
  throw new LabError('254 labs exist already');
}

/** `k8ts server` on node 1: argv after the k8ts binary. */
export function serverArgs(p: LabPlan): string[] {
  const n = p.nodes_[0]!;
  return ['server', '--data-dir', p.serverDataDir, '--node-name', n.name, '--network', p.network,
    '--cluster-cidr', clusterCIDR, '--service-cidr', serviceCIDR, '--cluster-dns', clusterDNS, '--https-port', String(apiPort),
    '--cni-conf-dir', n.cniConfDir, '--cni-bin-dir', p.cniBinDirs, '--pod-log-dir', n.podLogDir, '--netns-prefix', n.netnsPrefix,
    '--proxy-mode', p.proxy, '--log-format', 'json'];
}

/** `k8ts agent` on node `n` (≥ 2). */
export function agentArgs(p: LabPlan, n: NodePlan): string[] {
  return ['agent', '--server', p.serverURL, '--token-file', `${p.serverDataDir}/token`, '--server-ca', `${p.serverDataDir}/tls/ca.crt`,
    '--node-name', n.name, '--node-ip', n.ip, '--data-dir', n.agentDataDir, '--network', p.network, '--cluster-cidr', clusterCIDR,
    '--cluster-dns', clusterDNS, '--cni-conf-dir', n.cniConfDir, '--cni-bin-dir', p.cniBinDirs, '--pod-log-dir', n.podLogDir, '--netns-prefix', n.netnsPrefix,
    // The lab runs each node's proxy as its own `k8ts proxy` process (proxyArgs).
    '--disable-kube-proxy', '--log-format', 'json'];
}

/** `k8ts proxy` on node `n` (≥ 2; the server runs node 1's proxy itself). */
export function proxyArgs(p: LabPlan, n: NodePlan, kubeconfig: string): string[] {
  return ['proxy', '--kubeconfig', kubeconfig, '--proxy-mode', p.proxy, '--node-name', n.name, '--cluster-cidr', clusterCIDR, '--service-cidr', serviceCIDR];
}

/** Finds a node by `n2`, `2` or its Node name. */
export function findNode(p: LabPlan, ref: string): NodePlan {
  const n = p.nodes_.find(x => x.name === ref || `n${x.i}` === ref || String(x.i) === ref);
  if (!n) throw new LabError(`lab "${p.name}" has no node "${ref}" (nodes: ${p.nodes_.map(x => x.name).join(', ')})`);
  return n;
}

/** Replaces the `server:` URL of a kubeconfig (the admin one the server wrote). */
export function withServer(kubeconfig: string, url: string): string {
  return kubeconfig.replace(/^(\s*server:\s*).*$/m, `$1${url}`);
}
