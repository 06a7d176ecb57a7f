// The network configuration list the agent writes to /etc/cni/net.d for k8ts-cni. Pure.
//
// Version choice: `cniVersion` 1.0.0, which every runtime and our kubelet's CNI client speak, plus
// `cniVersions: ["1.0.0", "1.1.0"]` so a runtime that knows 1.1 (containerd ≥ 2.0) selects it and
// sends GC and STATUS. With portmap chained we stay at 1.0.0 only: Debian's portmap (plugins 1.1.1)
// rejects 1.1.0, and a runtime would pick the highest listed version for the whole chain.
//
// portmap is opt-in: it is the reference way to serve `hostPort` (capability `portMappings`), but
// it programs iptables and must exist in the CNI bin dir, or every ADD of the chain fails.

/** The agent's ConfListInput (agent/network.ts) fits: its other fields (clusterCIDR, k8tsCni) are ignored. */
export interface ConflistInput {
  /** bridge (also accepted: the agent's bridge-local and vxlan, which attach pods to a bridge) or routed. */
  mode: 'bridge' | 'routed' | 'bridge-local' | 'vxlan';
  /** The node's spec.podCIDR. */
  podCIDR: string;
  /** Pod MTU: the underlay's, or the overlay's (underlay − 50) in vxlan mode. Default 1500. */
  mtu?: number;
  /** Network name (default "k8ts"); also the IPAM directory's name. */
  name?: string;
  /** Bridge name in bridge mode (default cni0). */
  bridge?: string;
  /** IPAM state directory (default /var/lib/k8ts/cni/networks). */
  ipamDataDir?: string;
  /** Chain Debian's portmap plugin for hostPort (default false). */
  portmap?: boolean;
}

export interface Conflist {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  plugins: Record<string, unknown>[];
}

export function renderConflist(input: ConflistInput): Conflist {
  const routed = input.mode === 'routed';
  const ipam: Record<string, unknown> = { type: 'k8ts', podCIDR: input.podCIDR };
  if (input.ipamDataDir !== undefined) ipam['dataDir'] = input.ipamDataDir;
  const plugin: Record<string, unknown> = {
    type: 'k8ts-cni',
    mode: routed ? 'routed' : 'bridge',
    ...(routed ? {} : { bridge: input.bridge ?? 'cni0', hairpinMode: true }),
    mtu: input.mtu ?? 1500,
    ipam,
  };
  const plugins: Record<string, unknown>[] = [plugin];
  if (input.portmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return {
    cniVersion: '1.0.0',
    ...(input.portmap ? {} : { cniVersions: ['1.0.0', '1.1.0'] }),
    name: input.name ?? 'k8ts',
    plugins,
  };
}
